//! `just doctor`: every host prerequisite of the kind lab (k8s.md), each failure with how to fix it.
//!
//! The checks are plain functions over what was read from the host ([`Host`], [`Tools`]), so tests
//! feed them this machine's real /proc and /sys as well as synthetic trees for the failing cases.

use std::fmt;
use std::net::TcpListener;
use std::path::Path;

use crate::cmd::Cmd;

/// What the checks need from /proc, /sys and /boot, read under `root` (`/` on a real host).
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// /proc/sys/kernel/osrelease, e.g. `6.8.0-45-generic`.
    pub osrelease: Option<String>,
    /// /sys/kernel/btf/vmlinux exists (OBI's CO-RE programs need the kernel's BTF).
    pub btf: bool,
    /// tracefs `kprobe_events` or the perf `kprobe` event source exists.
    pub kprobe_interface: bool,
    /// The kernel's build config (/boot/config-<release> or /proc/config.gz), when readable.
    pub kernel_config: Option<String>,
    /// /proc/mounts.
    pub mounts: String,
    pub max_user_watches: Option<u64>,
    pub max_user_instances: Option<u64>,
}

impl Host {
    pub fn read(root: &Path) -> Self {
        let read = |p: &str| std::fs::read_to_string(root.join(p)).ok();
        let number = |p: &str| read(p).and_then(|s| s.trim().parse().ok());
        let exists = |p: &str| root.join(p).exists();
        let osrelease = read("proc/sys/kernel/osrelease").map(|s| s.trim().to_owned());
        let boot_config = osrelease
            .as_ref()
            .and_then(|r| read(&format!("boot/config-{r}")));
        let kernel_config = boot_config.or_else(|| {
            let gz = root.join("proc/config.gz");
            gz.exists()
                .then(|| Cmd::new("gzip").arg("-dc").arg(&gz).output().ok())
                .flatten()
        });
        Self {
            osrelease,
            btf: exists("sys/kernel/btf/vmlinux"),
            kprobe_interface: exists("sys/kernel/tracing/kprobe_events")
                || exists("sys/kernel/debug/tracing/kprobe_events")
                || exists("sys/bus/event_source/devices/kprobe"),
            kernel_config,
            mounts: read("proc/mounts").unwrap_or_default(),
            max_user_watches: number("proc/sys/fs/inotify/max_user_watches"),
            max_user_instances: number("proc/sys/fs/inotify/max_user_instances"),
        }
    }
}

/// The result of asking a tool for its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Missing,
    Failed(String),
    Ok(String),
}

impl Probe {
    /// Runs `program args…`: Missing when it is not installed, Failed with its error otherwise.
    pub fn run(program: &str, args: &[&str]) -> Self {
        if !crate::cmd::on_path(program) {
            return Probe::Missing;
        }
        match Cmd::new(program).args(args).output() {
            Ok(out) => Probe::Ok(out.trim().to_owned()),
            Err(e) => Probe::Failed(format!("{e:#}")),
        }
    }
}

/// The tools doctor asks: the container engine kind runs on, and Nix (builds the images).
#[derive(Debug, Clone)]
pub struct Tools {
    pub docker: Probe,
    pub podman: Probe,
    /// `KIND_EXPERIMENTAL_PROVIDER` (kind uses podman only when it says so).
    pub provider: Option<String>,
    pub nix: Probe,
    /// The kernel of the engine kind runs on (`docker info`'s KernelVersion, podman's Host.Kernel): on
    /// Docker Desktop or a podman machine it is a VM's, not this host's.
    pub engine_kernel: Probe,
    /// What a throw-away privileged container on the engine sees of BTF and kprobes (the lines of
    /// [`FEATURES_SCRIPT`]); asked only when the engine's kernel is not this host's.
    pub engine_features: Option<Probe>,
}

/// Prints each BTF / kprobe path that exists, run in a privileged container on the engine.
pub const FEATURES_SCRIPT: &str = "for f in /sys/kernel/btf/vmlinux /sys/kernel/tracing/kprobe_events /sys/kernel/debug/tracing/kprobe_events /sys/bus/event_source/devices/kprobe; do [ -e $f ] && echo $f; done; true";

