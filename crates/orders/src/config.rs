//! The `orders` binary's flags: every one has an environment fallback (Kubernetes configures by env).

use std::net::SocketAddr;
use std::time::Duration;

use common::args::{CommonArgs, parse_duration};
use common::http::layers::HttpArgs;

/// MOP orders service: orders over HTTP, stored in PostgreSQL.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "orders", version)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8083")]
    pub listen_addr: SocketAddr,

    #[command(flatten)]
    pub db: DbArgs,

    /// Do not apply the database migrations at start-up (e.g. when a separate job runs them).
    #[arg(long, env = "NO_MIGRATE")]
    pub no_migrate: bool,

    #[command(flatten)]
    pub http: HttpArgs,

    #[command(flatten)]
    pub common: CommonArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do instead of serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Apply the migrations, load a realistic data set (idempotent), print a summary and exit.
    Seed(SeedArgs),
    #[command(flatten)]
    Common(common::args::Command),
}

/// Size and randomness of `orders seed`.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// Number of customers to create.
    #[arg(long, env = "SEED_CUSTOMERS", default_value_t = 10_000)]
    pub customers: u32,

    /// Number of orders to create (spread unevenly over the customers; ~3 items each).
    #[arg(long, env = "SEED_ORDERS", default_value_t = 100_000)]
    pub orders: u32,

    /// Seed of the random generator: the same seed gives the same data set.
    #[arg(long, env = "SEED_RANDOM", default_value_t = 42)]
    pub random_seed: u32,
}

/// How the service talks to PostgreSQL.
#[derive(Clone, clap::Args)]
pub struct DbArgs {
    /// PostgreSQL URL, e.g. `postgres://orders:secret@postgres:5432/orders`. TLS is never used
    /// (`sslmode` is forced to `disable`) so OBI can read the wire protocol. May hold a password, so
    /// `--help` does not show the environment's value.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@localhost:5432/orders"
    )]
    pub database_url: String,

    /// Largest number of open database connections.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,

    /// How long a request waits for a free connection before it is answered 503 (pool exhausted).
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT", default_value = "500ms", value_parser = parse_duration)]
    pub db_acquire_timeout: Duration,

    /// Server-side limit for every statement (`statement_timeout`); a statement running longer is
    /// cancelled by PostgreSQL and the request answered 503.
    #[arg(long, env = "DB_STATEMENT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub db_statement_timeout: Duration,
}

/// The URL may carry a password: never print it.
impl std::fmt::Debug for DbArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbArgs")
            .field("database_url", &"<redacted>")
            .field("db_max_connections", &self.db_max_connections)
            .field("db_acquire_timeout", &self.db_acquire_timeout)
            .field("db_statement_timeout", &self.db_statement_timeout)
            .finish()
    }
}

impl DbArgs {
    /// Settings for tests and embedding: `url` with the flags' defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            database_url: url.into(),
            ..common::args::defaults()
        }
    }
}

impl Config {
    /// A configuration for tests and embedding: defaults, with the given database URL.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            db: DbArgs::new(database_url),
            ..common::args::defaults()
        }
    }
}
