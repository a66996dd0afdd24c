//! Configuration of both binaries: flags with environment fallbacks (`--help` lists them).

use std::net::SocketAddr;
use std::time::Duration;

use common::args::{Command, CommonArgs, parse_duration};
use common::http::layers::HttpArgs;

/// Where the broker is and how our topics are named and sized; shared by both binaries.
#[derive(Debug, Clone, clap::Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers (`host:port[,host:port…]`), plaintext.
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,

    /// Prefix of every topic name (`<prefix>orders.created`, …); empty by default. Lets several labs
    /// (or tests) share one broker.
    #[arg(long, env = "TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,

    /// Partitions of the topics created at start-up when missing (existing topics are left alone).
    #[arg(long, env = "TOPIC_PARTITIONS", default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub topic_partitions: i32,

    /// How long a produced record may wait for the broker's acknowledgement before the write counts as
    /// failed (librdkafka `message.timeout.ms`): the bound on a 503 when the broker is down.
    #[arg(long, env = "DELIVERY_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub delivery_timeout: Duration,
}

/// `events-producer`: HTTP intake of order events, produced to Kafka.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "events-producer", version)]
pub struct ProducerConfig {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8085")]
    pub listen_addr: SocketAddr,

    /// Most events accepted by one `POST /events/batch`.
    #[arg(long, env = "MAX_BATCH", default_value_t = 1000)]
    pub max_batch: usize,

    #[command(flatten)]
    pub kafka: KafkaArgs,

    #[command(flatten)]
    pub http: HttpArgs,

    #[command(flatten)]
    pub common: CommonArgs,

    /// Something to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What an `events-consumer` does with the order events it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Turn each event into a notification (the e-mail that would be sent) on topic `notifications`.
    Notifications,
    /// Keep aggregates in memory, serve them on `/stats`, publish snapshots on topic `analytics`.
    Analytics,
}

impl Role {
    /// The default consumer group of the role.
    pub fn name(self) -> &'static str {
        match self {
            Role::Notifications => "notifications",
            Role::Analytics => "analytics",
        }
    }
}

/// `events-consumer`: a consumer group member over `orders.*` with at-least-once processing.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "events-consumer", version)]
pub struct ConsumerConfig {
    /// What to do with the events.
    #[arg(long, env = "ROLE", value_enum)]
    pub role: Role,

    /// Admin HTTP address (`/health`, `/ready`, `/stats`).
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8086")]
    pub listen_addr: SocketAddr,

    /// Consumer group id; defaults to the role's name (`notifications` / `analytics`).
    #[arg(long, env = "GROUP_ID")]
    pub group_id: Option<String>,

    /// Attempts at processing one event before it goes to the DLQ.
    #[arg(long, env = "MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,

    /// First retry delay; doubles on every further attempt (capped at 32×).
    #[arg(long, env = "RETRY_BACKOFF", default_value = "100ms", value_parser = parse_duration)]
    pub retry_backoff: Duration,

    /// Troubleshooting: share of processing attempts that fail on purpose (0.0–1.0), deterministic
    /// per event and attempt for a given `--fail-seed`.
    #[arg(long, env = "FAIL_RATIO", default_value_t = 0.0)]
    pub fail_ratio: f64,

    /// Seed of the injected failures.
    #[arg(long, env = "FAIL_SEED", default_value_t = 42)]
    pub fail_seed: u64,

    /// Troubleshooting: extra time spent on every event (a slow consumer builds lag).
    #[arg(long, env = "PROCESS_DELAY_MS", default_value_t = 0)]
    pub process_delay_ms: u64,

    /// How often the analytics role publishes a snapshot on topic `analytics`.
    #[arg(long, env = "SNAPSHOT_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub snapshot_interval: Duration,

    /// Consumer group session timeout (librdkafka `session.timeout.ms`): how long a silent member
    /// keeps its partitions.
    #[arg(long, env = "SESSION_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub session_timeout: Duration,

    /// How often stored offsets are committed (librdkafka `auto.commit.interval.ms`); they are also
    /// committed on partition revoke and on shutdown.
    #[arg(long, env = "COMMIT_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub commit_interval: Duration,

    #[command(flatten)]
    pub kafka: KafkaArgs,

    #[command(flatten)]
    pub common: CommonArgs,

    /// Something to do instead of consuming.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl ConsumerConfig {
    /// The consumer group id in effect.
    pub fn group(&self) -> String {
        self.group_id
            .clone()
            .unwrap_or_else(|| self.role.name().to_owned())
    }
}
