//! Where everything in the lab runs: the ports, the state folder, the binaries, and each service's
//! command line and environment — pure data, so it can be printed, checked and tested before anything
//! starts.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The lab's ports. [`Ports::standard`] are the defaults of every service (`lab.md`) and of
/// `loadgen`, so `just load spike` needs no configuration; tests use [`Ports::free`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub postgres: u16,
    pub redis: u16,
    pub kafka: u16,
    pub catalog: u16,
    pub auth: u16,
    pub orders: u16,
    pub gateway: u16,
    pub events_producer: u16,
    /// Admin port (`/health`, `/ready`, `/stats`) of the `notifications` consumer.
    pub notifications: u16,
    /// Admin port of the `analytics` consumer (8086 + 1: two roles cannot share one port).
    pub analytics: u16,
}

impl Ports {
    /// The standard ports: PostgreSQL 5432, Redis 6379, Kafka 9092, and the services' defaults.
    pub const fn standard() -> Self {
        Self {
            postgres: 5432,
            redis: 6379,
            kafka: 9092,
            catalog: 8081,
            auth: 50051,
            orders: 8083,
            gateway: 8084,
            events_producer: 8085,
            notifications: 8086,
            analytics: 8087,
        }
    }

    /// Ports that were free a moment ago, for tests that run beside anything else on the machine.
    pub fn free() -> std::io::Result<Self> {
        // Hold every listener until all are picked, so no port is picked twice.
        let listeners = (0..10)
            .map(|_| TcpListener::bind("127.0.0.1:0"))
            .collect::<std::io::Result<Vec<_>>>()?;
        let p = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Self {
            postgres: p[0],
            redis: p[1],
            kafka: p[2],
            catalog: p[3],
            auth: p[4],
            orders: p[5],
            gateway: p[6],
            events_producer: p[7],
            notifications: p[8],
            analytics: p[9],
        })
    }

    /// Every port with the name of what will listen on it.
    pub fn named(&self) -> [(&'static str, u16); 10] {
        [
            ("PostgreSQL", self.postgres),
            ("Redis", self.redis),
            ("Kafka broker", self.kafka),
            ("catalog", self.catalog),
            ("auth", self.auth),
            ("orders", self.orders),
            ("gateway", self.gateway),
            ("events-producer", self.events_producer),
            ("events-consumer (notifications)", self.notifications),
            ("events-consumer (analytics)", self.analytics),
        ]
    }

    /// Fails, naming the port and its would-be owner, when any port is already taken — before
    /// anything is started, so a clash never leaves half a lab behind.
    pub fn check_free(&self) -> Result<(), String> {
        let taken: Vec<String> = self
            .named()
            .iter()
            .filter(|(_, port)| TcpListener::bind(("127.0.0.1", *port)).is_err())
            .map(|(name, port)| format!("  {port} ({name})"))
            .collect();
        if taken.is_empty() {
            return Ok(());
        }
        Err(format!(
            "these ports are already in use:\n{}\nIs another lab running? Stop it with `just dev-down`. \
             Debian and Ubuntu start a system PostgreSQL and Redis when they are installed: \
             `sudo systemctl disable --now postgresql redis-server`. Otherwise find the owner with \
             `ss -ltnp 'sport = :PORT'`, or run the lab on free ports: `just dev --free-ports` \
             (`just load` then finds them through lab.env).",
            taken.join("\n")
        ))
    }
}

/// How the lab's readiness is checked for one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `GET /ready` on this port answers 200 (backends reachable).
    HttpReady(u16),
    /// The port accepts connections.
    Listening(u16),
    /// `grpc.health.v1.Health/Check` for the whole server answers SERVING (auth: it binds its port
    /// before hashing its demo users and serves only after, so a connection alone is not ready —
    /// what the kind lab's gRPC readiness probe asks too).
    GrpcServing(u16),
}

/// One service process of the lab.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// Name used in messages and for the log file (`logs/<name>.log`).
    pub name: &'static str,
    /// The binary (file name in the bin folder).
    pub binary: &'static str,
    pub args: Vec<String>,
    pub env: Vec<(&'static str, String)>,
    pub probe: Probe,
    /// What to show the user once it is ready.
    pub url: String,
}

impl ServiceSpec {
    /// The port the service listens on (its probe's port): how OBI tells its processes apart.
    pub fn port(&self) -> u16 {
        match self.probe {
            Probe::HttpReady(port) | Probe::Listening(port) | Probe::GrpcServing(port) => port,
        }
    }
}