impl Tools {
    /// Asks the tools; `host_release` is this host's kernel and `image` an image with `sh` the engine
    /// already has (the kind node image), for the container that looks at the engine's kernel.
    pub fn probe(host_release: Option<&str>, image: Option<&str>) -> Self {
        let provider = std::env::var("KIND_EXPERIMENTAL_PROVIDER").ok();
        let podman = provider.as_deref() == Some("podman");
        let (engine, kernel_format) = if podman {
            ("podman", "{{.Host.Kernel}}")
        } else {
            ("docker", "{{.KernelVersion}}")
        };
        let engine_kernel = Probe::run(engine, &["info", "--format", kernel_format]);
        let engine_features = match (&engine_kernel, image) {
            (Probe::Ok(k), Some(image)) if Some(k.trim()) != host_release => Some(Probe::run(
                engine,
                &[
                    "run",
                    "--rm",
                    "--privileged",
                    "--pull",
                    "never",
                    "--entrypoint",
                    "sh",
                    image,
                    "-c",
                    FEATURES_SCRIPT,
                ],
            )),
            _ => None,
        };
        Self {
            docker: Probe::run("docker", &["info", "--format", "{{.ServerVersion}}"]),
            podman: Probe::run("podman", &["info", "--format", "{{.Version.Version}}"]),
            provider,
            nix: Probe::run("nix", &["--version"]),
            engine_kernel,
            engine_features,
        }
    }
}

/// [`FEATURES_SCRIPT`]'s output as the host checks read a host: BTF, and a kprobe interface.
pub fn parse_features(out: &str) -> Host {
    let has = |p: &str| out.lines().any(|l| l.trim() == p);
    Host {
        btf: has("/sys/kernel/btf/vmlinux"),
        kprobe_interface: has("/sys/kernel/tracing/kprobe_events")
            || has("/sys/kernel/debug/tracing/kprobe_events")
            || has("/sys/bus/event_source/devices/kprobe"),
        ..Host::default()
    }
}

/// The kernel kind's node — and OBI in it — really runs on: the engine's. When it is this host's, the
/// host checks above apply; when it is a VM's (Docker Desktop, podman machine), BTF and kprobes are
/// judged from inside a privileged container on the engine instead.
pub fn engine_kernel(host: &Host, tools: &Tools) -> Check {
    const NAME: &str = "engine kernel";
    let kernel = match &tools.engine_kernel {
        Probe::Ok(k) if !k.trim().is_empty() => k.trim().to_owned(),
        Probe::Ok(_) => {
            return Check::fail(
                NAME,
                "the engine reported no kernel version",
                "check `docker info` (or `podman info`)",
            );
        }
        Probe::Missing => {
            return Check::fail(
                NAME,
                "no container engine to ask",
                "install Docker or podman (see above)",
            );
        }
        Probe::Failed(e) => {
            return Check::fail(
                NAME,
                format!(
                    "cannot ask the engine which kernel it runs: {}",
                    first_line(e)
                ),
                "start the engine (`docker info` must answer): kind's node runs on the engine's kernel, which on Docker Desktop or a podman machine is a VM's, not this host's",
            );
        }
    };
    if parse_version(&kernel).is_none_or(|v| v < (5, 8, 0)) {
        return Check::fail(
            NAME,
            format!("{kernel}: OBI needs Linux >= 5.8"),
            "update Docker Desktop / the podman machine (its VM kernel)",
        );
    }
    if host.osrelease.as_deref() == Some(kernel.as_str()) {
        return Check::pass(
            NAME,
            format!("{kernel}: this host's (the checks above apply to it)"),
        );
    }
    let fix_vm = "the engine runs a VM whose kernel OBI needs BTF and kprobes from: use a VM kernel with CONFIG_DEBUG_INFO_BTF=y and CONFIG_KPROBE_EVENTS=y (recent Docker Desktop and podman machine images have both), or Docker Engine on a Linux host";
    match &tools.engine_features {
        Some(Probe::Ok(out)) => {
            let vm = parse_features(out);
            let missing: Vec<&str> = [("BTF", vm.btf), ("kprobes", vm.kprobe_interface)]
                .into_iter()
                .filter_map(|(n, ok)| (!ok).then_some(n))
                .collect();
            if missing.is_empty() {
                Check::pass(
                    NAME,
                    format!("{kernel} (a VM's): BTF and kprobes seen from a privileged container"),
                )
            } else {
                Check::fail(
                    NAME,
                    format!("{kernel} (a VM's) lacks {}", missing.join(" and ")),
                    fix_vm,
                )
            }
        }
        Some(Probe::Failed(e)) => Check::fail(
            NAME,
            format!(
                "{kernel} is not this host's kernel and a privileged container could not look at it: {}",
                first_line(e)
            ),
            "`just prefetch` (saves the kind node image the check runs in), then `just doctor` again",
        ),
        Some(Probe::Missing) | None => Check::fail(
            NAME,
            format!(
                "{kernel} is not this host's kernel (a VM's): BTF and kprobes not checked there"
            ),
            "`just prefetch` (saves the kind node image the check runs in), then `just doctor` again",
        ),
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
}

/// One verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// How to fix it (failures only).
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &str, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }
    fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.ok { "ok  " } else { "FAIL" };
        write!(f, "{mark} {:<18} {}", self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n     fix: {fix}")?;
        }
        Ok(())
    }
}

