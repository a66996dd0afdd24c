//! `just soak`: the whole local lab under the `mixed` profile for minutes, every service's memory
//! and file descriptors sampled from `/proc`, judged on three goals — no unexpected errors, no dropped
//! arrivals, and < 10 % RSS growth between the first and the last minute at full rate. A benchmark,
//! not a test: it takes ten minutes by default and its figures go to docs/quality.md.

pub mod probe;
pub mod sample;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use lab::local::plan::{Plan, Ports};
use lab::local::supervisor::{Lab, LabOptions};
use sample::{Growth, Reading};

/// The mixed profile ramps for its first 10 s of 60 (crates/loadgen/profiles/mixed.yaml), stretched
/// with `--duration`: growth is measured from the first minute *after* that ramp, so lower rates
/// during the ramp are not mistaken for growth.
const MIXED_RAMP_FRACTION: f64 = 10.0 / 60.0;
/// The goal for RSS growth, first minute → last minute.
pub const MAX_GROWTH_PERCENT: f64 = 10.0;

#[derive(Debug, Clone)]
pub struct SoakOptions {
    pub duration: Duration,
    /// Peak arrivals per second of the mixed profile (half of what the lab sustains here).
    pub rate: f64,
    /// Time between two samples.
    pub every: Duration,
    /// Length of the first and last windows compared for growth.
    pub window: Duration,
    pub bin_dir: PathBuf,
    /// Where the lab's state, logs and the run's reports go (kept after the run).
    pub state_dir: PathBuf,
}

/// What one service did over the run.
#[derive(Debug, Clone)]
pub struct ServiceResult {
    pub name: &'static str,
    pub growth: Option<Growth>,
    pub readings: Vec<Reading>,
    /// Exit status after SIGTERM at the end (`None`: it had to be killed).
    pub exit_ok: bool,
}

#[derive(Debug, Clone)]
pub struct SoakReport {
    pub rate: f64,
    pub duration: Duration,
    pub planned: u64,
    pub completed: u64,
    pub unexpected: u64,
    pub dropped: u64,
    pub loadgen_ok: bool,
    pub services: Vec<ServiceResult>,
}

impl SoakReport {
    /// Every goal met: zero unexpected errors, zero dropped, growth under the goal for every
    /// service, every service exited 0.
    pub fn passed(&self) -> bool {
        self.unexpected == 0
            && self.dropped == 0
            && self.services.iter().all(|s| {
                s.exit_ok
                    && s.growth
                        .as_ref()
                        .is_some_and(|g| g.rss_percent < MAX_GROWTH_PERCENT)
            })
    }

