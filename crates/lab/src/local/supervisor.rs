//! Starting and stopping a whole lab: backends (with `testkit`'s launchers), the orders database
//! (created, migrated and seeded), then every service, each waited for until ready.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use sqlx::Connection;
use testkit::kafka::KafkaBroker;
use testkit::postgres::{Durability, PgServer};
use testkit::process::Placement;
use testkit::redis::RedisServer;

use crate::local::control::Edge;
use crate::local::plan::Plan;
use crate::local::process::{ServiceProcess, log_tail};
use crate::local::relay::Relay;
use crate::obi::run::{ObiOptions, Watchers};

/// What to start, and how big the orders data set is.
#[derive(Debug, Clone)]
pub struct LabOptions {
    pub plan: Plan,
    /// Customers and orders `orders seed` creates (the profiles assume 10 000 and 100 000).
    pub seed_customers: u32,
    pub seed_orders: u32,
    /// How long each service may take to become ready.
    pub ready_timeout: Duration,
}

/// A running lab. Dropping it stops everything: services first (fields drop in declaration order),
/// then the backends.
pub struct Lab {
    pub plan: Plan,
    pub(super) services: Vec<ServiceProcess>,
    /// The cuttable edges (`start_with_cuts`; none for `lab dev`), after the services so those stop
    /// first.
    pub(super) relays: Vec<(Edge, Relay)>,
    /// Flags set by `env` rollouts, per service name: applied after the plan's own environment.
    pub(super) rollout: BTreeMap<&'static str, BTreeMap<String, String>>,
    /// OBI and its Prometheus (`lab dev --obi`): stopped after the services, before the backends.
    pub(super) obi: Option<Watchers>,
    pub(super) postgres: PgServer,
    pub(super) redis: RedisServer,
    pub(super) kafka: KafkaBroker,
}

impl Lab {
    /// Starts a fresh lab: the state folder's previous data and logs are removed first, so every
    /// run begins from the same seeded state.
    pub async fn start(options: LabOptions) -> anyhow::Result<Self> {
        Self::start_with_cuts(options, &[]).await
    }

    /// [`Lab::start`] with a loopback relay on each of `edges`, the client pointed at it, so the
    /// edge can be cut and restored ([`Lab::cut`]); the scenarios' local runner uses it.
    pub async fn start_with_cuts(options: LabOptions, edges: &[Edge]) -> anyhow::Result<Self> {
        Self::start_inner(options, edges, None).await
    }

    /// [`Lab::start`] watched by OBI: OBI and Prometheus start first, and the services only once
    /// OBI's tracer is loaded, so it sees their connections from the first bytes.
    pub async fn start_watched(options: LabOptions, obi: &ObiOptions) -> anyhow::Result<Self> {
        Self::start_inner(options, &[], Some(obi)).await
    }

    async fn start_inner(
        options: LabOptions,
        edges: &[Edge],
        obi: Option<&ObiOptions>,
    ) -> anyhow::Result<Self> {
        let mut plan = options.plan.clone();
        plan.check_binaries().map_err(|e| anyhow!(e))?;
        plan.ports.check_free().map_err(|e| anyhow!(e))?;
        for sub in ["postgres", "redis", "kafka", "logs"] {
            let dir = plan.state_dir.join(sub);
            if dir.exists() {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("cannot clear {}", dir.display()))?;
            }
        }
        std::fs::create_dir_all(plan.logs_dir())?;

        // OBI loads its tracer while the backends start and the database is seeded.
        let watchers = obi.map(|o| Watchers::start(o, &plan)).transpose()?;
        let (postgres, redis, kafka) = start_backends(&plan).await?;
        create_database(&postgres, "orders").await?;
        seed_orders(&plan, options.seed_customers, options.seed_orders).await?;
        if let (Some(w), Some(o)) = (&watchers, obi) {
            w.wait_ready(o.ready_timeout).await?;
        }

