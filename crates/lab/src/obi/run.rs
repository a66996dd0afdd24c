//! OBI and a Prometheus beside the local lab (`lab dev --obi`), started before the apps.
//!
//! OBI must see every connection from its first bytes (HPACK state for gRPC methods, Kafka's Metadata
//! exchange for topic names, PostgreSQL's Parse for statement text). Its generic tracer — the kprobes
//! — is loaded when OBI instruments the first non-Go process, and a process is watched only once OBI
//! has admitted its pid. So the lab first runs a sentinel (a copy of `sleep` under a name of its own)
//! that the config selects, waits until OBI's own metric `obi_instrumented_processes` counts it — set
//! only after the tracer loaded and the pid was admitted (OBI's `traceAttacher`) — and only then starts
//! the services, which OBI then admits within `discovery.min_process_age`.
//!
//! OBI's stdout carries both its log and the JSON trace printer's batches (one JSON array per line):
//! the lab splits them into `logs/obi.log` and `obi/spans.json`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

use crate::local::plan::Plan;
use crate::local::process::log_tail;
use crate::obi::config::{self, INTERNAL_METRICS_PATH, SENTINEL};

/// The ports of OBI's metrics endpoint and of the lab's Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObiPorts {
    pub metrics: u16,
    pub prometheus: u16,
}

impl ObiPorts {
    /// OBI on 9400 (as in the kind lab), Prometheus on its usual 9090.
    pub const fn standard() -> Self {
        Self {
            metrics: 9400,
            prometheus: 9090,
        }
    }

    pub fn free() -> std::io::Result<Self> {
        let a = TcpListener::bind("127.0.0.1:0")?;
        let b = TcpListener::bind("127.0.0.1:0")?;
        Ok(Self {
            metrics: a.local_addr()?.port(),
            prometheus: b.local_addr()?.port(),
        })
    }

    fn check_free(&self) -> anyhow::Result<()> {
        for (name, port) in [
            ("OBI metrics", self.metrics),
            ("Prometheus", self.prometheus),
        ] {
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                bail!(
                    "port {port} ({name}) is already in use; run the lab on free ports: \
                     `just dev --obi --free-ports`"
                );
            }
        }
        Ok(())
    }
}

/// What `lab dev --obi` needs besides the lab's own plan.
#[derive(Debug, Clone)]
pub struct ObiOptions {
    /// The OBI binary (`lab obi build` caches it).
    pub binary: PathBuf,
    /// The checkout: the kind lab's OBI config is read from it.
    pub repo: PathBuf,
    pub ports: ObiPorts,
    /// How long OBI may take to load its tracer (~100 s in a TCG VM, seconds on a host).
    pub ready_timeout: Duration,
}

/// Where to look once it runs.
#[derive(Debug, Clone)]
pub struct ObiPaths {
    pub config: PathBuf,
    pub log: PathBuf,
    pub spans: PathBuf,
    pub prometheus_log: PathBuf,
    pub metrics_url: String,
    pub prometheus_url: String,
}

impl ObiPaths {
    fn new(plan: &Plan, ports: ObiPorts) -> Self {
        let dir = plan.state_dir.join("obi");
        Self {
            config: dir.join("obi-config.yml"),
            log: plan.log_file("obi"),
            spans: dir.join("spans.json"),
            prometheus_log: plan.log_file("prometheus"),
            metrics_url: format!("http://127.0.0.1:{}/metrics", ports.metrics),
            prometheus_url: format!("http://127.0.0.1:{}", ports.prometheus),
        }
    }
}

/// OBI, its sentinel and Prometheus, running. Dropping it stops them (SIGTERM: OBI detaches its probes).
pub struct Watchers {
    pub paths: ObiPaths,
    ports: ObiPorts,
    obi: Daemon,
    prometheus: Daemon,
    sentinel: Daemon,
}

