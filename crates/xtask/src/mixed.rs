//! The `mixed` profile beside a running lab: loadgen started as a process against the lab's ports,
//! its report and progress in files — the load soak and wire both measure under.

use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use lab::Lab;

/// Starts `loadgen run mixed` at `rate` for `duration` against `lab`, its output to `log`.
pub fn spawn_loadgen(
    lab: &Lab,
    bin_dir: &std::path::Path,
    rate: f64,
    duration: Duration,
    report: &std::path::Path,
    log: &std::path::Path,
) -> anyhow::Result<tokio::process::Child> {
    let progress = std::fs::File::create(log)?;
    tokio::process::Command::new(bin_dir.join("loadgen"))
        .args(["run", "mixed", "--rate", &rate.to_string(), "--duration"])
        .arg(format!("{}s", duration.as_secs()))
        .arg("--out")
        .arg(report)
        .envs(lab.plan.client_env())
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::from(progress.try_clone()?))
        .stderr(Stdio::from(progress))
        .kill_on_drop(true)
        .spawn()
        .context("start loadgen (cargo build --release --workspace --bins)")
}
