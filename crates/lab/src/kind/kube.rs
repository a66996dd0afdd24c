//! kubectl for the kind lab, in one place: the lab's context (never the user's current one),
//! server-side apply under the lab's field manager, and the waits — rollouts, Jobs, OBI Ready. `just
//! up`, `just load`, `lab scenario`, verify and xtask's bench-obi all go through it.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use anyhow::{Context, bail};

use super::CONTEXT;
use super::objects::{self, Object, Phase};
use crate::cmd::Cmd;

/// kubectl on the lab's context, never the user's current one.
pub fn kubectl() -> Cmd {
    Cmd::new("kubectl").args(["--context", CONTEXT])
}

/// How strict an apply is about what the API server says besides errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strict {
    /// `just up`: every warning is an error (a Pod Security "would violate" on a template in a
    /// `warn: restricted` namespace must stop the lab, not scroll past), and the lab's field manager
    /// takes over fields another manager set.
    WarningsAreErrors,
    /// A loadgen Job: a new object each time; warnings are printed.
    Plain,
}

/// `kubectl apply --server-side` of `yaml` (big dashboards overflow client-side apply's annotation)
/// with field manager `mop-lab`.
pub fn apply(kubectl: &Cmd, yaml: String, strict: Strict) -> anyhow::Result<()> {
    let mut cmd = kubectl.clone();
    if strict == Strict::WarningsAreErrors {
        cmd = cmd.arg("--warnings-as-errors");
    }
    cmd = cmd.args(["apply", "--server-side"]);
    if strict == Strict::WarningsAreErrors {
        cmd = cmd.arg("--force-conflicts");
    }
    cmd.args(["--field-manager", "mop-lab", "-f", "-"])
        .stdin(yaml)
        .run()
}

/// `kubectl rollout status` of `target` (`deployment/catalog`) in `namespace`, bounded by `timeout`.
pub fn rollout_status(namespace: &str, target: &str, timeout: &str) -> anyhow::Result<()> {
    kubectl()
        .args([
            "-n",
            namespace,
            "rollout",
            "status",
            target,
            "--timeout",
            timeout,
        ])
        .run()
}

/// Waits until Job `name` in `namespace` is complete, bounded by `timeout`.
pub fn wait_job_complete(namespace: &str, name: &str, timeout: &str) -> anyhow::Result<()> {
    kubectl()
        .args(["-n", namespace, "wait", "--for", "condition=complete"])
        .arg(format!("job/{name}"))
        .args(["--timeout", timeout])
        .run()
}

/// Applies one phase of `objects` the way `just up` does, with `kubectl` (the lab's context, or a test
/// server's): server-side (big dashboards overflow client-side apply's annotation), field manager
/// `mop-lab`, and every warning the API server sends an error — a Pod Security "would violate" on a
/// template in a `warn: restricted` namespace must stop the lab, not scroll past.
pub fn apply_phase(kubectl: &Cmd, objects: &[Object], phase: Phase) -> anyhow::Result<()> {
    let yaml = objects::phase_yaml(objects, phase)?;
    if yaml.is_empty() {
        println!("  nothing in this phase");
        return Ok(());
    }
    apply(kubectl, yaml, Strict::WarningsAreErrors)?;
    // Custom resources of the next phase need their CRDs established first.
    if phase == Phase::Foundation && objects.iter().any(|o| o.kind == "CustomResourceDefinition") {
        kubectl
            .clone()
            .args([
                "wait",
                "--for",
                "condition=Established",
                "crd",
                "--all",
                "--timeout",
                "60s",
            ])
            .run()?;
    }
    Ok(())
}

/// How often the OBI wait looks, and how long it waits at most.
const OBI_POLL: Duration = Duration::from_secs(5);
const OBI_TIMEOUT: Duration = Duration::from_secs(600);

/// Waits until the OBI DaemonSet is Ready (its readiness probe: OBI's health endpoint), failing at
/// once when an OBI pod crash-loops — on a kernel without BTF or kprobes OBI exits at start-up, and a
/// plain `rollout status` would sit out its ten minutes and say nothing — with the pod's last log
/// lines and where to look.
pub fn wait_obi() -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + OBI_TIMEOUT;
    loop {
        let ds = kubectl()
            .args(["-n", "obi", "get", "daemonset", "obi", "-o", "json"])
            .output()?;
        let ds: serde_json::Value = serde_json::from_str(&ds).context("daemonset/obi as JSON")?;
        if super::status::daemonset_ready(&ds) {
            return Ok(());
        }
        let pods = kubectl()
            .args([
                "-n",
                "obi",
                "get",
                "pods",
                "-l",
                "app.kubernetes.io/name=obi",
                "-o",
                "json",
            ])
            .output()?;
        let pods: serde_json::Value = serde_json::from_str(&pods).context("obi pods as JSON")?;
        if let Some(f) = super::status::failing(&pods) {
            let logs = |previous: bool| {
                let mut cmd = kubectl().args([
                    "-n",
                    "obi",
                    "logs",
                    f.pod.as_str(),
                    "-c",
                    f.container.as_str(),
                ]);
                cmd = cmd.args(["--tail", "30"]);
                if previous {
                    cmd = cmd.arg("--previous");
                }
                cmd.output()
            };
            let tail = logs(true).or_else(|_| logs(false)).unwrap_or_default();
            bail!(
                "OBI is not starting: pod obi/{} {}\nits last log lines:\n{}\nOBI needs BTF and kprobes on the kernel kind runs on (`just doctor` checks the engine's kernel); more: `just logs obi`",
                f.pod,
                f.why,
                tail.trim_end()
            );
        }
        if std::time::Instant::now() > deadline {
            bail!("daemonset obi/obi not Ready after {OBI_TIMEOUT:?} (`just status` says why)");
        }
        std::thread::sleep(OBI_POLL);
    }
}