impl Watchers {
    /// Writes the configs and starts the sentinel, OBI and Prometheus (none waited for yet).
    pub fn start(options: &ObiOptions, plan: &Plan) -> anyhow::Result<Self> {
        options.ports.check_free()?;
        let paths = ObiPaths::new(plan, options.ports);
        let dir = plan.state_dir.join("obi");
        let prom_dir = plan.state_dir.join("prometheus");
        for d in [&dir, &prom_dir] {
            if d.exists() {
                std::fs::remove_dir_all(d)
                    .with_context(|| format!("cannot clear {}", d.display()))?;
            }
            std::fs::create_dir_all(d)?;
        }
        let prometheus = testkit::process::find_binary(
            "prometheus",
            &[PathBuf::from("/usr/bin")],
            "`apt-get install prometheus` (Debian: nothing is started by the package in a container)",
        )
        .map_err(|e| anyhow!("{e}"))?;

        // The sentinel: `sleep` under a name nothing else on the machine has.
        let sleep = testkit::process::find_binary("sleep", &[PathBuf::from("/bin")], "coreutils")
            .map_err(|e| anyhow!("{e}"))?;
        let sentinel_exe = dir.join(SENTINEL);
        std::fs::copy(&sleep, &sentinel_exe).context("cannot copy `sleep` as OBI's sentinel")?;
        let sentinel_exe = sentinel_exe.canonicalize()?;

        let mut bin_plan = plan.clone();
        // OBI matches the path the kernel reports for each process: absolute, symlinks resolved.
        bin_plan.bin_dir = plan
            .bin_dir
            .canonicalize()
            .unwrap_or_else(|_| plan.bin_dir.clone());
        let kind = config::kind_config(&options.repo)?;
        let targets = config::targets(&bin_plan, &sentinel_exe);
        let derived = config::derive(&kind, &targets, options.ports.metrics);
        let yaml = format!(
            "# Written by `lab dev --obi` from {} (see crates/lab/src/obi/config.rs).\n{}",
            config::KIND_CONFIG,
            serde_yaml::to_string(&derived)?
        );
        std::fs::write(&paths.config, yaml)?;
        let prom_config = prom_dir.join("prometheus.yml");
        std::fs::write(
            &prom_config,
            config::prometheus_config(options.ports.metrics),
        )?;

        let sentinel = Daemon::spawn(
            Command::new(&sentinel_exe).arg("infinity"),
            &plan.log_file(SENTINEL),
            None,
        )?;
        let obi = Daemon::spawn(
            Command::new(&options.binary).arg(format!("--config={}", paths.config.display())),
            &paths.log,
            Some(&paths.spans),
        )
        .with_context(|| format!("cannot start OBI ({})", options.binary.display()))?;
        let prometheus = Daemon::spawn(
            Command::new(prometheus)
                .arg(format!("--config.file={}", prom_config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    prom_dir.join("data").display()
                ))
                .arg(format!(
                    "--web.listen-address=127.0.0.1:{}",
                    options.ports.prometheus
                )),
            &paths.prometheus_log,
            None,
        )?;
        Ok(Self {
            paths,
            ports: options.ports,
            obi,
            prometheus,
            sentinel,
        })
    }

