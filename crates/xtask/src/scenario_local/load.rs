//! One phase's load, run in-process with loadgen's own library (the same parser, runner and report
//! as `loadgen run`): a built-in profile or an inline one, its `${VAR}`s filled from the lab, its
//! schedule stretched to the phase's length and scaled to its peak rate.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use loadgen::driver::Drivers;
use loadgen::report::Report;
use loadgen::runner::{self, Mode, Plan};
use loadgen::schedule::{Arrivals, Segment};
use tokio_util::sync::CancellationToken;

use lab::local::plan::Plan as LabPlan;

/// What a phase runs.
#[derive(Debug, Clone)]
pub enum Load {
    /// `trigger.profile`: a built-in loadgen profile.
    Profile(String),
    /// `trigger.load` or `local.healthy`: an inline profile.
    Inline(serde_yaml::Value),
}

/// A request that takes longer than this is an `io:timeout` (loadgen's default is a minute; a
/// phase lasts seconds, and a blackholed edge must not hold a phase for a minute).
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// In-flight requests still running this long after the last arrival are abandoned.
const DRAIN: Duration = Duration::from_secs(20);

/// The next run's seed (runs in the same order give the same traffic).
static SEED: AtomicU64 = AtomicU64::new(1);

/// Runs `load` against the lab for `seconds`, its peak scaled to `rate` (if given).
pub async fn run(
    lab: &LabPlan,
    load: &Load,
    seconds: f64,
    rate: Option<f64>,
) -> anyhow::Result<Report> {
    let vars: BTreeMap<String, String> = lab
        .client_env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let scenario = match load {
        Load::Profile(name) => loadgen::scenario::Scenario::load(name, &vars)?,
        Load::Inline(value) => {
            loadgen::scenario::Scenario::parse(&serde_yaml::to_string(value)?, &vars)?
        }
    };
    let steps = scenario.steps()?;
    let schedule = scenario
        .schedule
        .clone()
        .reshaped(Some(Duration::from_secs_f64(seconds)), rate);
    if let Err(e) = schedule.validate() {
        bail!("scenario {}: {e}", scenario.name);
    }
    let plan = Plan {
        schedule,
        arrivals: scenario.arrivals.unwrap_or(Arrivals::Uniform),
        // A seed of its own per run: with one seed every phase would replay the warm-up's very
        // keys, and a warm cache would look perfect (0 misses) rather than warm.
        seed: SEED.fetch_add(1, Ordering::Relaxed),
        segment: Segment::WHOLE,
        mode: Mode::Open {
            max_in_flight: 10_000,
            workers: 64,
        },
        steps,
        drain: DRAIN,
    };
    let drivers = Drivers::new()
        .context("loadgen's clients")?
        .with_http_timeout(HTTP_TIMEOUT);
    drivers.warm_up(plan.steps.iter().map(|s| &s.request)).await;
    let result = runner::run(&plan, &drivers, &CancellationToken::new()).await;
    Ok(Report::new(
        &scenario.name,
        "open",
        plan.seed,
        &plan.steps,
        &result,
        &[],
    ))
}
