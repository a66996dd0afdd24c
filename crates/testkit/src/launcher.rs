//! The skeleton every throw-away backend shares: its folder (ours to remove, or a caller's to keep),
//! the watchdog armed before the server exists, the server process, the port attempts, the shared
//! instance per test binary, and the `Drop` that undoes all of it.
//!
//! [`postgres`](crate::postgres), [`redis`](crate::redis) and [`kafka`](crate::kafka) add only what
//! is theirs: the command that starts the binary, how to tell it is up, and their controls (stop,
//! restart, pause …). Two kinds of server exist:
//!
//! - a **child** we stay the parent of (`redis-server`, the Kafka broker's JVM): its pid is written to
//!   `<dir>/<name>.pid` on every (re)start and removed when we kill it, so the watchdog signals the
//!   current process and never a stranger that inherited a stale pid;
//! - a **daemon** that detaches (`pg_ctl start`): one stop command serves the watchdog and `Drop`.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::process::{self, Placement};
use crate::{Error, Result};

/// One launched backend's folder, watchdog and (for a child) process.
pub(crate) struct Launcher {
    dir: PathBuf,
    /// A temporary directory of ours, removed with the server (not a caller's folder).
    owns_dir: bool,
    kind: Kind,
    /// The running server when we are its parent; `None` for a daemon or a stopped child.
    child: Mutex<Option<Child>>,
    watchdog: Child,
}

enum Kind {
    /// The watchdog signals whatever pid this file names.
    Child { pid_file: PathBuf },
    /// The watchdog and `Drop` both run this command.
    Daemon { stop: Vec<String> },
}

impl Launcher {
    /// A folder for a server we stay the parent of, and the watchdog that sends it `signal` (`-TERM`,
    /// `-KILL`) once the test binary is gone. `name` names the pid file.
    pub(crate) fn child(
        placement: &Placement,
        prefix: &str,
        name: &str,
        signal: &str,
    ) -> Result<Self> {
        let (dir, owns_dir) = placement.directory(prefix)?;
        let pid_file = dir.join(format!("{name}.pid"));
        let kill = format!("kill {signal} $(cat '{}')", pid_file.display());
        let watchdog = process::watchdog(&["sh", "-c", &kill], owns_dir.then_some(dir.as_path()))?;
        Ok(Self {
            dir,
            owns_dir,
            kind: Kind::Child { pid_file },
            child: Mutex::new(None),
            watchdog,
        })
    }

    /// A folder for a daemon, and the watchdog that runs `stop(dir)` (argv) once the test binary is
    /// gone; `Drop` runs the same command.
    pub(crate) fn daemon(
        placement: &Placement,
        prefix: &str,
        stop: impl FnOnce(&Path) -> Vec<String>,
    ) -> Result<Self> {
        let (dir, owns_dir) = placement.directory(prefix)?;
        let stop = stop(&dir);
        let watchdog = process::watchdog(&stop, owns_dir.then_some(dir.as_path()))?;
        Ok(Self {
            dir,
            owns_dir,
            kind: Kind::Daemon { stop },
            child: Mutex::new(None),
            watchdog,
        })
    }