/// Everything about one lab: ports, folders and the services to start.
#[derive(Debug, Clone)]
pub struct Plan {
    pub ports: Ports,
    /// State folder: `postgres/`, `redis/`, `kafka/` (backend data) and `logs/`.
    pub state_dir: PathBuf,
    /// Where the service binaries are (`target/debug` after `cargo build --workspace --bins`).
    pub bin_dir: PathBuf,
    /// Extra environment per service name, applied after the lab's own (so it wins): how a test
    /// tightens a timeout, or a user tries a knob (`FAIL_RATIO` on a consumer, say).
    pub env_overrides: Vec<(&'static str, &'static str, String)>,
}

impl Plan {
    /// `postgres://` URL of the orders database.
    pub fn database_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/orders",
            self.ports.postgres
        )
    }

    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.ports.redis)
    }

    pub fn kafka_brokers(&self) -> String {
        format!("127.0.0.1:{}", self.ports.kafka)
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    /// The log file of a process (service or backend) by name.
    pub fn log_file(&self, name: &str) -> PathBuf {
        self.logs_dir().join(format!("{name}.log"))
    }

    /// The environment `loadgen` (and anything else) needs to reach this lab; also written to
    /// `lab.env` in the state folder.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        let p = &self.ports;
        vec![
            ("CATALOG_URL", format!("http://127.0.0.1:{}", p.catalog)),
            ("GATEWAY_URL", format!("http://127.0.0.1:{}", p.gateway)),
            ("ORDERS_URL", format!("http://127.0.0.1:{}", p.orders)),
            (
                "EVENTS_URL",
                format!("http://127.0.0.1:{}", p.events_producer),
            ),
            ("AUTH_ADDR", format!("http://127.0.0.1:{}", p.auth)),
            ("DATABASE_URL", self.database_url()),
            ("REDIS_URL", self.redis_url()),
            ("KAFKA_BROKERS", self.kafka_brokers()),
        ]
    }

    /// The services in start order (none depends on another being ready: each one retries its
    /// backends and reports them on `/ready`, so they may all start at once).
    pub fn services(&self) -> Vec<ServiceSpec> {
        let p = &self.ports;
        let listen = |port: u16| ("LISTEN_ADDR", format!("127.0.0.1:{port}"));
        let http = |port: u16| format!("http://127.0.0.1:{port}");
        let consumer = |role: &'static str, port: u16| ServiceSpec {
            name: if role == "notifications" {
                "events-consumer-notifications"
            } else {
                "events-consumer-analytics"
            },
            binary: "events-consumer",
            args: vec!["--role".into(), role.into()],
            env: vec![listen(port), ("KAFKA_BROKERS", self.kafka_brokers())],
            probe: Probe::HttpReady(port),
            url: format!("{} (admin: /stats)", http(port)),
        };
        let mut services = vec![
            ServiceSpec {
                name: "catalog",
                binary: "catalog",
                args: vec![],
                // Everything in the lab calls from 127.0.0.1 — loadgen and the gateway's misses — so
                // the per-IP limit (1 000/s by default) would throttle the lab itself.
                env: vec![
                    listen(p.catalog),
                    ("RATE_LIMIT_PER_SECOND", "20000".into()),
                    ("RATE_LIMIT_BURST", "40000".into()),
                ],
                probe: Probe::HttpReady(p.catalog),
                url: http(p.catalog),
            },
            ServiceSpec {
                name: "auth",
                binary: "auth",
                args: vec![],
                env: vec![listen(p.auth)],
                probe: Probe::GrpcServing(p.auth),
                url: format!("{} (gRPC, h2c)", http(p.auth)),
            },
            ServiceSpec {
                name: "orders",
                binary: "orders",
                args: vec![],
                env: vec![listen(p.orders), ("DATABASE_URL", self.database_url())],
                probe: Probe::HttpReady(p.orders),
                url: http(p.orders),
            },
            ServiceSpec {
                name: "gateway",
                binary: "gateway",
                args: vec![],
                env: vec![
                    listen(p.gateway),
                    ("REDIS_URL", self.redis_url()),
                    ("CATALOG_URL", http(p.catalog)),
                ],
                probe: Probe::HttpReady(p.gateway),
                url: http(p.gateway),
            },
            ServiceSpec {
                name: "events-producer",
                binary: "events-producer",
                args: vec![],
                env: vec![
                    listen(p.events_producer),
                    ("KAFKA_BROKERS", self.kafka_brokers()),
                ],
                probe: Probe::HttpReady(p.events_producer),
                url: http(p.events_producer),
            },
            consumer("notifications", p.notifications),
            consumer("analytics", p.analytics),
        ];
        for spec in &mut services {
            let extra = self
                .env_overrides
                .iter()
                .filter(|(name, ..)| *name == spec.name);
            spec.env
                .extend(extra.map(|(_, key, value)| (*key, value.clone())));
        }
        services
    }

    /// Fails with what to run when a service binary is missing.
    pub fn check_binaries(&self) -> Result<(), String> {
        let missing: Vec<String> = self
            .services()
            .iter()
            .map(|s| s.binary)
            .chain(["orders"])
            .filter(|b| !self.bin_dir.join(b).is_file())
            .map(|b| format!("  {}", self.bin_dir.join(b).display()))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "service binaries missing:\n{}\nBuild them with `cargo build --workspace --bins` \
             (`just dev` does), or pass --bin-dir.",
            missing.join("\n")
        ))
    }
}

