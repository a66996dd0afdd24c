//! Running a manifest's container against the real binary on this machine, as close to the kubelet as a
//! machine without a container runtime gets:
//!
//! - the program is the container's `command` (`/bin/<bin>` → `<bin dir>/<bin>`), with exactly its
//!   `args` and `env` (Secrets and `$(VAR)` resolved, see [`lab::manifests::pod::resolve_env`]); cluster DNS names
//!   (`catalog.mop.svc:8081`) are rewritten to the loopback address of the real thing ([`AddressMap`]);
//!   each pod gets an address of its own (127.0.N.1), and `0.0.0.0:<port>` — "this pod's address" in a
//!   pod — becomes that address, so ports stay the manifest's own;
//! - in a mount namespace of its own (`unshare --mount`) where **every mount is remounted read-only**
//!   and only the container's `emptyDir` mounts are writable (tmpfs with the `sizeLimit`), so a write
//!   anywhere else fails with EROFS — what `readOnlyRootFilesystem: true` does in a pod;
//! - as the manifest's UID/GID (`setpriv --reuid --regid --clear-groups`), with no-new-privs
//!   (`allowPrivilegeEscalation: false`) and empty capability sets (`drop: [ALL]`); [`Running::identity`]
//!   reads them back from `/proc/<pid>/status`;
//! - probed with the manifest's own probes ([`probe`]: HTTP GET, gRPC health, TCP), stopped with SIGTERM
//!   and given `terminationGracePeriodSeconds` to exit 0.
//!
//! Not reproduced: seccomp (RuntimeDefault), cgroup memory/CPU limits, the image's own filesystem (the
//! binary comes from `target/`, its libraries from this machine). docs/kubernetes.md says so.

mod launch;
mod probe;

pub use launch::{AddressMap, Launch, Probe, ProbeKind, launch};
pub use probe::probe;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The shell script that builds the sandbox inside the new mount namespace, then `exec`s the program.
fn sandbox_script(launch: &Launch) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut s = String::from(
        "set -eu\n\
         # Every mount read-only (in this namespace only), except kernel filesystems the process\n\
         # needs live; device files stay usable on a read-only /dev.\n\
         while read -r _ _ _ _ mp _ rest; do\n\
           fstype=${rest#*- }; fstype=${fstype%% *}\n\
           case $fstype in proc|sysfs|cgroup|cgroup2|devpts|mqueue|securityfs|debugfs|tracefs|bpf|fusectl|configfs|pstore|binfmt_misc|autofs|hugetlbfs) continue;; esac\n\
           case $mp in *\\\\*) continue;; esac\n\
           mount -o remount,bind,ro \"$mp\"\n\
         done < /proc/self/mountinfo\n",
    );
    // Open the program before the emptyDirs go on: a checkout under /tmp (CI's, say) would be hidden
    // by a container's /tmp emptyDir, and the process execs it through this descriptor instead.
    s.push_str("exec 3<\"$1\"\nshift\n");
    for (path, limit) in &launch.empty_dirs {
        let size = limit.map_or_else(String::new, |b| format!(",size={b}"));
        s.push_str(&format!(
            "mount -t tmpfs -o mode=0755,uid={},gid={}{size} emptydir {}\n",
            launch.uid,
            launch.gid,
            quote(path)
        ));
    }
    s.push_str("cd /\n");
    s.push_str(&format!(
        "exec setpriv --reuid={} --regid={} --clear-groups --no-new-privs --inh-caps=-all \
         --bounding-set=-all -- /proc/self/fd/3 \"$@\"\n",
        launch.uid, launch.gid
    ));
    s
}

/// A started container process.
pub struct Running {
    pub launch: Launch,
    child: Child,
    pub log: PathBuf,
}

/// Starts `launch` (needs root: `unshare --mount` and `setpriv`). Output goes to `log`.
pub fn start(launch: &Launch, log: &Path) -> anyhow::Result<Running> {
    let file = std::fs::File::create(log)?;
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(sandbox_script(launch))
        .arg("sandbox")
        .arg(&launch.program)
        .args(&launch.args)
        .env_clear()
        // What a container runtime adds to every container (containerd's default PATH, the pod name).
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOSTNAME", "pod")
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file);
    let child = cmd
        .spawn()
        .with_context(|| format!("{}: cannot start unshare (util-linux)", launch.what))?;
    Ok(Running {
        launch: launch.clone(),
        child,
        log: log.to_path_buf(),
    })
}

