//! A loadgen Job on the kind lab, made from the Job template like every other ([`super::load`]):
//! applied, watched until its pod starts, then until it exits. `just load` streams its log; `lab
//! verify` and `lab bench-obi` read loadgen's JSON report back out of it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use super::load::{self, PodState, Profile};
use super::{APPS_NAMESPACE, kubectl};
use crate::cmd::wait_until;

/// Seconds since the Unix epoch, as Prometheus and Tempo take them.
pub fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A loadgen Job the lab applied.
pub struct Job {
    pub name: String,
}

impl Job {
    /// Applies `loadgen run PROFILE ARGS…` as a Job named after the profile and the current time.
    pub fn apply(template: &str, profile: &str, args: &[String]) -> anyhow::Result<Self> {
        let profile = Profile::from_arg(profile)?;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let name = load::job_name(&profile, &(now_s() as u64).to_string());
        let yaml = load::objects(template, &name, &profile, args)?;
        super::kube::apply(&kubectl(), yaml, super::kube::Strict::Plain)?;
        Ok(Self { name })
    }

    /// The state of the Job's pod.
    pub fn state(&self) -> anyhow::Result<PodState> {
        let out = kubectl()
            .args(["-n", APPS_NAMESPACE, "get", "pods", "-o", "json", "-l"])
            .arg(format!("batch.kubernetes.io/job-name={}", self.name))
            .output()?;
        Ok(load::pod_state(&serde_json::from_str(&out)?))
    }

    /// Waits until the pod has left Pending, calling `progress` with each new pending reason; a
    /// pod that cannot start (an image missing from the node…) is an error at once.
    pub fn wait_started(&self, mut progress: impl FnMut(&str)) -> anyhow::Result<()> {
        let mut last = String::new();
        wait_until(
            &format!("job/{} starting", self.name),
            Duration::from_secs(300),
            Duration::from_secs(1),
            || match self.state()? {
                PodState::Pending(reason) if load::is_stuck(&reason) => bail!(
                    "job/{}: {reason} (was mop/loadgen:lab loaded by `just up`?)",
                    self.name
                ),
                PodState::Pending(reason) => {
                    if reason != last {
                        progress(&reason);
                        last = reason;
                    }
                    Ok(false)
                }
                _ => Ok(true),
            },
        )
    }

    /// Waits for the container's exit code, for at most `timeout` (the Job's own
    /// activeDeadlineSeconds bounds the run too).
    pub fn wait_exited(&self, timeout: Duration) -> anyhow::Result<i32> {
        let mut code = None;
        wait_until(
            &format!("job/{} exit code", self.name),
            timeout,
            Duration::from_secs(2),
            || {
                if let PodState::Exited(c) = self.state()? {
                    code = Some(c);
                }
                Ok(code.is_some())
            },
        )?;
        Ok(code.unwrap_or(1))
    }

    /// Streams the log to the terminal until the container exits.
    pub fn follow(&self) -> anyhow::Result<()> {
        kubectl()
            .args([
                "-n",
                APPS_NAMESPACE,
                "logs",
                "-f",
                &format!("job/{}", self.name),
            ])
            .status()?;
        Ok(())
    }

    /// The whole log.
    pub fn logs(&self) -> anyhow::Result<String> {
        kubectl()
            .args(["-n", APPS_NAMESPACE, "logs", &format!("job/{}", self.name)])
            .output()
    }
}

/// Reads the Job template (kustomize/components/load/loadgen-job.yaml).
pub fn template(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}