/// The folder holding the binaries of the running executable's build (`target/<profile>`): the lab
/// binary and the service binaries are built side by side. From a test executable
/// (`target/<profile>/deps/it-…`) it is the parent of `deps`.
pub fn sibling_bin_dir(exe: &Path) -> Option<PathBuf> {
    let dir = exe.parent()?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        return dir.parent().map(Path::to_path_buf);
    }
    Some(dir.to_path_buf())
}

/// The folder with the service binaries: given, or the one this `lab` binary is in.
pub fn bin_dir_or_default(bin_dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match bin_dir {
        Some(dir) => Ok(dir),
        None => sibling_bin_dir(&std::env::current_exe()?)
            .context("cannot tell where the service binaries are; pass --bin-dir"),
    }
}

/// `--state-dir` (relative to the current folder), or `$TMPDIR/mop-lab`.
pub fn state_dir_or_default(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    match given {
        Some(path) => Ok(std::env::current_dir()?.join(path)),
        None => Ok(std::env::temp_dir().join("mop-lab")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(ports: Ports) -> Plan {
        Plan {
            ports,
            state_dir: "/tmp/state".into(),
            bin_dir: "/nonexistent-bin".into(),
            env_overrides: vec![("gateway", "ITEM_TTL", "1s".into())],
        }
    }

    #[test]
    fn standard_ports_are_the_services_and_loadgens_defaults() {
        let env = plan(Ports::standard()).client_env();
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).unwrap().1.clone();
        // The same values loadgen uses when nothing is set, so `just load` needs no configuration.
        assert_eq!(get("CATALOG_URL"), "http://127.0.0.1:8081");
        assert_eq!(get("AUTH_ADDR"), "http://127.0.0.1:50051");
        assert_eq!(
            get("DATABASE_URL"),
            "postgres://postgres@127.0.0.1:5432/orders"
        );
        assert_eq!(get("KAFKA_BROKERS"), "127.0.0.1:9092");
    }

    #[test]
    fn overrides_come_after_the_labs_own_environment() {
        let services = plan(Ports::standard()).services();
        let gateway = services.iter().find(|s| s.name == "gateway").unwrap();
        assert_eq!(gateway.env.last().unwrap(), &("ITEM_TTL", "1s".to_owned()));
        let catalog = services.iter().find(|s| s.name == "catalog").unwrap();
        assert!(catalog.env.iter().all(|(k, _)| *k != "ITEM_TTL"));
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = Ports::free().unwrap();
        let mut all: Vec<u16> = ports.named().iter().map(|(_, p)| *p).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 10);
    }

    #[test]
    fn a_taken_port_is_named_with_its_owner() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut ports = Ports::free().unwrap();
        ports.gateway = taken.local_addr().unwrap().port();
        let err = ports.check_free().unwrap_err();
        assert!(
            err.contains(&format!("{} (gateway)", ports.gateway)),
            "{err}"
        );
        assert!(err.contains("just dev-down"), "{err}");
        assert!(!err.contains("(catalog)"), "only the taken port: {err}");
    }

    #[test]
    fn a_missing_binary_says_how_to_build_it() {
        let err = plan(Ports::standard()).check_binaries().unwrap_err();
        assert!(err.contains("/nonexistent-bin/catalog"), "{err}");
        assert!(err.contains("cargo build --workspace --bins"), "{err}");
    }

    #[test]
    fn the_bin_dir_of_a_test_executable_is_above_deps() {
        assert_eq!(
            sibling_bin_dir(Path::new("/r/target/debug/deps/it-123")),
            Some(PathBuf::from("/r/target/debug"))
        );
        assert_eq!(
            sibling_bin_dir(Path::new("/r/target/debug/lab")),
            Some(PathBuf::from("/r/target/debug"))
        );
    }
}