    /// The server's folder (data, logs, pid file).
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts `cmd` as the server, its output appended to `<dir>/<log>`, in a process group of its
    /// own, and waits until `ready()` holds (`what` says what that means, for the error). A server
    /// that exits or is not ready within `timeout` is an error (the latter killed) carrying the tail
    /// of its log.
    pub(crate) fn spawn(
        &self,
        mut cmd: Command,
        log: &str,
        timeout: Duration,
        (what, ready): (&str, impl Fn() -> bool),
    ) -> Result<()> {
        let Kind::Child { pid_file } = &self.kind else {
            return Err(Error("a daemon is not spawned as a child".into()));
        };
        let log_path = self.dir.join(log);
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let path = PathBuf::from(cmd.get_program());
        let program = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            // Its own process group: a Ctrl-C in the terminal must not take the server away before
            // whoever started it has stopped its clients (the watchdog or `Drop` stops it).
            .process_group(0)
            .spawn()
            .map_err(|e| Error(format!("could not start {}: {e}", path.display())))?;
        if let Err(e) = std::fs::write(pid_file, child.id().to_string()) {
            // Without its pid file the watchdog could not stop it: never leave it running.
            let _ = child.kill();
            let _ = child.wait();
            return Err(e.into());
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                let _ = std::fs::remove_file(pid_file);
                return Err(Error(format!(
                    "{program} exited at start-up ({status}); {}",
                    log_tail(&log_path)
                )));
            }
            if ready() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_file(pid_file);
                return Err(Error(format!(
                    "{program} did not {what} within {timeout:?} (killed); {}",
                    log_tail(&log_path)
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        *self.lock() = Some(child);
        Ok(())
    }

    /// Kills the child server (SIGKILL) and forgets its pid; nothing happens when none runs.
    pub(crate) fn kill(&self) {
        if let Some(mut child) = self.lock().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Kind::Child { pid_file } = &self.kind {
            let _ = std::fs::remove_file(pid_file);
        }
    }

    /// Asks the child server to stop (SIGTERM) and waits up to `grace` for it to exit, then kills it
    /// (SIGKILL); returns whether it exited by itself.
    pub(crate) fn terminate(&self, grace: Duration) -> bool {
        let mut exited = false;
        if let Some(mut child) = self.lock().take() {
            let _ = process::run(
                Command::new("kill")
                    .arg("-TERM")
                    .arg(child.id().to_string()),
                "stopping the server",
            );
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    exited = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !exited {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if let Kind::Child { pid_file } = &self.kind {
            let _ = std::fs::remove_file(pid_file);
        }
        exited
    }

    /// The pid of the running child server.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.lock().as_ref().map(Child::id)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The last lines of a server's log, for an error message (a JVM's log is long; its end says why).
fn log_tail(path: &Path) -> String {
    const LINES: usize = 40;
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(LINES);
    format!(
        "last {} lines of {}:\n{}",
        lines.len() - start,
        path.display(),
        lines[start..].join("\n")
    )
}

impl Drop for Launcher {
    fn drop(&mut self) {
        match &self.kind {
            Kind::Child { .. } => self.kill(),
            Kind::Daemon { stop } => {
                if let Some((program, args)) = stop.split_first() {
                    let _ = process::run(Command::new(program).args(args), "stopping the server");
                }
            }
        }
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Placement {
    /// Calls `start` with each port to try (the pinned one, or a few free ones) until one works;
    /// the last error otherwise.
    pub(crate) fn first_port<T>(&self, mut start: impl FnMut(u16) -> Result<T>) -> Result<T> {
        let mut last_error = Error("no port to try".into());
        for port in self.ports()? {
            match start(port) {
                Ok(started) => return Ok(started),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }
}

/// The one instance of a backend every test of this binary shares: the existing server named by the
/// environment variable `var` when it is set, otherwise one started on first use (and stopped by
/// its watchdog when the binary exits: statics are never dropped). A failure is kept, so every test
/// reports the same message.
pub(crate) fn shared<T: Send + Sync>(
    cell: &'static OnceLock<Result<T, String>>,
    var: &str,
    existing: impl FnOnce(&str) -> Result<T>,
    start: impl FnOnce() -> Result<T>,
) -> Result<&'static T> {
    cell.get_or_init(|| match std::env::var(var) {
        Ok(value) => existing(&value).map_err(|e| e.0),
        Err(_) => start().map_err(|e| e.0),
    })
    .as_ref()
    .map_err(|e| Error(e.clone()))
}

/// The part of a backend this process started, or the error a control (stop, restart, pause …)
/// gives for a server that was only pointed at (`REDIS_URL`, …): testkit does not stop strangers.
pub(crate) fn started<'a, T>(local: &'a Option<T>, what: &str) -> Result<&'a T> {
    local
        .as_ref()
        .ok_or_else(|| Error(format!("only a {what} started by testkit can be stopped")))
}
