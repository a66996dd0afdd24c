//! Running a manifest's container against the real binary on this machine, as close to the kubelet as a
//! machine without a container runtime gets:
//!
//! - the program is the container's `command` (`/bin/<bin>` → `<bin dir>/<bin>`), with exactly its
//!   `args` and `env` (Secrets and `$(VAR)` resolved, see [`super::pod::resolve_env`]); cluster DNS names
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

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

use super::pod::{PodTemplate, resolve_env};
use super::render::Rendered;

/// Rewrites in-cluster addresses (`<service>.<namespace>.svc[.cluster.local]:<port>`) to real ones.
#[derive(Debug, Clone, Default)]
pub struct AddressMap {
    entries: Vec<(String, u16, String)>,
}

impl AddressMap {
    /// `service.namespace:port` is served at `target` (`127.0.0.1:5432`).
    pub fn insert(&mut self, service: &str, namespace: &str, port: u16, target: String) {
        self.entries
            .push((format!("{service}.{namespace}.svc"), port, target));
    }

    /// `value` with every mapped address replaced; an in-cluster name left unmapped is an error, so a
    /// manifest cannot point at something the test did not provide.
    pub fn rewrite(&self, value: &str) -> anyhow::Result<String> {
        let mut out = value.to_owned();
        for (host, port, target) in &self.entries {
            for form in [
                format!("{host}.cluster.local:{port}"),
                format!("{host}:{port}"),
            ] {
                out = out.replace(&form, target);
            }
        }
        if let Some(i) = out.find(".svc") {
            bail!(
                "{value:?} names an in-cluster address the test cannot map (near {:?})",
                &out[..i + 4]
            );
        }
        Ok(out)
    }
}

/// How a probe checks a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    Http { path: String, port: u16 },
    Grpc { port: u16, service: String },
    Tcp { port: u16 },
}

/// One of a container's probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `startupProbe`, `readinessProbe`, `livenessProbe`.
    pub which: String,
    pub kind: ProbeKind,
    pub period: Duration,
    pub failure_threshold: u32,
}

/// Everything needed to start one container of a pod template here.
#[derive(Debug, Clone)]
pub struct Launch {
    /// `Deployment mop/catalog container catalog`.
    pub what: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub uid: u32,
    pub gid: u32,
    /// `emptyDir` mount paths with their size limits (bytes).
    pub empty_dirs: Vec<(String, Option<u64>)>,
    pub pod_ip: Ipv4Addr,
    pub probes: Vec<Probe>,
    pub grace: Duration,
}

/// Builds the launch of `template`'s app container `index`: command mapped to `bin_dir`, environment
/// resolved and rewritten through `addresses`.
pub fn launch(
    template: &PodTemplate,
    index: usize,
    rendered: &Rendered,
    bin_dir: &Path,
    addresses: &AddressMap,
    pod_ip: Ipv4Addr,
) -> anyhow::Result<Launch> {
    let container = template
        .spec
        .pointer(&format!("/containers/{index}"))
        .ok_or_else(|| anyhow!("{}: no container {index}", template.owner))?;
    let cname = container.get("name").and_then(Value::as_str).unwrap_or("?");
    let what = format!("{} container {cname}", template.owner);
    let command: Vec<&str> = strings(container.get("command"));
    let [binary] = command.as_slice() else {
        bail!("{what}: command must be exactly [\"/bin/<bin>\"], is {command:?}");
    };
    let bin = binary
        .strip_prefix("/bin/")
        .ok_or_else(|| anyhow!("{what}: command {binary} is not /bin/<bin>"))?;
    let program = bin_dir.join(bin);
    if !program.is_file() {
        bail!(
            "{what}: {} is missing; build it with `cargo build --workspace --bins`",
            program.display()
        );
    }
    let args = strings(container.get("args"))
        .into_iter()
        .map(|a| addresses.rewrite(a))
        .collect::<anyhow::Result<Vec<_>>>()
        .with_context(|| format!("{what}: args"))?;
    let mut env = Vec::new();
    for (k, v) in
        resolve_env(container, &template.namespace, rendered).with_context(|| what.clone())?
    {
        let v = match v.strip_prefix("0.0.0.0:") {
            Some(port) => format!("{pod_ip}:{port}"),
            None => addresses
                .rewrite(&v)
                .with_context(|| format!("{what}: env {k}"))?,
        };
        env.push((k, v));
    }
    let pod_sc = template.spec.get("securityContext").unwrap_or(&Value::Null);
    let sc = container.get("securityContext").unwrap_or(&Value::Null);
    let id = |key: &str| {
        sc.get(key)
            .or_else(|| pod_sc.get(key))
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    let uid = id("runAsUser").ok_or_else(|| anyhow!("{what}: no runAsUser"))?;
    let gid = id("runAsGroup").unwrap_or(uid);
    let volumes = template
        .spec
        .get("volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut empty_dirs = Vec::new();
    for mount in container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = mount
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = mount
            .get("mountPath")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let volume = volumes
            .iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| anyhow!("{what}: volumeMount {name} has no volume"))?;
        match volume.get("emptyDir") {
            Some(e) => {
                let limit = e
                    .get("sizeLimit")
                    .and_then(Value::as_str)
                    .map(super::footprint::bytes)
                    .transpose()?;
                empty_dirs.push((path.to_owned(), limit));
            }
            None => bail!(
                "{what}: volume {name} is not an emptyDir; the run test only provides emptyDirs"
            ),
        }
    }
    let ports: BTreeMap<String, u16> = container
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p.get("name")?.as_str()?.to_owned(),
                u16::try_from(p.get("containerPort")?.as_u64()?).ok()?,
            ))
        })
        .collect();
    let mut probes = Vec::new();
    for which in ["startupProbe", "readinessProbe", "livenessProbe"] {
        if let Some(p) = container.get(which) {
            probes.push(parse_probe(which, p, &ports).with_context(|| format!("{what}: {which}"))?);
        }
    }
    let grace = template
        .spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(30);
    Ok(Launch {
        what,
        program,
        args,
        env,
        uid,
        gid,
        empty_dirs,
        pod_ip,
        probes,
        grace: Duration::from_secs(grace),
    })
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn parse_probe(which: &str, p: &Value, ports: &BTreeMap<String, u16>) -> anyhow::Result<Probe> {
    let port = |v: Option<&Value>| -> anyhow::Result<u16> {
        match v {
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| anyhow!("bad port {n}")),
            Some(Value::String(name)) => ports
                .get(name)
                .copied()
                .ok_or_else(|| anyhow!("port name {name} is not a container port")),
            _ => bail!("no port"),
        }
    };
    let kind = if let Some(h) = p.get("httpGet") {
        ProbeKind::Http {
            path: h
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or("/")
                .to_owned(),
            port: port(h.get("port"))?,
        }
    } else if let Some(g) = p.get("grpc") {
        ProbeKind::Grpc {
            port: port(g.get("port"))?,
            service: g
                .get("service")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }
    } else if let Some(t) = p.get("tcpSocket") {
        ProbeKind::Tcp {
            port: port(t.get("port"))?,
        }
    } else {
        bail!("only httpGet, grpc and tcpSocket probes can be run here: {p}");
    };
    let secs = |k: &str, d: u64| p.get(k).and_then(Value::as_u64).unwrap_or(d);
    Ok(Probe {
        which: which.to_owned(),
        kind,
        period: Duration::from_secs(secs("periodSeconds", 10)),
        failure_threshold: u32::try_from(secs("failureThreshold", 3)).unwrap_or(3),
    })
}

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