    /// The table `just soak` prints (and docs/quality.md quotes).
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "soak: mixed at {} req/s peak for {} s — planned {}, completed {}, unexpected errors {}, dropped {}",
            self.rate,
            self.duration.as_secs(),
            self.planned,
            self.completed,
            self.unexpected,
            self.dropped
        );
        let _ = writeln!(
            out,
            "{:<32} {:>9} {:>10} {:>10} {:>10} {:>8} {:>8} {:>6}",
            "service", "samples", "first MiB", "last MiB", "peak MiB", "growth", "fds", "exit"
        );
        for s in &self.services {
            let mib = |kib: f64| kib / 1024.0;
            match &s.growth {
                Some(g) => {
                    #[allow(clippy::cast_precision_loss)]
                    let peak = mib(g.peak_rss_kib as f64);
                    let _ = writeln!(
                        out,
                        "{:<32} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>7.1}% {:>3.0}→{:<4.0} {:>6}",
                        s.name,
                        s.readings.len(),
                        mib(g.first_rss_kib),
                        mib(g.last_rss_kib),
                        peak,
                        g.rss_percent,
                        g.first_fds,
                        g.last_fds,
                        if s.exit_ok { "0" } else { "FAIL" }
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "{:<32} {:>9} (run too short for two windows)",
                        s.name,
                        s.readings.len()
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "{}",
            if self.passed() {
                "soak: PASSED"
            } else {
                "soak: FAILED"
            }
        );
        out
    }
}

/// Starts a lab on free ports in `state_dir`, runs `loadgen run mixed` against it while sampling
/// every service, stops the lab, and reports.
pub async fn run(options: SoakOptions) -> anyhow::Result<SoakReport> {
    let lab = start_lab(&options.bin_dir, &options.state_dir).await?;

    let report_path = options.state_dir.join("soak-loadgen.json");
    let mut loadgen = crate::mixed::spawn_loadgen(
        &lab,
        &options.bin_dir,
        options.rate,
        options.duration,
        &report_path,
        &options.state_dir.join("soak-loadgen.log"),
    )?;

    let pids: Vec<(&'static str, u32)> = lab
        .services()
        .iter()
        .map(|s| (s.spec.name, s.pid()))
        .collect();
    let mut readings: Vec<Vec<Reading>> = vec![Vec::new(); pids.len()];
    let started = Instant::now();
    // Bounded: the run's own length plus a minute for loadgen's drain and report.
    let deadline = started + options.duration + Duration::from_secs(60);
    let proc = std::path::Path::new("/proc");
    let status = loop {
        for ((_, pid), rs) in pids.iter().zip(readings.iter_mut()) {
            if let Some(r) = sample::read(proc, *pid, started.elapsed()) {
                rs.push(r);
            }
        }
        if let Some((name, status)) = lab.exited().into_iter().next() {
            bail!(
                "{name} exited during the soak ({status}); its log is in {}",
                lab.plan.logs_dir().display()
            );
        }
        tokio::select! {
            status = loadgen.wait() => break status?,
            () = tokio::time::sleep(options.every) => {}
        }
        if Instant::now() > deadline {
            let _ = loadgen.kill().await;
            bail!("loadgen did not finish within its duration + 60 s");
        }
    };

    let exits = lab.stop(Duration::from_secs(15));
    let report: Value = serde_json::from_slice(
        &std::fs::read(&report_path)
            .with_context(|| format!("loadgen wrote no report ({status})"))?,
    )?;
    let total = &report["total"];
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let sum = |v: &Value| v.as_object().map_or(0, |m| m.values().map(n).sum());

    // Growth windows start after the profile's ramp.
    let ramp = options.duration.mul_f64(MIXED_RAMP_FRACTION);
    let services = pids
        .iter()
        .zip(readings)
        .map(|((name, _), rs)| {
            let steady: Vec<Reading> = rs.iter().copied().filter(|r| r.at >= ramp).collect();
            ServiceResult {
                name,
                growth: sample::growth(&steady, options.window),
                readings: rs,
                exit_ok: exits
                    .iter()
                    .any(|(n, s)| n == name && s.is_some_and(|s| s.success())),
            }
        })
        .collect();
    Ok(SoakReport {
        rate: options.rate,
        duration: options.duration,
        planned: n(&total["planned"]),
        completed: n(&total["completed"]),
        unexpected: sum(&total["unexpected_errors"]),
        dropped: n(&total["dropped"]),
        loadgen_ok: status.success(),
        services,
    })
}

/// Starts a lab on free ports in `state_dir` from the binaries in `bin_dir`.
pub(crate) async fn start_lab(
    bin_dir: &std::path::Path,
    state_dir: &std::path::Path,
) -> anyhow::Result<Lab> {
    Lab::start(LabOptions {
        plan: Plan {
            ports: Ports::free()?,
            state_dir: state_dir.to_owned(),
            bin_dir: bin_dir.to_owned(),
            env_overrides: Vec::new(),
        },
        seed_customers: 10_000,
        seed_orders: 100_000,
        ready_timeout: Duration::from_secs(60),
    })
    .await
    .context("the lab did not start")
}

/// `lab soak`'s flags.
#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// Length of the run, in minutes.
    #[arg(long, default_value_t = 10)]
    pub minutes: u64,
    /// Peak arrivals per second of the mixed profile: half of what the lab sustained on the 2-core
    /// build machine (1600/s, `--probe-rates`; docs/quality.md). Probe your own machine first.
    #[arg(long, default_value_t = 800.0)]
    pub rate: f64,
    /// Seconds between two samples of every service.
    #[arg(long, default_value_t = 5)]
    pub every: u64,
    /// Folder with the service binaries (default: next to this `lab` binary).
    #[arg(long, env = "LAB_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Instead of soaking: find the rate the lab sustains — 30 s of `mixed` at each of these peak
    /// rates (comma-separated) against one lab, one table row each.
    #[arg(long, value_delimiter = ',')]
    pub probe_rates: Vec<f64>,
}

/// `lab soak`: runs, prints the table, writes the samples as JSON, fails when a goal is missed.
#[allow(clippy::print_stdout)]
pub async fn main(args: SoakArgs, state_dir: PathBuf) -> anyhow::Result<()> {
    let bin_dir = match args.bin_dir {
        Some(dir) => dir,
        None => lab::local::plan::sibling_bin_dir(&std::env::current_exe()?)
            .context("cannot tell where the service binaries are; pass --bin-dir")?,
    };
    let state_dir = state_dir.join(format!("soak-{}", std::process::id()));
    std::fs::create_dir_all(&state_dir)?;
    if !args.probe_rates.is_empty() {
        let rows = probe::run(
            &bin_dir,
            &state_dir,
            &args.probe_rates,
            Duration::from_secs(30),
        )
        .await?;
        print!("{}", probe::table(&rows));
        return Ok(());
    }
    println!(
        "soak: mixed at {} req/s for {} min, sampling every {} s; state in {}",
        args.rate,
        args.minutes,
        args.every,
        state_dir.display()
    );
    let report = run(SoakOptions {
        duration: Duration::from_secs(args.minutes * 60),
        rate: args.rate,
        every: Duration::from_secs(args.every),
        window: Duration::from_secs(60),
        bin_dir,
        state_dir: state_dir.clone(),
    })
    .await?;
    let samples: Vec<Value> = report
        .services
        .iter()
        .map(|s| {
            let rows: Vec<Value> = s
                .readings
                .iter()
                .map(|r| serde_json::json!([r.at.as_secs_f64(), r.rss_kib, r.fds]))
                .collect();
            serde_json::json!({ "service": s.name, "columns": ["seconds", "rss_kib", "fds"], "samples": rows })
        })
        .collect();
    let file = state_dir.join("soak-samples.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&samples)?)?;
    print!("{}", report.table());
    println!("samples: {}", file.display());
    if !report.passed() {
        bail!("the soak missed a goal (see the table)");
    }
    Ok(())
}
