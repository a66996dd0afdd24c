//! `loadgen` binary: parse, prepare a plan, run it with periodic progress, print and save the report.
//! Exit codes: 0 ok, 1 error, 3 a scenario threshold was breached.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use loadgen::{cli, driver, report, run_cli};

// jemalloc, as oha uses: the closed model allocates a little per request on several threads, and
// glibc's arenas showed up as lock contention in the profile (see docs/benchmarks.md, loadgen).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Humans get pretty progress lines; pods set LOG_FORMAT=json like every other MOP binary.
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json");
    common::logging::init(if json {
        common::args::LogFormat::Json
    } else {
        common::args::LogFormat::Pretty
    });
    let prepared = cli::Cli::parse().command.prepare()?;
    let cancel = common::shutdown::on_signal().context("installing signal handlers")?;
    let drivers = driver::Drivers::new()?;
    drivers
        .warm_up(prepared.plan.steps.iter().map(|s| &s.request))
        .await;
    let report: report::Report = run_cli::run(
        &prepared,
        &drivers,
        Arc::new(cancel),
        run_cli::Live::detect(),
    )
    .await?;
    #[allow(clippy::print_stdout)]
    {
        print!("{}", report.table());
    }
    if let Some(path) = &prepared.out {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &prepared.plot {
        std::fs::write(path, loadgen::plot::svg(&report))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if !report.passed() {
        std::process::exit(3);
    }
    Ok(())
}
