//! One command in a VM: virtme-ng (`vng`) boots the cached kernel under TCG (KVM guests never run
//! on the build machines) with the host's filesystem read-only over 9p and a results folder shared
//! read-write; a small guest script mounts what OBI needs (tracefs, debugfs, bpffs), runs the
//! command with its output in `output.log`, and writes its exit code. Every wait is bounded; a guest
//! that does not boot or a command that hangs ends the VM and quotes the end of its console log.

use std::fmt::Write as _;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::kernel::Kernel;
use crate::local::process::log_tail;

/// Files the runner and the guest script share in the results folder.
pub const CONSOLE: &str = "console.log";
pub const OUTPUT: &str = "output.log";
pub const EXIT_CODE: &str = "exit-code";
const BOOTED: &str = "booted";
const SCRIPT: &str = "guest.sh";

/// Environment passed into the guest when set on the host (the guest starts with a bare one).
const PASSED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "MOP_CACHE",
    "XDG_CACHE_HOME",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "LOG_FORMAT",
    // `lab dev --obi --obi-bin`'s variable: another OBI build than the cached pinned one.
    "LAB_OBI_BIN",
];

#[derive(Debug, Clone)]
pub struct VmRun {
    pub kernel: Kernel,
    /// Shared read-write with the guest at the same path: the command's results and the VM's logs.
    pub results: PathBuf,
    /// A bash command line, run as root in `cwd`.
    pub command: String,
    pub cwd: PathBuf,
    /// Extra environment for the command (after [`PASSED_ENV`]).
    pub env: Vec<(String, String)>,
    pub cpus: u32,
    /// qemu's `-m` (e.g. `4G`): the guest's /tmp lives in its memory.
    pub memory: String,
    /// From start until the guest script runs.
    pub boot_timeout: Duration,
    /// From start until the VM is gone.
    pub timeout: Duration,
    /// Copy the command's output to stdout while it runs.
    pub echo: bool,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub exit_code: i32,
    pub results: PathBuf,
    /// Until the guest script started.
    pub boot: Duration,
    pub total: Duration,
}

impl VmRun {
    /// A run with the defaults the lab uses: 2 vCPUs, 4 GiB, 5 min to boot.
    pub fn new(kernel: Kernel, results: PathBuf, command: String, timeout: Duration) -> Self {
        Self {
            kernel,
            results,
            command,
            cwd: std::env::current_dir().unwrap_or_else(|_| "/".into()),
            env: Vec::new(),
            cpus: 2,
            memory: "4G".into(),
            boot_timeout: Duration::from_secs(300),
            timeout,
            echo: true,
        }
    }

    /// The script the guest runs (written into the results folder).
    pub fn guest_script(&self) -> String {
        let r = shell_quote(&self.results.display().to_string());
        let mut s = String::from("#!/bin/bash\n# Written by `lab vm`: runs inside the guest.\n");
        let _ = writeln!(s, "echo \"$(cut -d' ' -f1 /proc/uptime)\" > {r}/{BOOTED}");
        // What OBI expects (virtme-ng mounts some of them already).
        for (fs, dir) in [
            ("tracefs", "/sys/kernel/tracing"),
            ("debugfs", "/sys/kernel/debug"),
            ("bpf", "/sys/fs/bpf"),
        ] {
            let _ = writeln!(
                s,
                "mountpoint -q {dir} || mount -t {fs} {fs} {dir} || echo 'guest: cannot mount {fs} on {dir}' >&2"
            );
        }
        // Services start with a high open-files need (PostgreSQL, Kafka): the guest's default is 1024.
        s.push_str("ulimit -n 65536 2>/dev/null\n");
        for key in PASSED_ENV {
            if let Ok(v) = std::env::var(key) {
                let _ = writeln!(s, "export {key}={}", shell_quote(&v));
            }
        }
        for (k, v) in &self.env {
            let _ = writeln!(s, "export {k}={}", shell_quote(v));
        }
        let _ = writeln!(
            s,
            "cd {} || exit 97",
            shell_quote(&self.cwd.display().to_string())
        );
        let _ = writeln!(s, "( {} ) > {r}/{OUTPUT} 2>&1 < /dev/null", self.command);
        let _ = writeln!(s, "rc=$?\nsync\necho $rc > {r}/{EXIT_CODE}\nexit $rc");
        s
    }

