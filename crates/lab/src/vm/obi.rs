//! `lab vm obi` (`just test-obi`, `just dev --obi --vm`): boots the VM and runs one recorded session
//! of the lab with OBI in it ([`super::session`]); prints the grid and the timings, tells where the
//! results are, and with `--record` refreshes the lab's reference recording
//! (crates/lab/recordings/obi-<version>/), which the fixture check and other tools read.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use super::{kernel, run, session};
use crate::Exit;

/// The recording's files (names other tools rely on).
pub const RECORDED: [&str; 5] = [
    session::METRICS,
    session::SPANS,
    session::REPORT,
    session::GRID,
    session::TIMINGS,
];

#[derive(Debug, Clone, clap::Args)]
pub struct ObiArgs {
    /// Fail unless every exercised grid row and span type was seen (`just test-obi`).
    #[arg(long)]
    pub check: bool,
    /// Copy the run into crates/lab/recordings/obi-<version>/ (the lab's reference data).
    #[arg(long)]
    pub record: bool,
    #[arg(long, default_value = "mixed")]
    pub profile: String,
    #[arg(long, default_value = "60s")]
    pub duration: String,
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// The whole run, boot included.
    #[arg(long, default_value = "14m", value_parser = common::args::parse_duration)]
    pub timeout: Duration,
    /// Results folder (default: a fresh one under target/vm).
    #[arg(long)]
    pub results: Option<PathBuf>,
}

impl ObiArgs {
    /// `lab dev --obi --vm`: one session to look at, nothing asserted or recorded.
    pub fn for_dev() -> Self {
        Self {
            check: false,
            record: false,
            profile: "mixed".into(),
            duration: "60s".into(),
            rate: 5.0,
            timeout: Duration::from_secs(14 * 60),
            results: None,
        }
    }
}

pub fn main(args: &ObiArgs, repo: &Path) -> anyhow::Result<()> {
    run::check_tools()?;
    let version = crate::obi::build::pinned_version(repo)?;
    let cached = crate::obi::build::binary_path(&crate::obi::build::cache_root()?, &version);
    let other = std::env::var_os("LAB_OBI_BIN");
    if args.record && other.is_some() {
        bail!(
            "--record keeps the pinned OBI {version}'s output only: unset LAB_OBI_BIN (another build's \
             output would be filed under the pinned version)"
        );
    }
    let obi = other.map_or(cached, PathBuf::from);
    if !obi.is_file() {
        bail!(
            "OBI {version} is not built ({} is missing): run `just obi-build` first",
            obi.display()
        );
    }
    let exe = std::env::current_exe()?;
    let kernel = kernel::ensure(&kernel::vm_cache()?)?;
    let results = match &args.results {
        Some(dir) => std::env::current_dir()?.join(dir),
        None => run::results_dir(&repo.join("target/vm"), "obi"),
    };
    let mut command = format!(
        "{} vm session --results {} --profile {} --duration {} --rate {}",
        run::shell_quote(&exe.display().to_string()),
        run::shell_quote(&results.display().to_string()),
        run::shell_quote(&args.profile),
        run::shell_quote(&args.duration),
        args.rate
    );
    if args.check {
        command.push_str(" --check");
    }
    eprintln!(
        "vm: booting Debian's {} under TCG (no KVM), then the lab with OBI {version} inside; results in {}",
        kernel.release,
        results.display()
    );
    let mut vm = run::VmRun::new(kernel.clone(), results.clone(), command, args.timeout);
    vm.cwd = repo.to_path_buf();
    let out = vm.run()?;
    let timings = std::fs::read_to_string(results.join(session::TIMINGS)).unwrap_or_default();
    eprintln!(
        "vm: guest up after {:.0} s; in the guest (s after the session started): {}; {:.0} s in all",
        out.boot.as_secs_f64(),
        timings.split_whitespace().collect::<Vec<_>>().join(" "),
        out.total.as_secs_f64()
    );
    if out.exit_code != 0 {
        eprintln!(
            "vm: the session failed (exit code {}); its log is {} (the lab's: lab-up.log, OBI's tail quoted there)",
            out.exit_code,
            results.join(run::OUTPUT).display()
        );
        return Err(Exit(out.exit_code).into());
    }
    eprintln!(
        "vm: results (files: the guest's ports are gone with it) in {}:\n  {} — grid and span table\n  \
         {} — OBI's scrapes (promtool tsdb create-blocks-from openmetrics)\n  {} — sampled spans\n  \
         {} — loadgen's report; lab-up.log, loadgen.log, output.log, console.log",
        results.display(),
        session::GRID,
        session::METRICS,
        session::SPANS,
        session::REPORT
    );
    if args.record {
        let dir = record(repo, &results, &version, &kernel.release, args)?;
        eprintln!("vm: recording written to {}", dir.display());
    }
    Ok(())
}

/// Copies the run's files into the recording folder and writes its README header.
fn record(
    repo: &Path,
    results: &Path,
    version: &str,
    kernel: &str,
    args: &ObiArgs,
) -> anyhow::Result<PathBuf> {
    let dir = repo
        .join("crates/lab/recordings")
        .join(format!("obi-{version}"));
    std::fs::create_dir_all(&dir)?;
    for f in RECORDED {
        std::fs::copy(results.join(f), dir.join(f))
            .with_context(|| format!("copying {f} into {}", dir.display()))?;
    }
    let date = crate::cmd::Cmd::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()?;
    let mut readme = String::new();
    let _ = writeln!(
        readme,
        "# OBI {version} watching the local lab — a real recording\n\n\
         | | |\n|---|---|\n| OBI | {version} (built from its Go module, `just obi-build`) |\n\
         | kernel | Debian 13 `{kernel}` in a qemu TCG guest (virtme-ng) |\n| date | {} |\n\
         | command | `just test-obi --record` (`lab vm obi --check --record --profile {} --duration {} --rate {}`) |\n",
        date.trim(),
        args.profile,
        args.duration,
        args.rate
    );
    readme.push_str(
        "\nThe lab's reference data for what OBI really publishes: the OBI-shaped fixture\n\
         (crates/xtask/src/tidy/dashboards/fixture/) is checked against these files\n\
         (`cargo test -p lab --test it recording`).\n\n\
         - `metrics.om` — OBI's Prometheus endpoint (`/metrics` and `/internal/metrics`) scraped every\n\
         \x20 15 s over the run, with timestamps; `promtool tsdb create-blocks-from openmetrics metrics.om DIR`\n\
         \x20 loads it into a Prometheus.\n\
         - `spans.jsonl` — OBI's JSON trace printer, at most 3 spans per (type, kind, port, method, route,\n\
         \x20 operation, topic, status).\n\
         - `loadgen-report.json` — loadgen's own counts of the run.\n\
         - `grid.txt` — verify's grid against this run, the completeness table, the span types.\n\
         - `timings.json` — seconds after the guest session started: OBI attached, lab ready, load done.\n",
    );
    std::fs::write(dir.join("README.md"), readme)?;
    Ok(dir)
}