/// One probe attempt, as the kubelet does it: an HTTP GET answered 200–399, a gRPC `Health/Check`
/// answered SERVING, or a TCP connection accepted.
pub async fn probe(ip: Ipv4Addr, kind: &ProbeKind) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(1);
    match kind {
        ProbeKind::Tcp { port } => {
            tokio::time::timeout(timeout, tokio::net::TcpStream::connect((ip, *port))).await??;
            Ok(())
        }
        ProbeKind::Http { path, port } => {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let exchange = async {
                let mut s = tokio::net::TcpStream::connect((ip, *port)).await?;
                s.write_all(
                    format!("GET {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nUser-Agent: kube-probe/1.36\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await?;
                let mut buf = Vec::new();
                s.read_to_end(&mut buf).await?;
                anyhow::Ok(buf)
            };
            let buf = tokio::time::timeout(timeout, exchange).await??;
            let head = String::from_utf8_lossy(&buf);
            let code: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| anyhow!("not an HTTP response: {head:.80}"))?;
            if (200..400).contains(&code) {
                Ok(())
            } else {
                bail!("GET {path} answered {code}")
            }
        }
        ProbeKind::Grpc { port, service } => {
            use tonic_health::pb::{
                HealthCheckRequest, health_check_response::ServingStatus,
                health_client::HealthClient,
            };
            let check = async {
                let channel = tonic::transport::Endpoint::from_shared(format!(
                    "http://{}",
                    SocketAddr::from((ip, *port))
                ))?
                .connect()
                .await?;
                let reply = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: service.clone(),
                    })
                    .await?
                    .into_inner();
                anyhow::Ok(reply.status)
            };
            let status = tokio::time::timeout(timeout, check).await??;
            if status == ServingStatus::Serving as i32 {
                Ok(())
            } else {
                bail!("grpc.health.v1 status {status}, not SERVING")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_addresses_are_mapped_and_unknown_ones_refused() {
        let mut m = AddressMap::default();
        m.insert("postgres", "mop", 5432, "127.0.0.1:40000".into());
        assert_eq!(
            m.rewrite("postgres://u:p@postgres.mop.svc:5432/orders")
                .unwrap(),
            "postgres://u:p@127.0.0.1:40000/orders"
        );
        assert_eq!(
            m.rewrite("postgres.mop.svc.cluster.local:5432").unwrap(),
            "127.0.0.1:40000"
        );
        assert!(m.rewrite("http://tempo.observability.svc:4318").is_err());
        assert_eq!(m.rewrite("json").unwrap(), "json");
    }
}
