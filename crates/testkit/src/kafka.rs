//! A throw-away Apache Kafka broker for tests and the local lab: the real broker, the kind lab's
//! version, run from its Maven Central jars on this machine's Java (see `kafka_dist`), one KRaft node
//! (broker and controller in one JVM) on free ports with its own data folder.
//!
//! [`KafkaBroker::shared`] gives one broker per test binary (tests isolate themselves with their own
//! topic names and group ids); [`KafkaBroker::start`] gives a dedicated one whose
//! [`stop`](KafkaBroker::stop) (SIGKILL, the way a broker crashes) and
//! [`start_again`](KafkaBroker::start_again) take the broker away from a running service and bring it
//! back on the same ports and the same data (acknowledged records and committed offsets survive: the
//! broker recovers its logs on start). [`pause`](KafkaBroker::pause) / [`resume`](KafkaBroker::resume)
//! freeze it instead (SIGSTOP / SIGCONT).
//!
//! The JVM is sized for a test machine: a 256 MiB heap (as in the kind lab), the serial collector,
//! the C1 compiler only, few threads, and an application class-data archive (AppCDS) of the classes
//! a broker loads, dumped once per Java into the cache by the first broker ever started; see
//! docs/local-lab.md for the start times and memory measured.
//!
//! `KAFKA_BROKERS` may point at an existing broker instead (then `stop`/`start_again` are errors).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::kafka_dist::Distribution;
use crate::launcher::{self, Launcher};
use crate::process::{self, Placement};
use crate::{Error, Result};

/// How long a starting broker may take to open its client port (≈3 s on an idle machine; a JVM
/// fighting a build for two cores takes several times that).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// JVM options: the kind lab's heap, the serial collector and C1 only (a test broker starts often
/// and works little: start-up and footprint matter more than peak throughput), no perf-data file.
/// Measured on 2 busy cores (load ≈ 10): C1 only took the start from 11–16 s to 8.5 s, the class
/// archive on top to 4.2 s, and the archive's shared mapping cut the RSS from 211 to 166 MB.
const JVM_OPTIONS: &[&str] = &[
    "-Xms256m",
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
];

/// A Kafka broker the tests may use: one this process started, or an existing one.
pub struct KafkaBroker {
    bootstrap: String,
    local: Option<Local>,
}

/// The parts of a broker this process started itself.
struct Local {
    launcher: Launcher,
    dist: Distribution,
    /// `-XX:SharedArchiveFile=…` (use the class archive), `-XX:ArchiveClassesAtExit=…` (the run
    /// that dumps it), or nothing.
    class_data: Option<String>,
    port: u16,
    controller_port: u16,
    timeout: Duration,
}

