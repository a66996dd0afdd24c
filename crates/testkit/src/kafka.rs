//! A throw-away Kafka-protocol broker for tests: [tansu](https://github.com/tansu-io/tansu) on a free port.
//!
//! tansu speaks the Kafka wire protocol (produce, fetch, consumer groups, admin) from one small Rust
//! binary with no JVM and no ZooKeeper/KRaft, which is what a test needs. [`KafkaBroker::shared`]
//! gives one broker per test binary (tests isolate themselves with their own topic names and group
//! ids); [`KafkaBroker::start`] gives a dedicated one whose [`stop`](KafkaBroker::stop) and
//! [`start_again`](KafkaBroker::start_again) take the broker away from a running service and bring it
//! back on the same port. Storage is in memory by default; [`Storage::Sqlite`] keeps a database file in
//! the broker's temporary directory so data (topics, records, committed offsets) survives a restart.
//! [`pause`](KafkaBroker::pause) / [`resume`](KafkaBroker::resume) freeze the broker instead (SIGSTOP /
//! SIGCONT), which keeps in-memory data.
//!
//! Known limit (tansu 0.6.0): its SQLite engine panics on the first idempotent produce
//! (`lite.rs:503 "more or less than one row"`) and then fails every request, so services using
//! `enable.idempotence` cannot use [`Storage::Sqlite`]; outage tests pause an in-memory broker.
//!
//! `KAFKA_BROKERS` may point at an existing broker instead (then `stop`/`start_again` are errors).

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::launcher::{self, Launcher};
use crate::process::{self, Placement, find_binary};
use crate::{Error, Result};

const INSTALL_HINT: &str = "`cargo install tansu --locked --version 0.6.0 --features dynostore,libsql` \
     (puts `tansu` in ~/.cargo/bin), or enter the Nix devShell";
/// How long a starting broker may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a testkit broker keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// Nothing survives [`KafkaBroker::stop`] (fast; the default).
    Memory,
    /// A SQLite file in the broker's temporary directory: survives a stop/start.
    Sqlite,
}

/// A Kafka-protocol broker the tests may use: one this process started, or an existing one.
pub struct KafkaBroker {
    bootstrap: String,
    local: Option<Local>,
}

/// The parts of a broker this process started itself.
struct Local {
    launcher: Launcher,
    binary: PathBuf,
    port: u16,
    storage: Storage,
}

impl KafkaBroker {
    /// The broker shared by every test of this binary: `KAFKA_BROKERS` when that is set, otherwise an
    /// in-memory tansu started on first use and stopped by the watchdog when the binary exits.
    pub fn shared() -> Result<&'static KafkaBroker> {
        static SHARED: OnceLock<Result<KafkaBroker, String>> = OnceLock::new();
        launcher::shared(
            &SHARED,
            "KAFKA_BROKERS",
            |brokers| Ok(Self::existing(brokers)),
            || Self::start(Storage::Memory),
        )
    }

    /// Uses an existing broker (a `host:port[,host:port…]` bootstrap list).
    pub fn existing(brokers: &str) -> Self {
        Self {
            bootstrap: brokers.to_owned(),
            local: None,
        }
    }

    /// Starts a dedicated tansu on a free port in a fresh temporary directory and waits until it
    /// accepts connections.
    pub fn start(storage: Storage) -> Result<Self> {
        Self::start_with(storage, &Placement::default())
    }

    /// Starts a dedicated broker where `placement` says (the local lab: a fixed port, its state folder).
    pub fn start_with(storage: Storage, placement: &Placement) -> Result<Self> {
        let binary = find_binary("tansu", &cargo_bin_dir(), INSTALL_HINT)?;
        // SIGKILL: the way a crashed broker disappears, and nothing of a test's broker is worth
        // a clean shutdown.
        let launcher = Launcher::child(placement, "testkit-kafka", "tansu", "-9")?;
        let mut local = Local {
            launcher,
            binary,
            port: 0,
            storage,
        };
        let port = placement.first_port(|port| {
            local.port = port;
            local.spawn()?;
            Ok(port)
        })?;
        Ok(Self {
            bootstrap: format!("127.0.0.1:{port}"),
            local: Some(local),
        })
    }

    /// The bootstrap list for `bootstrap.servers` / `KAFKA_BROKERS`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Stops a dedicated broker abruptly (SIGKILL: the way a crashed broker disappears).
    pub fn stop(&self) -> Result<()> {
        self.local()?.launcher.kill();
        Ok(())
    }

    /// Starts a stopped dedicated broker again on the same port (with its data, for
    /// [`Storage::Sqlite`]).
    pub fn start_again(&self) -> Result<()> {
        self.local()?.spawn()
    }

    /// Freezes a dedicated broker (SIGSTOP): it keeps its port and data but answers nothing, as an
    /// overloaded or partitioned broker does. [`resume`](Self::resume) thaws it.
    pub fn pause(&self) -> Result<()> {
        self.signal("-STOP")
    }

    /// Thaws a paused broker (SIGCONT); it serves the requests that queued up meanwhile.
    pub fn resume(&self) -> Result<()> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> Result<()> {
        let pid = self
            .local()?
            .launcher
            .pid()
            .ok_or_else(|| Error("the broker is stopped".into()))?;
        process::run(
            Command::new("kill").arg(signal).arg(pid.to_string()),
            "signalling the broker",
        )
    }

    fn local(&self) -> Result<&Local> {
        launcher::started(&self.local, "broker")
    }
}

impl Local {
    /// Starts the broker process and waits for its port; on failure the log tail is in the error.
    fn spawn(&self) -> Result<()> {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let storage = match self.storage {
            Storage::Memory => "memory://tansu/".to_owned(),
            // Relative to the broker's working directory, which is its folder.
            Storage::Sqlite => "sqlite://tansu.db".to_owned(),
        };
        let mut cmd = Command::new(&self.binary);
        cmd.arg("broker")
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", &storage])
            .current_dir(self.launcher.dir());
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let listening = || TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
        let what = format!("accept connections on {addr}");
        self.launcher
            .spawn(cmd, "tansu.log", START_TIMEOUT, (&what, listening))
    }
}

/// `cargo install` puts binaries in `$CARGO_HOME/bin` (default `~/.cargo/bin`), which is not always on
/// `PATH` for test runs.
fn cargo_bin_dir() -> Vec<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    home.map(|h| vec![h.join("bin")]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_broker_binary_names_the_install_command() {
        // Same lookup as `start`, for a name that cannot exist (PATH cannot be changed safely here).
        let err = find_binary("tansu-not-installed", &cargo_bin_dir(), INSTALL_HINT).unwrap_err();
        assert!(
            err.0.contains(
                "cargo install tansu --locked --version 0.6.0 --features dynostore,libsql"
            ),
            "{err}"
        );
    }
}
