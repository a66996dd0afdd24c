//! A throw-away `redis-server` for tests.
//!
//! [`RedisServer::shared`] starts one server per test binary (or uses `REDIS_URL`); tests isolate
//! themselves with key prefixes. [`RedisServer::start`] gives a dedicated server — what a test needs
//! when it reads `INFO commandstats` or takes Redis away: [`stop`](RedisServer::stop) kills it and
//! [`restart`](RedisServer::restart) brings it back on the SAME port, so a client configured
//! with the URL can reconnect by itself.
//!
//! The server is configured for tests: no persistence (`--save "" --appendonly no`), bound to
//! 127.0.0.1 on a free port, working directory and log in its own temporary directory. Redis is happy
//! to run as root, so unlike PostgreSQL it runs as the current user.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::process::{self, Placement, find_binary};
use crate::{Error, Result};

const INSTALL_HINT: &str =
    "`apt-get install redis-server` (Debian/Ubuntu), or enter the Nix devShell";
/// How long a starting server may take to answer `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A Redis server the tests may use: one this process started, or an existing one.
pub struct RedisServer {
    url: String,
    local: Option<Local>,
}

struct Local {
    binary: PathBuf,
    dir: PathBuf,
    /// A temporary directory of ours, removed with the server (not a caller's folder).
    owns_dir: bool,
    port: u16,
    child: Mutex<Option<Child>>,
    watchdog: Child,
}

impl RedisServer {
    /// The server shared by every test of this binary: `REDIS_URL`'s server when that is set,
    /// otherwise one started on first use and stopped by the watchdog when the binary exits.
    pub fn shared() -> Result<&'static RedisServer> {
        static SHARED: OnceLock<Result<RedisServer, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| match std::env::var("REDIS_URL") {
                Ok(url) => Ok(Self::existing(&url)),
                Err(_) => Self::start().map_err(|e| e.0),
            })
            .as_ref()
            .map_err(|e| Error(e.clone()))
    }

    /// Uses an existing server (tests must then use their own key prefixes).
    pub fn existing(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            local: None,
        }
    }

    /// Starts a dedicated server on a free port in a fresh temporary directory.
    pub fn start() -> Result<Self> {
        Self::start_with(&Placement::default())
    }

    /// Starts a dedicated server where `placement` says (the local lab: a fixed port, its state folder).
    pub fn start_with(placement: &Placement) -> Result<Self> {
        let binary = find_binary(
            "redis-server",
            &[PathBuf::from("/usr/local/bin")],
            INSTALL_HINT,
        )?;
        let (dir, owns_dir) = placement.directory("testkit-redis")?;
        let pidfile = dir.join("redis.pid");
        // Arm the watchdog before the server exists, so no failure below can leak a server. The pid
        // file is rewritten on every (re)start, so the watchdog always stops the current process.
        let stop = [
            "sh".to_owned(),
            "-c".to_owned(),
            format!("kill $(cat '{}')", pidfile.display()),
        ];
        let watchdog = process::watchdog(&stop, owns_dir.then_some(dir.as_path()))?;
        let mut last_error = Error("no attempt".into());
        for port in placement.ports()? {
            match spawn(&binary, &dir, port) {
                Ok(child) => {
                    return Ok(Self {
                        url: format!("redis://127.0.0.1:{port}/0"),
                        local: Some(Local {
                            binary,
                            dir,
                            owns_dir,
                            port,
                            child: Mutex::new(Some(child)),
                            watchdog,
                        }),
                    });
                }
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// `redis://127.0.0.1:<port>/0` (or `REDIS_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills a dedicated server (SIGKILL: an abrupt outage, connections reset).
    pub fn stop(&self) -> Result<()> {
        let local = self.local()?;
        let mut child = local.child.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut c) = child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        Ok(())
    }

    /// Starts a stopped dedicated server again on the same port (its data is gone: no persistence).
    pub fn restart(&self) -> Result<()> {
        let local = self.local()?;
        let mut child = local.child.lock().unwrap_or_else(PoisonError::into_inner);
        if child.is_some() {
            return Err(Error("redis-server is already running".into()));
        }
        *child = Some(spawn(&local.binary, &local.dir, local.port)?);
        Ok(())
    }

    fn local(&self) -> Result<&Local> {
        self.local
            .as_ref()
            .ok_or_else(|| Error("only a server started by testkit can be stopped".into()))
    }
}

/// Spawns `redis-server` on `port` and waits until it answers `PING`.
fn spawn(binary: &Path, dir: &Path, port: u16) -> Result<Child> {
    let log = std::fs::File::create(dir.join("redis.log"))?;
    let mut child = Command::new(binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--pidfile")
        .arg(dir.join("redis.pid"))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: a Ctrl-C in the terminal must not take the server away before
        // whoever started it has stopped its clients (the watchdog or `Drop` stops it).
        .process_group(0)
        .spawn()
        .map_err(|e| Error(format!("could not start {}: {e}", binary.display())))?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if ping(port) {
            return Ok(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
            return Err(Error(format!("redis-server exited ({status}):\n{tail}")));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error(format!(
                "redis-server did not answer PING within {START_TIMEOUT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One `PING` over a plain socket (no client library needed here).
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(local) = &mut self.local {
            if let Some(mut c) = local
                .child
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                let _ = c.kill();
                let _ = c.wait();
            }
            let _ = local.watchdog.kill();
            let _ = local.watchdog.wait();
            if local.owns_dir {
                let _ = std::fs::remove_dir_all(&local.dir);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port_of(url: &str) -> u16 {
        url.trim_end_matches("/0")
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn stop_and_restart_keep_the_port() {
        let server = RedisServer::start().unwrap();
        let port = port_of(server.url());
        assert!(ping(port));
        server.stop().unwrap();
        assert!(!ping(port), "stopped: connection refused");
        server.restart().unwrap();
        assert!(ping(port), "back on the same port");
        assert!(server.restart().is_err(), "already running");
    }

    #[test]
    fn an_existing_server_cannot_be_stopped() {
        let server = RedisServer::existing("redis://127.0.0.1:1/0");
        assert_eq!(server.url(), "redis://127.0.0.1:1/0");
        assert!(
            server
                .stop()
                .unwrap_err()
                .0
                .contains("only a server started by testkit")
        );
    }
}