impl KafkaBroker {
    /// The broker shared by every test of this binary: `KAFKA_BROKERS` when that is set, otherwise a
    /// broker started on first use and stopped by the watchdog when the binary exits.
    pub fn shared() -> Result<&'static KafkaBroker> {
        static SHARED: OnceLock<Result<KafkaBroker, String>> = OnceLock::new();
        launcher::shared(
            &SHARED,
            "KAFKA_BROKERS",
            |brokers| Ok(Self::existing(brokers)),
            Self::start,
        )
    }

    /// Uses an existing broker (a `host:port[,host:port…]` bootstrap list).
    pub fn existing(brokers: &str) -> Self {
        Self {
            bootstrap: brokers.to_owned(),
            local: None,
        }
    }

    /// Starts a dedicated broker on free ports in a fresh temporary directory and waits until it
    /// accepts connections.
    pub fn start() -> Result<Self> {
        Self::start_with(&Placement::default())
    }

    /// Starts a dedicated broker where `placement` says (the local lab: a fixed port, its state
    /// folder; the controller listener takes a free port).
    pub fn start_with(placement: &Placement) -> Result<Self> {
        let dist = Distribution::locate()?;
        let class_data =
            class_archive(&dist).map(|a| format!("-XX:SharedArchiveFile={}", a.display()));
        Self::launch(dist, class_data, placement, START_TIMEOUT)
    }

    fn launch(
        dist: Distribution,
        class_data: Option<String>,
        placement: &Placement,
        timeout: Duration,
    ) -> Result<Self> {
        if let Some(port) = placement.port {
            ensure_free(port)?;
        }
        // SIGKILL: the way a crashed broker disappears, and nothing of a test's broker is worth a
        // clean shutdown (the data folder goes with it, or stays for the lab to look at).
        let launcher = Launcher::child(placement, "testkit-kafka", "kafka", "-9")?;
        let mut local = Local {
            launcher,
            dist,
            class_data,
            port: 0,
            controller_port: 0,
            timeout,
        };
        local.prepare_data()?;
        let port = placement.first_port(|port| {
            local.port = port;
            local.controller_port = process::free_port()?;
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

    /// Stops a dedicated broker abruptly (SIGKILL: the way a crashed broker disappears). Its data
    /// stays for [`start_again`](Self::start_again).
    pub fn stop(&self) -> Result<()> {
        self.local()?.launcher.kill();
        Ok(())
    }

    /// Starts a stopped dedicated broker again on the same ports and the same data folder, and waits
    /// until it accepts connections (it recovers its logs first).
    pub fn start_again(&self) -> Result<()> {
        let local = self.local()?;
        if local.launcher.pid().is_some() {
            return Err(Error("the Kafka broker is already running".into()));
        }
        ensure_free(local.port)?;
        local.spawn()
    }

    /// Starts a stopped dedicated broker again on the same ports with an empty data folder, as a
    /// Kafka pod on a new emptyDir comes back: no topics, no records, no committed offsets.
    pub fn start_again_empty(&self) -> Result<()> {
        let local = self.local()?;
        if local.launcher.pid().is_some() {
            return Err(Error("stop the Kafka broker before emptying it".into()));
        }
        std::fs::remove_dir_all(local.launcher.dir().join("data"))?;
        local.prepare_data()?;
        self.start_again()
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

    /// The broker's process id while it runs (for measuring it, e.g. its memory).
    pub fn pid(&self) -> Option<u32> {
        self.local.as_ref().and_then(|l| l.launcher.pid())
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
    /// The data folder starts as a formatted KRaft log directory: the two files `kafka-storage
    /// format` writes, made once per version by the fetch script (no second JVM per broker). A
    /// folder that already holds a broker's data (the lab's) is cleared by its owner beforehand.
    fn prepare_data(&self) -> Result<()> {
        let data = self.launcher.dir().join("data");
        std::fs::create_dir_all(&data)?;
        for file in ["meta.properties", "bootstrap.checkpoint"] {
            let target = data.join(file);
            if !target.exists() {
                std::fs::copy(self.dist.home.join("format").join(file), target)?;
            }
        }
        std::fs::write(self.launcher.dir().join("log4j2.properties"), LOG4J2)?;
        Ok(())
    }

    /// Writes the configuration for the current ports, starts the JVM and waits for the client port
    /// (the broker opens it only once it is ready); on failure the log's tail is in the error.
    fn spawn(&self) -> Result<()> {
        let dir = self.launcher.dir();
        let config = dir.join("server.properties");
        std::fs::write(
            &config,
            server_properties(self.port, self.controller_port, &dir.join("data")),
        )?;
        let mut cmd = Command::new(&self.dist.java);
        cmd.args(JVM_OPTIONS)
            .args(&self.class_data)
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                dir.join("log4j2.properties").display()
            ))
            .arg(format!("-Dkafka.logs.dir={}", dir.display()))
            .arg("-cp")
            .arg(self.dist.classpath())
            .arg("kafka.Kafka")
            .arg(&config)
            .current_dir(dir);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let listening = || TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
        let what = format!("accept connections on {addr}");
        self.launcher
            .spawn(cmd, "kafka.log", self.timeout, (&what, listening))
    }
}

/// The class archive for this Java (`<cache>/kafka/<version>/cds/<java>.jsa`), dumped now by a broker
/// of its own when there is none. Only a start-up optimisation: when the dump fails the reason is
/// printed and brokers start without it. The JVM checks the archive against itself and the jars and
/// ignores (with a warning in `kafka.log`) one that does not match.
fn class_archive(dist: &Distribution) -> Option<std::path::PathBuf> {
    let archive = dist
        .home
        .join("cds")
        .join(format!("{}.jsa", dist.java_key()));
    if archive.is_file() {
        return Some(archive);
    }
    match dump_class_archive(dist, &archive) {
        Ok(()) => Some(archive),
        Err(e) => {
            eprintln!("testkit: no Kafka class archive, brokers start slower: {e}");
            None
        }
    }
}

/// Starts a broker that writes the archive when it exits, waits until it is ready (every class of a
/// running broker loaded), stops it cleanly (SIGTERM: the JVM dumps at a normal exit) and moves the
/// archive into place (a rename: a concurrent dump by another test binary is harmless).
fn dump_class_archive(dist: &Distribution, archive: &Path) -> Result<()> {
    let dir = archive.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let partial = dir.join(format!(".dump-{}.jsa", std::process::id()));
    let started = std::time::Instant::now();
    let broker = KafkaBroker::launch(
        dist.clone(),
        Some(format!("-XX:ArchiveClassesAtExit={}", partial.display())),
        &Placement::default(),
        START_TIMEOUT,
    )?;
    let stopped = broker.local()?.launcher.terminate(Duration::from_secs(60));
    if !stopped || !partial.is_file() {
        let _ = std::fs::remove_file(&partial);
        return Err(Error(format!(
            "the dumping broker {} no archive",
            if stopped {
                "wrote"
            } else {
                "did not stop within 60 s of SIGTERM and wrote"
            }
        )));
    }
    std::fs::rename(&partial, archive)?;
    eprintln!(
        "testkit: dumped the Kafka class archive {} in {:.1?} (once per Java)",
        archive.display(),
        started.elapsed()
    );
    Ok(())
}

/// A pinned port must be free before the JVM starts: the broker binds its client port only at the
/// end of its start-up, and a stranger on the port would pass the readiness probe.
fn ensure_free(port: u16) -> Result<()> {
    TcpListener::bind(("127.0.0.1", port)).map(drop).map_err(|e| {
        Error(format!(
            "cannot start the Kafka broker: 127.0.0.1:{port} is in use ({e}); another broker or \
             lab may hold it (`ss -ltnp 'sport = :{port}'` shows which)"
        ))
    })
}

/// One combined broker+controller node, the kind lab's settings (auto-create off, replication
/// factor 1) plus what makes a test broker small and quick: one partition for the internal topics,
/// no rebalance delay, short session timeouts allowed, few threads, a small log-cleaner buffer.
fn server_properties(port: u16, controller_port: u16, data: &Path) -> String {
    format!(
        "# Written by testkit (crates/testkit/src/kafka.rs) at every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=500
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
group.coordinator.threads=1
share.coordinator.threads=1
log.cleaner.dedupe.buffer.size=4194304
",
        data = data.display()
    )
}

/// The broker logs to stdout (the launcher appends it to `kafka.log`): INFO for the broker's own
/// story (start, recovery, group rebalances), WARN for the chatty request and config loggers.
const LOG4J2: &str = "status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.config.name = org.apache.kafka.common.config
logger.config.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
";

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn accepts(port: u16) -> bool {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    }

    #[test]
    fn killed_and_started_again_on_the_same_port_and_data() {
        let broker = KafkaBroker::start().unwrap();
        let port: u16 = broker
            .bootstrap()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(accepts(port));
        let local = broker.local().unwrap();
        let data = local.launcher.dir().join("data");
        broker.stop().unwrap();
        assert!(!accepts(port), "killed: connection refused");
        assert!(broker.pid().is_none());
        assert!(data.join("__cluster_metadata-0").is_dir(), "the data stays");
        broker.start_again().unwrap();
        assert!(accepts(port), "back on the same port");
        assert!(broker.start_again().is_err(), "already running");
        assert!(broker.start_again_empty().is_err(), "running: not emptied");
    }

    #[test]
    fn a_broker_that_never_gets_ready_is_killed_with_its_log() {
        // A `java` that says it is Java 17, logs a line and then hangs, as a wedged JVM would.
        let dir = process::temp_dir("testkit-kafka-hang").unwrap();
        let java = dir.join("java");
        std::fs::write(
            &java,
            "#!/bin/sh\necho 'openjdk version \"17.0.1\"' >&2\necho 'stuck recovering logs'\nexec sleep 60\n",
        )
        .unwrap();
        std::fs::set_permissions(&java, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(dir.join("home/format")).unwrap();
        for file in ["meta.properties", "bootstrap.checkpoint"] {
            std::fs::write(dir.join("home/format").join(file), "").unwrap();
        }
        let dist = Distribution {
            java,
            home: dir.join("home"),
        };
        let started = std::time::Instant::now();
        // A pinned port gives one attempt (no retries on other ports). A port free a moment ago
        // can be taken by a concurrent test before the launch checks it: then take another.
        let mut err = String::new();
        for _ in 0..3 {
            let placement = Placement {
                port: Some(process::free_port().unwrap()),
                dir: Some(dir.join("broker")),
            };
            err = KafkaBroker::launch(dist.clone(), None, &placement, Duration::from_secs(2))
                .err()
                .unwrap()
                .0;
            if !err.contains("is in use") {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(20), "bounded wait");
        assert!(err.contains("did not accept connections"), "{err}");
        assert!(err.contains("within 2s (killed)"), "{err}");
        assert!(
            err.contains("stuck recovering logs"),
            "the log's tail: {err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_port_in_use_is_named_before_any_jvm_starts() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = ensure_free(port).unwrap_err().0;
        assert!(
            err.contains(&format!("127.0.0.1:{port} is in use")),
            "{err}"
        );
        drop(taken);
        ensure_free(port).unwrap();
    }
}