/// What `/proc/<pid>/status` says about a process: real/effective UID and GID, no-new-privs, and the
/// effective capability set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub no_new_privs: bool,
    pub cap_eff: u64,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The process's identity, once `setpriv` has exec'd the program (polls up to `timeout`).
    pub fn identity(&mut self, timeout: Duration) -> anyhow::Result<Identity> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
                .with_context(|| {
                    format!(
                        "{}: process gone; log:\n{}",
                        self.launch.what,
                        self.log_tail()
                    )
                })?;
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
                    .unwrap_or_default()
            };
            let exe = std::fs::read_link(format!("/proc/{}/exe", self.pid())).unwrap_or_default();
            if exe == self.launch.program {
                let num = |v: &[String], i: usize| {
                    v.get(i).and_then(|s| s.parse().ok()).unwrap_or(u32::MAX)
                };
                let uid = field("Uid:");
                let gid = field("Gid:");
                let cap = field("CapEff:");
                return Ok(Identity {
                    // Real, effective, saved and filesystem IDs must all be the manifest's.
                    uid: if uid.iter().all(|u| *u == uid[0]) {
                        num(&uid, 0)
                    } else {
                        u32::MAX
                    },
                    gid: if gid.iter().all(|g| *g == gid[0]) {
                        num(&gid, 0)
                    } else {
                        u32::MAX
                    },
                    no_new_privs: field("NoNewPrivs:").first().is_some_and(|v| v == "1"),
                    cap_eff: cap
                        .first()
                        .and_then(|c| u64::from_str_radix(c, 16).ok())
                        .unwrap_or(u64::MAX),
                });
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: never exec'd {}; log:\n{}",
                    self.launch.what,
                    self.launch.program.display(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Files the process created in its emptyDirs, seen through `/proc/<pid>/root` (its own mounts).
    pub fn empty_dir_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (path, _) in &self.launch.empty_dirs {
            let root = PathBuf::from(format!("/proc/{}/root{path}", self.pid()));
            if let Ok(entries) = std::fs::read_dir(&root) {
                out.extend(
                    entries
                        .flatten()
                        .map(|e| format!("{path}/{}", e.file_name().to_string_lossy())),
                );
            }
        }
        out
    }

    /// Runs the probes until each has passed once, within the time the manifest itself allows
    /// (startup probe: `period × failureThreshold`; the others: the same budget after it), or `floor`.
    pub async fn wait_probes(&mut self, floor: Duration) -> anyhow::Result<Vec<String>> {
        let mut passed = Vec::new();
        for p in self.launch.probes.clone() {
            let budget = (p.period * p.failure_threshold).max(floor);
            let deadline = Instant::now() + budget;
            loop {
                if let Some(status) = self.exited() {
                    bail!(
                        "{}: exited ({status}) before its {} passed; log:\n{}",
                        self.launch.what,
                        p.which,
                        self.log_tail()
                    );
                }
                match probe(self.launch.pod_ip, &p.kind).await {
                    Ok(()) => break,
                    Err(e) if Instant::now() > deadline => {
                        bail!(
                            "{}: {} {:?} still failing after {budget:?}: {e:#}; log:\n{}",
                            self.launch.what,
                            p.which,
                            p.kind,
                            self.log_tail()
                        )
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
            passed.push(format!("{} {:?}", p.which, p.kind));
        }
        Ok(passed)
    }

    /// SIGTERM, then up to the grace period for the exit status (SIGKILL after it, as the kubelet does).
    pub fn terminate(&mut self) -> anyhow::Result<(ExitStatus, Duration)> {
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        while started.elapsed() < self.launch.grace {
            if let Some(status) = self.exited() {
                return Ok((status, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let status = self.child.wait()?;
        bail!(
            "{}: still running {:?} after SIGTERM (killed: {status}); log:\n{}",
            self.launch.what,
            self.launch.grace,
            self.log_tail()
        )
    }

    /// The last lines of the process's output, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
