//! `lab scenario` (`just scenario`): list the catalog, print a scenario's plan, and — on the kind lab,
//! not implemented yet — carry it out. Every id is checked against the catalog before anything runs.
#![allow(clippy::print_stdout)]

use anyhow::{Result, bail};

use super::{CATALOG, find, load_all, plan};

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
    /// List the catalog: id, protocol, title.
    #[arg(long)]
    pub list: bool,
    /// Prove the trigger against a local lab of its own instead (its `local:` block: healthy, fault
    /// and recovery phases, effects measured from outside).
    #[arg(long, conflicts_with_all = ["assert", "dry_run"])]
    pub local: bool,
}

pub fn main(args: ScenarioArgs) -> Result<()> {
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
    if args.local {
        let run = super::local::main(scenarios);
        return tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(run));
    }
    for s in &scenarios {
        print!("{}", plan::render(s, args.assert));
    }
    if args.dry_run {
        return Ok(());
    }
    bail!(
        "running scenarios on the kind lab is not implemented yet (the plan above is what it will do; \
         {} scenarios in the catalog): use --dry-run, or carry the steps out by hand",
        CATALOG.len()
    )
}
