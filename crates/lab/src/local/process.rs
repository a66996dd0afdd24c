//! One service process of the lab: spawned with its environment and its own log file, probed for
//! readiness, stopped with SIGTERM (the Kubernetes path: drain, then exit 0) and SIGKILL after a grace.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::local::plan::{Plan, Probe, ServiceSpec};

/// A running (or exited) service process.
pub struct ServiceProcess {
    pub spec: ServiceSpec,
    child: Mutex<Child>,
    /// Kills the service if the supervisor itself dies without stopping it (e.g. `kill -9`).
    watchdog: Child,
}

impl ServiceProcess {
    /// Starts `spec`'s binary. Its stdout and stderr go to `logs/<name>.log` (appended). It runs in a
    /// process group of its own, so a Ctrl-C in the terminal reaches only the supervisor, which then
    /// stops the services before their backends — never the other way round.
    pub fn spawn(spec: &ServiceSpec, plan: &Plan) -> anyhow::Result<Self> {
        Self::spawn_with(spec, plan, &[])
    }

    /// [`ServiceProcess::spawn`] with `extra` environment after the spec's own (it wins): a rollout's
    /// flags.
    pub fn spawn_with(
        spec: &ServiceSpec,
        plan: &Plan,
        extra: &[(String, String)],
    ) -> anyhow::Result<Self> {
        use std::os::unix::process::CommandExt;
        let log_path = plan.log_file(spec.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let binary = plan.bin_dir.join(spec.binary);
        let mut cmd = Command::new(&binary);
        cmd.args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .envs(extra.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        if std::env::var_os("LOG_FORMAT").is_none() {
            cmd.env("LOG_FORMAT", "json");
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().to_string();
        let watchdog = testkit::process::watchdog(&["kill", "-9", &pid], None)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Self {
            spec: spec.clone(),
            child: Mutex::new(child),
            watchdog,
        })
    }

    pub fn pid(&self) -> u32 {
        self.lock().id()
    }

    /// The exit status once the process has ended; `None` while it runs.
    pub fn exited(&self) -> Option<ExitStatus> {
        self.lock().try_wait().ok().flatten()
    }

    /// SIGTERM, then up to `grace` for the process to drain and exit, then SIGKILL.
    pub fn stop(&self, grace: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.exited() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut child = self.lock();
        let _ = child.kill();
        child.wait().ok()
    }

    /// Waits until the service passes its readiness probe; fails early, with the end of its log,
    /// when it exits instead.
    pub async fn wait_ready(&self, timeout: Duration, log: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                bail!(
                    "{} exited during start-up ({status}); end of {}:\n{}",
                    self.spec.name,
                    log.display(),
                    log_tail(log, 20)
                );
            }
            if probe(self.spec.probe).await {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} was not ready within {timeout:?}; end of {}:\n{}",
                    self.spec.name,
                    log.display(),
                    log_tail(log, 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Child> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// One readiness probe: `GET /ready` answered 200, or the port accepting connections.
pub async fn probe(probe: Probe) -> bool {
    match probe {
        Probe::Listening(port) => tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok(),
        Probe::GrpcServing(port) => {
            tokio::time::timeout(Duration::from_secs(2), grpc_serving(port))
                .await
                .is_ok_and(|ok| ok)
        }
        Probe::HttpReady(port) => {
            tokio::time::timeout(Duration::from_secs(2), http_status(port, "/ready"))
                .await
                .ok()
                .flatten()
                == Some(200)
        }
    }
}

/// Whether the gRPC server on `port` answers the standard health check with SERVING.
async fn grpc_serving(port: u16) -> bool {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
    else {
        return false;
    };
    let Ok(channel) = endpoint.connect().await else {
        return false;
    };
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await;
    reply.is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32)
}

/// The status code of a plain HTTP/1.1 GET (no client library: the lab only needs this much).
pub async fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.ok()?;
    // "HTTP/1.1 200"
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// The last `lines` lines of a log file (empty when unreadable).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