/// `major.minor.patch` from the front of a version string (`6.8.0-45-generic`, `2.34.8`).
pub fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let core = text
        .trim()
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    Some((major, minor, patch))
}

pub fn kernel(host: &Host) -> Check {
    let fix = "OBI needs Linux >= 5.8 (BPF ring buffer, CO-RE): use a newer distribution kernel";
    match host.osrelease.as_deref().map(|r| (r, parse_version(r))) {
        Some((release, Some(v))) if v >= (5, 8, 0) => Check::pass("kernel >= 5.8", release),
        Some((release, _)) => Check::fail("kernel >= 5.8", release, fix),
        None => Check::fail(
            "kernel >= 5.8",
            "cannot read /proc/sys/kernel/osrelease",
            fix,
        ),
    }
}

pub fn btf(host: &Host) -> Check {
    if host.btf {
        Check::pass("BTF", "/sys/kernel/btf/vmlinux")
    } else {
        Check::fail(
            "BTF",
            "/sys/kernel/btf/vmlinux missing",
            "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Ubuntu >= 20.10, Debian >= 11, Fedora >= 31 are)",
        )
    }
}

pub fn kprobes(host: &Host) -> Check {
    let config = host.kernel_config.as_deref().unwrap_or("");
    let set = config.lines().any(|l| l.trim() == "CONFIG_KPROBES=y");
    let unset = config
        .lines()
        .any(|l| l.trim() == "# CONFIG_KPROBES is not set");
    if host.kprobe_interface || (set && !unset) {
        let how = if host.kprobe_interface {
            "kprobe events available"
        } else {
            "CONFIG_KPROBES=y"
        };
        Check::pass("kprobes", how)
    } else {
        let detail = if unset {
            "the kernel is built without CONFIG_KPROBES"
        } else {
            "no kprobe_events in tracefs, no kprobe event source"
        };
        Check::fail(
            "kprobes",
            detail,
            "OBI attaches kprobes: use a kernel with CONFIG_KPROBES=y and CONFIG_KPROBE_EVENTS=y (every mainstream distribution kernel)",
        )
    }
}

pub fn cgroup_v2(host: &Host) -> Check {
    let unified = host.mounts.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 3 && f[1] == "/sys/fs/cgroup" && f[2] == "cgroup2"
    });
    if unified {
        Check::pass("cgroup v2", "cgroup2 at /sys/fs/cgroup")
    } else {
        Check::fail(
            "cgroup v2",
            "/sys/fs/cgroup is not a cgroup2 mount (cgroup v1 or hybrid)",
            "boot with systemd.unified_cgroup_hierarchy=1 (kind's nodes and OBI's cgroup lookups expect the unified hierarchy)",
        )
    }
}

