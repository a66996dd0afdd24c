//! Configuration of the `auth` server: one clap struct, every flag with an environment fallback.

use std::net::SocketAddr;
use std::time::Duration;

use common::args::{CommonArgs, parse_duration};

/// `auth` — MOP's gRPC (h2c) reference service: logins, bearer tokens, sessions, security events.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "auth", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on (plaintext HTTP/2, i.e. h2c).
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:50051")]
    pub listen_addr: SocketAddr,

    /// Number of deterministic demo users to create: `user-0001`/`pass-0001`, … `user-0001` also has
    /// the `admin` role.
    #[arg(long, env = "SEED_USERS", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub seed_users: u32,

    /// Password hashing cost.
    #[command(flatten)]
    pub argon2: Argon2Args,

    /// Lifetime of an access token (e.g. `15m`).
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,

    /// Lifetime of a refresh token, and so of an idle session (e.g. `24h`).
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value = "24h", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,

    /// How often expired sessions are removed (each emits a SESSION_EXPIRED event).
    #[arg(long, env = "SWEEP_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub sweep_interval: Duration,

    /// Failed logins for one username within `--throttle-window` after which it is throttled.
    #[arg(long, env = "THROTTLE_MAX_FAILURES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub throttle_max_failures: u32,

    /// Window in which failed logins are counted (e.g. `60s`).
    #[arg(long, env = "THROTTLE_WINDOW", default_value = "60s", value_parser = parse_duration)]
    pub throttle_window: Duration,

    /// How long a throttled username is refused (RESOURCE_EXHAUSTED) before it may try again.
    #[arg(long, env = "THROTTLE_COOLDOWN", default_value = "60s", value_parser = parse_duration)]
    pub throttle_cooldown: Duration,

    /// Events buffered per StreamEvents subscriber; one that falls further behind is disconnected.
    #[arg(long, env = "EVENT_BUFFER", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub event_buffer: u32,

    /// Largest accepted request message in bytes; larger ones get OUT_OF_RANGE.
    #[arg(long, env = "MAX_MESSAGE_BYTES", default_value_t = 16 * 1024)]
    pub max_message_bytes: usize,

    /// After SIGTERM, how long to keep the listener open answering UNAVAILABLE (and NOT_SERVING to
    /// health checks) before closing it, so load balancers notice before connections are refused.
    /// Counted inside `--shutdown-grace`.
    #[arg(long, env = "DRAIN_DELAY", default_value = "0s", value_parser = parse_duration)]
    pub drain_delay: Duration,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// Argon2id cost parameters. The defaults are OWASP's recommended minimum (19 MiB, 2 passes, 1 lane),
/// which costs ~20–40 ms per hash on one core: what a real login should cost.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Argon2Args {
    /// Argon2id memory cost in KiB.
    #[arg(long = "argon2-memory-kib", env = "ARGON2_MEMORY_KIB", default_value_t = 19 * 1024)]
    pub memory_kib: u32,

    /// Argon2id number of passes (time cost).
    #[arg(
        long = "argon2-iterations",
        env = "ARGON2_ITERATIONS",
        default_value_t = 2
    )]
    pub iterations: u32,

    /// Argon2id degree of parallelism (lanes).
    #[arg(
        long = "argon2-parallelism",
        env = "ARGON2_PARALLELISM",
        default_value_t = 1
    )]
    pub parallelism: u32,
}

impl Argon2Args {
    /// The cheapest parameters argon2 accepts: for tests, where hashing cost is not what is tested.
    pub const CHEAP: Self = Self {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
}

impl Config {
    /// A configuration for tests and benchmarks: listen address unused (the caller binds), `users`
    /// demo users, cheap hashing, and the defaults for everything else.
    pub fn for_tests(users: u32) -> Self {
        use clap::Parser;
        let mut config = Self::parse_from(["auth"]);
        config.seed_users = users;
        config.argon2 = Argon2Args::CHEAP;
        config
    }
}
