//! Changing a running local lab the way the scenarios change the kind lab: stop and start one service
//! (`scale 0` / `scale 1`), restart it with flags set or unset (an `env` rollout: the new process
//! gets the plan's environment plus the rollout's flags, as a new pod gets the Deployment's), stop and
//! start one backend (PostgreSQL and the Kafka broker come back with their data, as their kind pods do
//! after a container restart on the same emptyDir; Redis comes back empty: it persists nothing), and cut or restore one edge ([`super::relay`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};

use crate::local::plan::Ports;
use crate::local::process::ServiceProcess;
use crate::local::supervisor::Lab;

/// How long a (re)started service may take to become ready (auth hashes its demo users at start).
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a stopped service may drain before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// What is on the far end of a cuttable edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    Postgres,
    Redis,
    Kafka,
    /// The gateway's upstream.
    Catalog,
}

impl Upstream {
    pub(super) fn addr(self, ports: &Ports) -> anyhow::Result<SocketAddr> {
        let port = match self {
            Upstream::Postgres => ports.postgres,
            Upstream::Redis => ports.redis,
            Upstream::Catalog => ports.catalog,
            Upstream::Kafka => bail!(kafka_refused()),
        };
        Ok(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// The client's variable that names this upstream.
    pub(super) fn env_key(self) -> anyhow::Result<&'static str> {
        Ok(match self {
            Upstream::Postgres => "DATABASE_URL",
            Upstream::Redis => "REDIS_URL",
            Upstream::Catalog => "CATALOG_URL",
            Upstream::Kafka => bail!(kafka_refused()),
        })
    }

    /// The client's URL for this upstream reached through a relay on `port`.
    pub(super) fn url(self, port: u16) -> anyhow::Result<String> {
        Ok(match self {
            Upstream::Postgres => format!("postgres://postgres@127.0.0.1:{port}/orders"),
            Upstream::Redis => format!("redis://127.0.0.1:{port}/0"),
            Upstream::Catalog => format!("http://127.0.0.1:{port}"),
            Upstream::Kafka => bail!(kafka_refused()),
        })
    }
}

fn kafka_refused() -> &'static str {
    "a relay cannot cut Kafka: the broker's metadata advertises its own address, so clients would \
     bypass the relay after bootstrapping"
}

/// One edge of the lab: a service (by its lab name, e.g. `gateway`) and what it calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub from: &'static str,
    pub to: Upstream,
}

/// A backend process of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Redis,
    Kafka,
}

impl Lab {
    fn index(&self, name: &str) -> anyhow::Result<usize> {
        self.services
            .iter()
            .position(|s| s.spec.name == name)
            .ok_or_else(|| anyhow!("the lab has no service {name:?}"))
    }

    /// Whether a service's process runs (not stopped by [`Lab::stop_service`], not exited).
    pub fn is_running(&self, name: &str) -> bool {
        self.index(name)
            .is_ok_and(|i| self.services[i].exited().is_none())
    }

    /// `scale … 0`: SIGTERM, drain, exit (SIGKILL after a grace).
    pub fn stop_service(&mut self, name: &str) -> anyhow::Result<()> {
        let i = self.index(name)?;
        self.services[i].stop(STOP_GRACE);
        Ok(())
    }

    /// `scale … 1` or a pod replaced: a fresh process with the plan's environment and the rollout's
    /// flags, waited for until ready. A running one is stopped first.
    pub async fn start_service(&mut self, name: &str) -> anyhow::Result<()> {
        let i = self.index(name)?;
        self.services[i].stop(STOP_GRACE);
        let spec = self.services[i].spec.clone();
        let extra: Vec<(String, String)> = self
            .rollout
            .get(spec.name)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let process = ServiceProcess::spawn_with(&spec, &self.plan, &extra)?;
        self.services[i] = process;
        self.services[i]
            .wait_ready(READY_TIMEOUT, &self.plan.log_file(spec.name))
            .await
            .with_context(|| format!("{name} after its restart"))
    }

    /// An `env` rollout: flags set and unset (unset = back to the plan's own value), then a restart.
    pub async fn rollout(
        &mut self,
        name: &str,
        set: &BTreeMap<String, String>,
        unset: &[String],
    ) -> anyhow::Result<()> {
        let i = self.index(name)?;
        let key = self.services[i].spec.name;
        let flags = self.rollout.entry(key).or_default();
        for k in unset {
            flags.remove(k);
        }
        flags.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.start_service(name).await
    }

    /// Takes a backend away: PostgreSQL by a fast shutdown, Redis and the broker by SIGKILL.
    pub fn stop_backend(&self, backend: Backend) -> anyhow::Result<()> {
        let r = tokio::task::block_in_place(|| match backend {
            Backend::Postgres => self.postgres.stop(),
            Backend::Redis => self.redis.stop(),
            Backend::Kafka => self.kafka.stop(),
        });
        r.map_err(|e| anyhow!("stopping {backend:?}: {e}"))
    }

    /// Starts a stopped backend again on its port (PostgreSQL and the broker with their data, Redis
    /// empty).
    pub fn start_backend(&self, backend: Backend) -> anyhow::Result<()> {
        let r = tokio::task::block_in_place(|| match backend {
            Backend::Postgres => self.postgres.restart(),
            Backend::Redis => self.redis.restart(),
            Backend::Kafka => self.kafka.start_again(),
        });
        r.map_err(|e| anyhow!("starting {backend:?}: {e}"))
    }

    /// Cuts (`true`) or restores (`false`) an edge the lab was started with.
    pub fn cut(&self, from: &str, to: Upstream, cut: bool) -> anyhow::Result<()> {
        let (_, relay) = self
            .relays
            .iter()
            .find(|(e, _)| e.from == from && e.to == to)
            .ok_or_else(|| {
                anyhow!("no cuttable edge {from} → {to:?} (start the lab with it: start_with_cuts)")
            })?;
        relay.set_cut(cut);
        Ok(())
    }
}