        let mut relays = Vec::new();
        for edge in edges {
            let relay = Relay::start(edge.to.addr(&plan.ports)?).await?;
            plan.env_overrides
                .push((edge.from, edge.to.env_key()?, edge.to.url(relay.port())?));
            relays.push((*edge, relay));
        }
        let mut lab = Self {
            plan: plan.clone(),
            services: Vec::new(),
            relays,
            rollout: BTreeMap::new(),
            obi: watchers,
            postgres,
            redis,
            kafka,
        };
        // All at once: each service retries its own backends, so none waits for another.
        for spec in plan.services() {
            lab.services.push(ServiceProcess::spawn(&spec, &plan)?);
        }
        for service in &lab.services {
            service
                .wait_ready(options.ready_timeout, &plan.log_file(service.spec.name))
                .await?;
        }
        let env: String = plan
            .client_env()
            .iter()
            .map(|(k, v)| format!("export {k}={v}\n"))
            .collect();
        std::fs::write(plan.state_dir.join("lab.env"), env)?;
        Ok(lab)
    }

    /// The service processes, in start order.
    pub fn services(&self) -> &[ServiceProcess] {
        &self.services
    }

    /// Services whose process has ended, with their exit status.
    pub fn exited(&self) -> Vec<(&'static str, ExitStatus)> {
        self.services
            .iter()
            .filter_map(|s| s.exited().map(|status| (s.spec.name, status)))
            .collect()
    }

    /// OBI and its Prometheus, when the lab was started with [`Lab::start_watched`].
    pub fn watchers(&self) -> Option<&Watchers> {
        self.obi.as_ref()
    }

    /// PostgreSQL, for the fault drill (`kill`, `restart`) and for assertions.
    pub fn postgres(&self) -> &PgServer {
        &self.postgres
    }

    /// Redis, for the fault drill (`stop` is a SIGKILL, `restart`).
    pub fn redis(&self) -> &RedisServer {
        &self.redis
    }

    /// The broker, for the fault drill (`pause`, `resume`).
    pub fn kafka(&self) -> &KafkaBroker {
        &self.kafka
    }

    /// Stops the services (SIGTERM, drain, up to `grace` each), then the backends. Returns each
    /// service's exit status, so a caller can tell a clean drain (exit 0) from a crash.
    pub fn stop(mut self, grace: Duration) -> Vec<(&'static str, Option<ExitStatus>)> {
        // Signal all first, so they drain in parallel rather than one after another.
        for service in &self.services {
            if service.exited().is_none() {
                let _ = Command::new("kill")
                    .args(["-TERM", &service.pid().to_string()])
                    .status();
            }
        }
        let statuses = self
            .services
            .iter()
            .map(|s| (s.spec.name, s.stop(grace)))
            .collect();
        self.services.clear();
        statuses
    }
}

/// PostgreSQL, Redis and the Kafka broker, started in parallel (each launcher blocks until its server answers).
async fn start_backends(plan: &Plan) -> anyhow::Result<(PgServer, RedisServer, KafkaBroker)> {
    let place = |sub: &str, port: u16| Placement {
        port: Some(port),
        dir: Some(plan.state_dir.join(sub)),
    };
    let pg = place("postgres", plan.ports.postgres);
    let redis = place("redis", plan.ports.redis);
    let kafka = place("kafka", plan.ports.kafka);
    let pg = tokio::task::spawn_blocking(move || {
        // Crash-safe commits: the fault drill kills PostgreSQL and then looks for every order
        // that got a 201.
        PgServer::start_with(&pg, Durability::CrashSafe)
    });
    let redis = tokio::task::spawn_blocking(move || RedisServer::start_with(&redis));
    // Its data stays in the state folder: a killed broker comes back with its records and offsets.
    let kafka = tokio::task::spawn_blocking(move || KafkaBroker::start_with(&kafka));
    let (pg, redis, kafka) = (pg.await?, redis.await?, kafka.await?);
    let pg = pg.map_err(|e| anyhow!("PostgreSQL: {e}"))?;
    let redis = redis.map_err(|e| anyhow!("Redis: {e}"))?;
    let kafka = kafka.map_err(|e| anyhow!("Kafka broker: {e}"))?;
    Ok((pg, redis, kafka))
}

async fn create_database(server: &PgServer, name: &str) -> anyhow::Result<()> {
    let mut admin = sqlx::PgConnection::connect_with(&server.admin_options())
        .await
        .context("cannot connect to the lab's PostgreSQL")?;
    // A fixed identifier of ours, not input: it cannot be a bind parameter.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
        .execute(&mut admin)
        .await
        .with_context(|| format!("cannot create database {name}"))?;
    admin.close().await?;
    // PostgreSQL's own statement statistics, for the N+1 lesson (and the end-to-end test). testkit
    // preloads the library when the installation ships it; without it the lab still runs.
    let mut db = sqlx::PgConnection::connect_with(&server.admin_options().database(name)).await?;
    let _ = sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&mut db)
        .await;
    db.close().await?;
    Ok(())
}

/// `orders seed`: applies the migrations and loads the data set the load profiles assume.
async fn seed_orders(plan: &Plan, customers: u32, orders: u32) -> anyhow::Result<()> {
    let log_path = plan.log_file("orders-seed");
    let log = std::fs::File::create(&log_path)?;
    let status = tokio::process::Command::new(plan.bin_dir.join("orders"))
        .args(["seed", "--customers", &customers.to_string()])
        .args(["--orders", &orders.to_string()])
        .env("DATABASE_URL", plan.database_url())
        .env("LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .await
        .context("cannot run `orders seed`")?;
    if !status.success() {
        bail!(
            "`orders seed` failed ({status}); {}:\n{}",
            log_path.display(),
            log_tail(Path::new(&log_path), 20)
        );
    }
    Ok(())
}
