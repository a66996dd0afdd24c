//! `lab scenario ID --local` / `--all --local`: every scenario's trigger proven against the local lab.
//! One lab for the whole run (started with a relay on every edge the catalog cuts); per scenario a
//! healthy phase, the trigger's actions and the fault phase, the revert and a recovery phase — each
//! phase a shortened load with its effects measured from outside ([`probe`]). A check passes when it
//! holds in the fault phase and in neither of the others, so every check is shown to fail when its
//! fault is absent.
//!
//! Reading order: [`spec`] (the `local:` block), [`check`] (what it must satisfy), [`load`] (a phase's
//! load, in-process loadgen), [`actions`] (kubectl steps → local operations), [`probe`] (readings),
//! [`run`] (the phases), [`report`] (the lines printed).

pub mod actions;
pub mod check;
pub mod load;
pub mod probe;
pub mod report;
pub mod run;
pub mod spec;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use lab::local::plan::{Plan, Ports, sibling_bin_dir};
use lab::scenarios::Scenario;
use lab::{Lab, LabOptions};

pub use report::{CheckResult, ScenarioResult};

/// Starts one lab for `scenarios` (binaries from `bin_dir`, state in `state_dir`), runs each in turn,
/// stops the lab. A scenario that errors is reported as failed and the run goes on.
pub async fn run_all(
    scenarios: &[Scenario],
    bin_dir: PathBuf,
    state_dir: PathBuf,
    mut each: impl FnMut(&ScenarioResult),
) -> anyhow::Result<Vec<ScenarioResult>> {
    for s in scenarios {
        if s.local.is_none() {
            bail!("{}: no local: block", s.id);
        }
    }
    let edges = actions::edges(scenarios)?;
    let options = LabOptions {
        plan: Plan {
            ports: Ports::free()?,
            state_dir,
            bin_dir,
            env_overrides: run::LAB_ENV
                .iter()
                .map(|(s, k, v)| (*s, *k, (*v).to_owned()))
                .collect(),
        },
        seed_customers: 10_000,
        seed_orders: 100_000,
        ready_timeout: Duration::from_secs(90),
    };
    let mut lab = Lab::start_with_cuts(options, &edges)
        .await
        .context("the local lab did not start")?;
    let mut results = Vec::new();
    for s in scenarios {
        let r = run::scenario(&mut lab, s).await;
        each(&r);
        results.push(r);
    }
    lab.stop(Duration::from_secs(15));
    Ok(results)
}

/// The CLI: runs `scenarios` on a lab of their own, prints a report block per scenario, fails
/// unless every check passed.
#[allow(clippy::print_stdout)]
pub async fn main(scenarios: Vec<Scenario>) -> anyhow::Result<()> {
    let bin_dir = sibling_bin_dir(&std::env::current_exe()?)
        .context("cannot tell where the service binaries are")?;
    let state_dir = std::env::temp_dir().join(format!("mop-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&state_dir)?;
    println!(
        "scenarios on the local lab: {} scenario(s); binaries from {}, state and logs in {}",
        scenarios.len(),
        bin_dir.display(),
        state_dir.display()
    );
    let started = std::time::Instant::now();
    let results = run_all(&scenarios, bin_dir, state_dir, |r| print!("{}", r.render())).await?;
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| r.id.as_str())
        .collect();
    println!(
        "{} of {} scenarios proven locally in {:.0} s",
        results.len() - failed.len(),
        results.len(),
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        bail!("not proven locally: {}", failed.join(", "));
    }
    Ok(())
}
