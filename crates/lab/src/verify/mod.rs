//! `lab verify` (`just verify`): proves telemetry arrived for every protocol of the kind lab, as a
//! grid protocol × signal — HTTP routes, gRPC methods, SQL operations, Redis commands, Kafka topics
//! sent and processed, service-graph edges, traces in Tempo per service — each ✔, ✘, *expected gap*
//! (crates/lab/visibility.yaml) or not exercised; then **completeness**: a loadgen run of its own, and
//! OBI's count of each route/method/operation over the run's window ÷ loadgen's completed requests.
//!
//! Reading order: [`visibility`] (the matrix as data), [`expected`] (the rows, from [`sources`] — OpenAPI, proto —
//! and the services' code), [`steps`] (a scenario's steps → rows exercised and counters), [`grid`],
//! [`completeness`], [`tempo`] (search parsing), [`kind`] (the measured run in the cluster),
//! [`crate::prom`] (Prometheus' query API).
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod completeness;
pub mod expected;
pub mod grid;
pub mod kind;
pub mod sources;
pub mod steps;
pub mod tempo;
pub mod visibility;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

/// Prometheus scrapes OBI every 15 s (components/observability/config/prometheus.yml): after the run,
/// two scrapes and OBI's own export interval must pass before its last requests are in Prometheus.
pub const SCRAPE_MARGIN: Duration = Duration::from_secs(35);

#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Prometheus (the kind lab publishes it on the host).
    #[arg(long, default_value = "http://127.0.0.1:9090")]
    pub prometheus: String,
    /// Tempo's HTTP API; `--tempo ''` skips the trace rows.
    #[arg(long, default_value = "http://127.0.0.1:3200")]
    pub tempo: String,
    /// The loadgen profile (or scenario file) of the measured run; also what counts as exercised.
    #[arg(long, default_value = "mixed")]
    pub profile: String,
    /// Duration of the measured run.
    #[arg(long, default_value = "60s")]
    pub duration: String,
    /// Grid only: no load run, no completeness (rows count as exercised by `--profile`).
    #[arg(long)]
    pub no_load: bool,
    /// Completeness of a run made elsewhere: its JSON report (`loadgen … --out FILE`), with --from/--to.
    #[arg(long, requires_all = ["from", "to"])]
    pub report: Option<PathBuf>,
    /// Window start (Unix seconds) of --report's run.
    #[arg(long)]
    pub from: Option<f64>,
    /// Window end (Unix seconds, after the last scrape) of --report's run.
    #[arg(long)]
    pub to: Option<f64>,
    /// Accepted |OBI ÷ loadgen − 1| per counter (0.01 = within 1 %).
    #[arg(long, default_value_t = 0.01)]
    pub tolerance: f64,
    /// The window a grid row's traffic must fall in.
    #[arg(long, default_value = expected::DEFAULT_WINDOW)]
    pub window: String,
    /// Folder with the service binaries, for their OpenAPI documents (default: next to `lab`).
    #[arg(long, env = "LAB_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
}

pub async fn main(args: VerifyArgs, repo: PathBuf) -> anyhow::Result<()> {
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => crate::local::plan::sibling_bin_dir(&std::env::current_exe()?)
            .context("cannot tell where the service binaries are; pass --bin-dir")?,
    };
    crate::prom::query_value(&args.prometheus, "vector(1)")
        .await
        .with_context(|| {
            format!(
                "Prometheus at {} does not answer: is the kind lab up (`just up`, `just status`)?",
                args.prometheus
            )
        })?;
    let sources = expected::Sources::read(&bin_dir, &repo)?;
    let matrix = visibility::Matrix::load()?;
    let scenario = loadgen::scenario::Scenario::load(&args.profile, &steps::variables())?;
    let mapped = steps::map(&scenario, &sources)?;

    // The measured run first, so the grid's window holds its traffic too.
    let measured = if let Some(path) = &args.report {
        let json =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let window = completeness::Window {
            start: args.from.unwrap_or_default(),
            end: args.to.unwrap_or_default(),
        };
        Some((json, window))
    } else if args.no_load {
        None
    } else {
        let paths = crate::kind::Paths::from_env(&repo);
        println!(
            "lab verify: background load paused; running `loadgen run {} --duration {}` in the cluster …",
            args.profile, args.duration
        );
        let (run, end) = {
            let _quiet = kind::Quiet::start()?;
            let run = kind::run_load(
                &paths,
                &args.profile,
                &["--duration".to_owned(), args.duration.clone()],
            )?;
            println!(
                "lab verify: loadgen exited {}; waiting {} s for the last scrape …",
                run.exit_code,
                SCRAPE_MARGIN.as_secs()
            );
            tokio::time::sleep(SCRAPE_MARGIN).await;
            // The window ends before the background load is resumed.
            (run, crate::kind::job::now_s())
        };
        let window = completeness::Window {
            start: run.start,
            end,
        };
        Some((run.report_json, window))
    };

    let items = expected::items(&sources, &args.window);
    let exercised: BTreeSet<String> = mapped.iter().flat_map(|m| m.exercised.clone()).collect();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let now = crate::kind::job::now_s() as u64;
    let backends = grid::Backends {
        prometheus: args.prometheus.clone(),
        tempo: (!args.tempo.is_empty()).then(|| args.tempo.clone()),
        since: now.saturating_sub(window_seconds(&args.window)?),
        until: now,
    };
    let rows = grid::check(&items, &exercised, &matrix, &backends).await?;
    println!("{}", grid::render(&rows));
    let mut ok = grid::passed(&rows);

    if let Some((json, window)) = measured {
        let report = completeness::Report::parse(&json)?;
        let rows =
            completeness::check(&args.prometheus, &report, &mapped, window, args.tolerance).await?;
        println!("{}", completeness::render(&rows, &report, window));
        ok &= completeness::passed(&rows);
    }
    anyhow::ensure!(
        ok,
        "verify failed: a ✘ above (missing telemetry, or OBI's count off by more than {:.1} %)",
        args.tolerance * 100.0
    );
    println!("lab verify: every exercised row seen; gaps as the visibility matrix expects.");
    Ok(())
}

fn window_seconds(window: &str) -> anyhow::Result<u64> {
    Ok(common::args::parse_duration(window)
        .map_err(|e| anyhow::anyhow!("--window {window}: {e}"))?
        .as_secs())
}