    /// `vng`'s command line.
    pub fn vng_args(&self) -> Vec<String> {
        let results = self.results.display().to_string();
        vec![
            "--run".into(),
            self.kernel.vmlinuz().display().to_string(),
            "--disable-kvm".into(),
            "--user".into(),
            "root".into(),
            "--cpus".into(),
            self.cpus.to_string(),
            "--memory".into(),
            self.memory.clone(),
            format!("--rwdir={results}"),
            // Without it the guest's console (kernel messages, the script's own errors) is lost.
            "--verbose".into(),
            "--exec".into(),
            format!("bash {}", shell_quote(&format!("{results}/{SCRIPT}"))),
        ]
    }

    /// Boots, runs, waits (bounded), and returns the command's exit code.
    pub fn run(&self) -> anyhow::Result<Outcome> {
        check_tools()?;
        std::fs::create_dir_all(&self.results)
            .with_context(|| format!("creating {}", self.results.display()))?;
        for f in [BOOTED, EXIT_CODE, OUTPUT] {
            let _ = std::fs::remove_file(self.results.join(f));
        }
        std::fs::write(self.results.join(SCRIPT), self.guest_script())?;
        let console_path = self.results.join(CONSOLE);
        let console = std::fs::File::create(&console_path)?;
        let started = Instant::now();
        let mut child = Command::new(testkit::process::tool("vng"))
            .args(self.vng_args())
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(console.try_clone()?)
            .stderr(console)
            // Its own process group: on a timeout the whole VM (vng, qemu, virtiofsd) is ended.
            .process_group(0)
            .spawn()
            .context("starting vng (pip install virtme-ng)")?;
        let result = self.wait(&mut child, started);
        if result.is_err() {
            end_group(&mut child);
        }
        result
    }

