//! `lab scenario` (`just scenario`): list the catalog, print a scenario's plan, and carry it out on
//! the kind lab (`ID`, or `--all` one after the other), printing a report per scenario and exiting
//! non-zero when any step fails. Every id is checked against the catalog before anything runs.
#![allow(clippy::print_stdout)]

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use tokio_util::sync::CancellationToken;

use super::{find, load_all, ops, plan, report, run};

/// Troubleshooting scenarios on the kind lab: inject a fault, wait for its signal, revert, recover.
#[derive(Debug, clap::Args)]
pub struct ScenarioArgs {
    /// The scenario's id (`lab scenario --list` names them).
    #[arg(required_unless_present_any = ["all", "list"], conflicts_with = "all")]
    pub id: Option<String>,
    /// Every scenario of the catalog, one after the other.
    #[arg(long)]
    pub all: bool,
    /// Assert the signal and the recovery (exit non-zero if either does not show in time).
    #[arg(long)]
    pub assert: bool,
    /// Print the plan without touching the cluster.
    #[arg(long)]
    pub dry_run: bool,
    /// The kind lab's Prometheus (published on the host by `just up`).
    #[arg(long, env = "LAB_PROMETHEUS", default_value = run::PROMETHEUS)]
    pub prometheus: String,
    /// List the catalog: id, protocol, title.
    #[arg(long)]
    pub list: bool,
}

pub async fn main(args: ScenarioArgs) -> Result<()> {
    if args.list {
        for s in load_all()? {
            println!(
                "{:<24} {:<6} {}",
                s.id,
                format!("{:?}", s.protocol).to_lowercase(),
                s.title
            );
        }
        return Ok(());
    }
    let scenarios = match &args.id {
        Some(id) => vec![find(id)?],
        None => load_all()?,
    };
    for s in &scenarios {
        print!("{}", plan::render(s, args.assert));
    }
    if args.dry_run {
        return Ok(());
    }
    let lab = ops::Lab::from_repo(&crate::project_root()?)?;
    // Every scenario's operations first: a cut the evaluator rejects stops the run before any change.
    let suffix = SystemTime::now()
        .duration_since(UNIX_EPOCH)?
        .as_secs()
        .to_string();
    let ops = scenarios
        .iter()
        .map(|s| ops::ops(s, &lab, &suffix).with_context(|| format!("scenario {}", s.id)))
        .collect::<Result<Vec<_>>>()?;
    preflight(&args.prometheus).await?;

    let stop = CancellationToken::new();
    let on_ctrl_c = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("lab: Ctrl-C — reverting (kubectl may take a few seconds)");
            on_ctrl_c.cancel();
        }
    });
    let opts = run::Options {
        assert: args.assert,
        poll: crate::prom::Poll::live(&args.prometheus),
    };
    let mut reports = Vec::new();
    for (s, ops) in scenarios.iter().zip(&ops) {
        let r = run::run(s, ops, &mut run::Kubectl, &opts, &stop).await;
        print!("{}", r.render());
        reports.push(r);
        if stop.is_cancelled() {
            break;
        }
    }
    if scenarios.len() > 1 {
        print!("{}", report::summary(&reports));
    }
    let failed = reports.iter().filter(|r| !r.passed()).count();
    if failed > 0 || reports.len() < scenarios.len() {
        bail!(
            "{failed} of {} scenario(s) failed{}",
            reports.len(),
            if stop.is_cancelled() {
                " (interrupted)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// A kind lab to run against: its kubectl context answers and its Prometheus does; else say how to get one.
async fn preflight(prometheus: &str) -> Result<()> {
    ops::KubeOp {
        what: "the kind lab".into(),
        args: ["-n", "mop", "get", "deployments", "-o", "name"]
            .map(String::from)
            .to_vec(),
        stdin: None,
    }
    .cmd()
    .output()
    .context(
        "no kind lab to run scenarios on (`just up` creates it; `--dry-run` prints the plan)",
    )?;
    crate::prom::query_value(prometheus, "vector(1)")
        .await
        .with_context(|| format!("the kind lab's Prometheus at {prometheus} (`just status`)"))?;
    Ok(())
}