    /// Waits until OBI's tracer is loaded (the sentinel is instrumented) and Prometheus answers.
    pub async fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let internal = format!(
            "http://127.0.0.1:{}{INTERNAL_METRICS_PATH}",
            self.ports.metrics
        );
        loop {
            if let Some(status) = self.obi.exited() {
                bail!(
                    "OBI exited during start-up ({status}); end of {}:\n{}",
                    self.paths.log.display(),
                    log_tail(&self.paths.log, 25)
                );
            }
            if let Some(line) = fatal_line(&self.paths.log) {
                bail!(
                    "OBI cannot trace here: {line}\nEnd of {}:\n{}",
                    self.paths.log.display(),
                    log_tail(&self.paths.log, 25)
                );
            }
            if let Ok(body) = get(&internal).await
                && instrumented(&body, SENTINEL) > 0.0
            {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "OBI did not load its tracer within {timeout:?} (no obi_instrumented_processes \
                     for {SENTINEL} at {internal}); end of {}:\n{}",
                    self.paths.log.display(),
                    log_tail(&self.paths.log, 25)
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let ready = format!("{}/-/ready", self.paths.prometheus_url);
        loop {
            if get(&ready).await.is_ok() {
                return Ok(());
            }
            if self.prometheus.exited().is_some() || Instant::now() > deadline {
                bail!(
                    "Prometheus is not ready; end of {}:\n{}",
                    self.paths.prometheus_log.display(),
                    log_tail(&self.paths.prometheus_log, 15)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Which of OBI, Prometheus and the sentinel have exited.
    pub fn exited(&self) -> Vec<(&'static str, std::process::ExitStatus)> {
        [
            ("obi", &self.obi),
            ("prometheus", &self.prometheus),
            (SENTINEL, &self.sentinel),
        ]
        .into_iter()
        .filter_map(|(n, d)| d.exited().map(|s| (n, s)))
        .collect()
    }
}

/// The value of `obi_instrumented_processes{process_name="<name>"}` in a scrape (0 when absent).
pub fn instrumented(scrape: &str, name: &str) -> f64 {
    let label = format!("process_name=\"{name}\"");
    scrape
        .lines()
        .filter(|l| l.starts_with("obi_instrumented_processes{") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// OBI keeps running after some failures that leave it tracing nothing (seen on a kernel without
/// kprobes: its process watcher cannot attach and "Application instrumentation has stopped working"):
/// the first such log line, so the lab fails at once instead of at the timeout.
fn fatal_line(log: &Path) -> Option<String> {
    const FATAL: [&str; 3] = [
        "instrumentation has stopped working",
        "couldn't trace process",
        "cant start process tracer",
    ];
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .find(|l| l.contains("level=ERROR") && FATAL.iter().any(|f| l.contains(f)))
        .map(str::to_owned)
}

async fn get(url: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let response = client.get(url).send().await?.error_for_status()?;
    Ok(response.text().await?)
}

/// A background process of the lab's own (not a service): own process group, output to a log file,
/// killed by a watchdog if the lab dies, SIGTERM then SIGKILL on drop.
struct Daemon {
    child: Mutex<Child>,
    watchdog: Child,
}

impl Daemon {
    /// `spans`: lines of stdout starting with `[` (the JSON trace printer's batches) go there.
    fn spawn(cmd: &mut Command, log: &Path, spans: Option<&Path>) -> anyhow::Result<Self> {
        use std::os::unix::process::CommandExt;
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stderr(log_file.try_clone()?)
            .process_group(0);
        if spans.is_some() {
            cmd.stdout(Stdio::piped());
        } else {
            cmd.stdout(log_file.try_clone()?);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
        if let (Some(spans), Some(stdout)) = (spans, child.stdout.take()) {
            let mut spans_file = std::fs::File::create(spans)?;
            let mut log_file = log_file;
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let sink: &mut std::fs::File = if line.starts_with('[') {
                        &mut spans_file
                    } else {
                        &mut log_file
                    };
                    let _ = writeln!(sink, "{line}");
                }
            });
        }
        let pid = child.id().to_string();
        let watchdog =
            testkit::process::watchdog(&["kill", "-9", &pid], None).map_err(|e| anyhow!("{e}"))?;
        Ok(Self {
            child: Mutex::new(child),
            watchdog,
        })
    }

    fn exited(&self) -> Option<std::process::ExitStatus> {
        self.lock().try_wait().ok().flatten()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let pid = self.lock().id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            // OBI detaches its probes on SIGTERM (its shutdown_timeout is 10 s).
            let deadline = Instant::now() + Duration::from_secs(12);
            while self.exited().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let mut child = self.lock();
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sentinel_counts_once_obi_reports_it() {
        let scrape = "# HELP obi_instrumented_processes instrumented processes by OBI\n\
                      obi_instrumented_processes{process_name=\"catalog\"} 1\n\
                      obi_instrumented_processes{process_name=\"mop-obi-sentinel\"} 1\n";
        assert_eq!(instrumented(scrape, SENTINEL), 1.0);
        assert_eq!(instrumented(scrape, "orders"), 0.0);
        assert_eq!(instrumented("", SENTINEL), 0.0);
    }

    #[test]
    fn a_tracer_that_stopped_is_found_in_the_log() {
        let log = std::env::temp_dir().join(format!("obi-log-{}", std::process::id()));
        // Lines as OBI printed them on this machine's kernel (no kprobes).
        std::fs::write(&log, "time=x level=WARN msg=\"invalid 'unmatch' value\"\n\
            time=x level=ERROR msg=\"processEvents channel closed. Application instrumentation has stopped working\" component=obi.Instrumenter\n").unwrap();
        assert!(fatal_line(&log).unwrap().contains("stopped working"));
        std::fs::write(&log, "time=x level=INFO msg=\"instrumenting process\"\n").unwrap();
        assert_eq!(fatal_line(&log), None);
        std::fs::remove_file(&log).unwrap();
    }

    #[test]
    fn standard_ports_are_the_kind_labs_and_prometheus_defaults() {
        assert_eq!(ObiPorts::standard().metrics, 9400);
        let free = ObiPorts::free().unwrap();
        assert_ne!(free.metrics, free.prometheus);
    }
}