    fn wait(&self, child: &mut Child, started: Instant) -> anyhow::Result<Outcome> {
        let mut echo = Echo::new(self.results.join(OUTPUT), self.echo);
        let mut boot = None;
        loop {
            echo.pump();
            if boot.is_none() && self.results.join(BOOTED).exists() {
                boot = Some(started.elapsed());
                eprintln!(
                    "vm: guest up after {:.0} s",
                    started.elapsed().as_secs_f64()
                );
            }
            if let Some(status) = child.try_wait()? {
                echo.pump();
                let total = started.elapsed();
                let Some(boot) = boot else {
                    bail!(
                        "the VM ended ({status}) before the guest ran the command: it did not boot.\n{}",
                        self.console_tail()
                    );
                };
                let exit_code = std::fs::read_to_string(self.results.join(EXIT_CODE))
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .or_else(|| script_exit_from_console(&self.console()))
                    .with_context(|| {
                        format!(
                            "the VM ended ({status}) without the command's exit code (guest crash?).\n{}",
                            self.console_tail()
                        )
                    })?;
                return Ok(Outcome {
                    exit_code,
                    results: self.results.clone(),
                    boot,
                    total,
                });
            }
            let elapsed = started.elapsed();
            if boot.is_none() && elapsed > self.boot_timeout {
                bail!(
                    "the guest did not boot within {:?} (TCG on a busy host is slow; see {})\n{}",
                    self.boot_timeout,
                    self.results.join(CONSOLE).display(),
                    self.console_tail()
                );
            }
            if elapsed > self.timeout {
                bail!(
                    "the command in the VM did not finish within {:?}; VM stopped. End of its output:\n{}\n{}",
                    self.timeout,
                    log_tail(&self.results.join(OUTPUT), 20),
                    self.console_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn console(&self) -> String {
        std::fs::read_to_string(self.results.join(CONSOLE)).unwrap_or_default()
    }

    fn console_tail(&self) -> String {
        format!(
            "End of the VM's console ({}):\n{}",
            self.results.join(CONSOLE).display(),
            log_tail(&self.results.join(CONSOLE), 25)
        )
    }
}

/// virtme-ng-init's own line, for a guest that could not write the exit-code file.
pub fn script_exit_from_console(console: &str) -> Option<i32> {
    console.lines().rev().find_map(|l| {
        l.split("script exited with code ")
            .nth(1)?
            .trim()
            .parse()
            .ok()
    })
}

/// Fails with what to install when a tool of the VM runner is missing.
pub fn check_tools() -> anyhow::Result<()> {
    let missing: Vec<&str> = [
        ("vng", "pip install virtme-ng"),
        ("qemu-system-x86_64", "apt-get install qemu-system-x86"),
    ]
    .iter()
    .filter(|(tool, _)| !crate::cmd::on_path(tool))
    .map(|(_, how)| *how)
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    bail!(
        "the VM runner needs tools that are not installed: {} (scripts/install-deps.sh installs them)",
        missing.join("; ")
    )
}

fn end_group(child: &mut Child) {
    testkit::process::kill_group(child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Copies what the guest appends to its output file onto stdout.
struct Echo {
    path: PathBuf,
    on: bool,
    offset: u64,
}

impl Echo {
    fn new(path: PathBuf, on: bool) -> Self {
        Self {
            path,
            on,
            offset: 0,
        }
    }

    fn pump(&mut self) {
        if !self.on {
            return;
        }
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.offset)).is_ok() && f.read_to_end(&mut buf).is_ok() {
            self.offset += buf.len() as u64;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&buf);
            let _ = out.flush();
        }
    }
}

/// Single-quoted for bash.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A fresh results folder under `base`, named by the time.
pub fn results_dir(base: &Path, name: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    base.join(format!("{name}-{secs}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> VmRun {
        let kernel = Kernel {
            release: "6.12.117+deb13-amd64".into(),
            dir: "/cache/vm/6.12.117+deb13-amd64".into(),
        };
        let mut r = VmRun::new(
            kernel,
            "/tmp/res".into(),
            "echo 'hi'".into(),
            Duration::from_secs(60),
        );
        r.cwd = "/work/it's".into();
        r.env = vec![("A".into(), "x y".into())];
        r
    }

    #[test]
    fn the_guest_script_mounts_runs_and_records_the_exit_code() {
        let s = run().guest_script();
        assert!(
            s.contains("mount -t tracefs tracefs /sys/kernel/tracing"),
            "{s}"
        );
        assert!(s.contains("mount -t bpf bpf /sys/fs/bpf"), "{s}");
        assert!(s.contains("export A='x y'"), "{s}");
        assert!(s.contains(r"cd '/work/it'\''s'"), "{s}");
        assert!(
            s.contains("( echo 'hi' ) > '/tmp/res'/output.log 2>&1"),
            "{s}"
        );
        assert!(s.contains("echo $rc > '/tmp/res'/exit-code"), "{s}");
    }

    #[test]
    fn vng_boots_the_cached_kernel_under_tcg_with_the_results_folder() {
        let a = run().vng_args().join(" ");
        assert!(a.starts_with("--run /cache/vm/6.12.117+deb13-amd64/boot/vmlinuz-6.12.117+deb13-amd64 --disable-kvm"), "{a}");
        assert!(a.contains("--rwdir=/tmp/res"), "{a}");
        assert!(a.ends_with("--exec bash '/tmp/res/guest.sh'"), "{a}");
    }

    #[test]
    fn the_console_tells_the_exit_code_when_the_file_is_missing() {
        let console =
            "[ 47.3] virtme-ng-init: script exited with code 3\n[ 47.4] reboot: Power down\n";
        assert_eq!(script_exit_from_console(console), Some(3));
        assert_eq!(script_exit_from_console("Kernel panic - not syncing"), None);
    }
}
