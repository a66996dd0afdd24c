//! `lab bench-obi` (`just bench-obi`): what OBI costs the services, measured on the kind lab — the
//! same fixed-rate loadgen run twice, first with OBI's DaemonSet scaled out (a nodeSelector no node
//! has), then with it back (and the apps restarted so OBI sees their connections from the start, as
//! `just up` arranges), each workload's CPU from the kubelet and the latency from loadgen's report.
//!
//! Why the kubelet's Summary API for CPU: the lab's Prometheus scrapes OBI and the exporters, not
//! cAdvisor; `kubectl top` needs metrics-server, which the lab does not run; the images are
//! distroless (no shell to read /sys/fs/cgroup through `kubectl exec`). The Summary API is served by
//! every kubelet and reached through the API server's node proxy with the kind kubeconfig — nothing
//! to install. Its counters are cumulative per container, so two snapshots give the CPU of the run.
//! Reading order: [`compare`] (snapshots, cores, the table), then [`main`].
#![allow(clippy::print_stdout)]

pub mod compare;

use std::time::{Duration, Instant};

use anyhow::Context;

use compare::{LoadReport, Measured, Snapshot};
use lab::cmd::wait_until;
use lab::kind::job::now_s;
use lab::kind::kubectl;
use lab::kind::{APPS_NAMESPACE, Paths};
use lab::verify::kind::{Quiet, run_load};

/// The label no node carries: OBI's pods have nowhere to run while it is set.
const OFF_LABEL: &str = "mop.dev/bench-obi-off";

#[derive(Debug, Clone, clap::Args)]
pub struct BenchObiArgs {
    /// Loadgen profile of both runs (a fixed-rate one: `constant` holds one rate throughout).
    #[arg(long, default_value = "constant")]
    pub profile: String,
    /// Arrivals per second in both runs.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Length of each run.
    #[arg(long, default_value = "60s")]
    pub duration: String,
}

pub fn main(args: &BenchObiArgs, paths: &Paths) -> anyhow::Result<()> {
    let load_args = vec![
        "--duration".to_owned(),
        args.duration.clone(),
        "--rate".to_owned(),
        args.rate.to_string(),
    ];
    let _quiet = Quiet::start()?;
    println!("bench-obi: 1/2 without OBI (DaemonSet scaled out)");
    obi(false)?;
    let without = measure(paths, &args.profile, &load_args);
    // OBI comes back whatever happened, so the lab is left as `just up` made it.
    println!("bench-obi: OBI back, apps restarted so it sees their connections from the start");
    obi(true)?;
    restart_apps()?;
    let without = without?;
    println!("bench-obi: 2/2 with OBI");
    let with = measure(paths, &args.profile, &load_args)?;
    println!(
        "\nbench-obi: `loadgen run {} --rate {} --duration {}`, without and with OBI v0.14.0\n",
        args.profile, args.rate, args.duration
    );
    print!("{}", compare::render(&without, &with));
    Ok(())
}

/// Turns OBI's DaemonSet off (a nodeSelector no node matches) or back on, and waits for it.
fn obi(on: bool) -> anyhow::Result<()> {
    let value = if on {
        "null".to_owned()
    } else {
        "\"true\"".to_owned()
    };
    kubectl()
        .args(["-n", "obi", "patch", "daemonset", "obi", "--type", "merge", "-p"])
        .arg(format!(
            "{{\"spec\":{{\"template\":{{\"spec\":{{\"nodeSelector\":{{\"{OFF_LABEL}\":{value}}}}}}}}}}}"
        ))
        .run()?;
    if on {
        // The lab's own OBI wait: fails at once, with OBI's log, when OBI crash-loops.
        return lab::kind::kube::wait_obi();
    }
    wait_until(
        "OBI's pods gone",
        Duration::from_secs(300),
        Duration::from_secs(2),
        || {
            let out = kubectl()
                .args([
                    "-n",
                    "obi",
                    "get",
                    "pods",
                    "-o",
                    "name",
                    "-l",
                    "app.kubernetes.io/name=obi",
                ])
                .output()?;
            Ok(out.trim().is_empty())
        },
    )
}

/// Restarts the services (not the backends: a restarted broker or database would only add noise).
fn restart_apps() -> anyhow::Result<()> {
    let apps: Vec<String> = compare::WORKLOADS
        .iter()
        .filter(|w| **w != "loadgen")
        .map(|w| format!("deployment/{w}"))
        .collect();
    kubectl()
        .args(["-n", APPS_NAMESPACE, "rollout", "restart"])
        .args(&apps)
        .run()?;
    for d in &apps {
        lab::kind::kube::rollout_status(APPS_NAMESPACE, d, "300s")?;
    }
    Ok(())
}

/// Every node's Summary API answer, added up.
fn snapshot() -> anyhow::Result<Snapshot> {
    let nodes = kubectl().args(["get", "nodes", "-o", "name"]).output()?;
    let mut s = Snapshot::default();
    for node in nodes.lines() {
        let name = node.trim_start_matches("node/");
        let json = kubectl()
            .args(["get", "--raw"])
            .arg(format!("/api/v1/nodes/{name}/proxy/stats/summary"))
            .output()
            .with_context(|| format!("the kubelet's Summary API on {name}"))?;
        s.add_summary(&json)?;
    }
    Ok(s)
}

fn measure(paths: &Paths, profile: &str, args: &[String]) -> anyhow::Result<Measured> {
    let before = snapshot()?;
    let started = Instant::now();
    let t0 = now_s();
    let run = run_load(paths, profile, args)?;
    let after = snapshot()?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(run.exit_code == 0, "loadgen exited {}", run.exit_code);
    let report: LoadReport =
        serde_json::from_str(&run.report_json).context("loadgen's JSON report")?;
    println!(
        "  {:.0} s (run {:.1} s of it, from {t0:.0}): {} requests",
        seconds, report.elapsed_s, report.total.completed
    );
    Ok(Measured {
        cores: compare::cores(&before, &after, seconds)?,
        memory: after.memory,
        report,
    })
}