pub fn inotify(host: &Host) -> Check {
    let (watches, instances) = (
        host.max_user_watches.unwrap_or(0),
        host.max_user_instances.unwrap_or(0),
    );
    let detail = format!("max_user_watches {watches}, max_user_instances {instances}");
    if watches >= 524_288 && instances >= 512 {
        Check::pass("inotify limits", detail)
    } else {
        Check::fail(
            "inotify limits",
            detail,
            "sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512 (kind's known issue: pods fail with 'too many open files'); persist in /etc/sysctl.d/",
        )
    }
}

pub fn container_engine(tools: &Tools) -> Check {
    let podman = tools.provider.as_deref() == Some("podman");
    let (name, probe) = if podman {
        ("podman", &tools.podman)
    } else {
        ("docker", &tools.docker)
    };
    match probe {
        Probe::Ok(version) => Check::pass("container engine", format!("{name} {version}")),
        Probe::Missing => Check::fail(
            "container engine",
            format!("{name} not found"),
            if podman {
                "install podman, or unset KIND_EXPERIMENTAL_PROVIDER to use Docker"
            } else {
                "install Docker Engine (https://docs.docker.com/engine/install/), or podman with KIND_EXPERIMENTAL_PROVIDER=podman"
            },
        ),
        Probe::Failed(e) => Check::fail(
            "container engine",
            format!("{name} does not answer: {e}"),
            format!(
                "start the daemon (sudo systemctl start {name}) and make sure this user may use it (the docker group)"
            ),
        ),
    }
}

pub fn nix(tools: &Tools) -> Check {
    let fix = "install Nix >= 2.31.2 with flakes (https://nixos.org/download; crane v0.23 needs it): it builds the images";
    match &tools.nix {
        Probe::Ok(out) => {
            let version = out.split_whitespace().last().and_then(parse_version);
            match version {
                Some(v) if v >= (2, 31, 2) => Check::pass("Nix >= 2.31.2", out.clone()),
                _ => Check::fail("Nix >= 2.31.2", out.clone(), fix),
            }
        }
        Probe::Missing => Check::fail("Nix >= 2.31.2", "nix not found", fix),
        Probe::Failed(e) => Check::fail("Nix >= 2.31.2", e.clone(), fix),
    }
}

/// A host port kind must publish: free, or already held by our own running cluster (`just up` twice).
pub fn port(name: &str, port: u16, bind: std::io::Result<()>, cluster_running: bool) -> Check {
    let label = format!("port {port}");
    match bind {
        Ok(()) => Check::pass(&label, format!("free ({name})")),
        Err(_) if cluster_running => {
            Check::pass(&label, format!("held by the running kind cluster ({name})"))
        }
        Err(e) => Check::fail(
            &label,
            format!("in use ({name}): {e}"),
            format!(
                "stop what listens there (`ss -ltnp 'sport = :{port}'`; the local lab: `just dev-down`)"
            ),
        ),
    }
}

/// Tries to bind 127.0.0.1:`port` (released at once).
pub fn try_bind(port: u16) -> std::io::Result<()> {
    TcpListener::bind(("127.0.0.1", port)).map(drop)
}

/// Every check, in the order they are printed.
pub fn all(host: &Host, tools: &Tools, cluster_running: bool) -> Vec<Check> {
    let mut checks = vec![
        container_engine(tools),
        engine_kernel(host, tools),
        kernel(host),
        btf(host),
        kprobes(host),
        cgroup_v2(host),
        inotify(host),
    ];
    for (name, p, _) in super::HOST_PORTS {
        checks.push(port(name, p, try_bind(p), cluster_running));
    }
    checks.push(nix(tools));
    checks
}

#[cfg(test)]
mod tests;
