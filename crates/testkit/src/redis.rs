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
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::launcher::{self, Launcher};
use crate::process::{Placement, find_binary};
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
    launcher: Launcher,
    binary: PathBuf,
    port: u16,
}

impl RedisServer {
    /// The server shared by every test of this binary: `REDIS_URL`'s server when that is set,
    /// otherwise one started on first use and stopped by the watchdog when the binary exits.
    pub fn shared() -> Result<&'static RedisServer> {
        static SHARED: OnceLock<Result<RedisServer, String>> = OnceLock::new();
        launcher::shared(
            &SHARED,
            "REDIS_URL",
            |url| Ok(Self::existing(url)),
            Self::start,
        )
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
        // Redis shuts down cleanly on SIGTERM; there is nothing to persist either way.
        let launcher = Launcher::child(placement, "testkit-redis", "redis", "-TERM")?;
        let port = placement.first_port(|port| {
            spawn(&launcher, &binary, port)?;
            Ok(port)
        })?;
        Ok(Self {
            url: format!("redis://127.0.0.1:{port}/0"),
            local: Some(Local {
                launcher,
                binary,
                port,
            }),
        })
    }

    /// `redis://127.0.0.1:<port>/0` (or `REDIS_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills a dedicated server (SIGKILL: an abrupt outage, connections reset).
    pub fn stop(&self) -> Result<()> {
        self.local()?.launcher.kill();
        Ok(())
    }

    /// Starts a stopped dedicated server again on the same port (its data is gone: no persistence).
    pub fn restart(&self) -> Result<()> {
        let local = self.local()?;
        if local.launcher.pid().is_some() {
            return Err(Error("redis-server is already running".into()));
        }
        spawn(&local.launcher, &local.binary, local.port)
    }

    fn local(&self) -> Result<&Local> {
        launcher::started(&self.local, "server")
    }
}

/// Starts `redis-server` on `port` and waits until it answers `PING`.
fn spawn(launcher: &Launcher, binary: &Path, port: u16) -> Result<()> {
    let mut cmd = Command::new(binary);
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(launcher.dir());
    launcher.spawn(
        cmd,
        "redis.log",
        START_TIMEOUT,
        ("answer PING", || ping(port)),
    )
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
