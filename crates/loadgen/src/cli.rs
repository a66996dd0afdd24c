//! Command line: clap derive → a validated [`Plan`] (hyperfine's shape), then the run. The ad-hoc
//! commands, one per protocol, live in `cli/adhoc.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use common::args::parse_duration;

mod adhoc;

pub use adhoc::{AdHoc, GrpcArgs, HttpArgs, KafkaArgs, Pattern, RedisArgs, SqlArgs};

use crate::driver::Request;
use crate::runner::{Mode, Plan, Step};
use crate::scenario::Scenario;
use crate::schedule::{Arrivals, Schedule, Segment};
use crate::threshold::Threshold;

#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Open-model load generator for the MOP lab: honest latency, expected errors, seeded."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a built-in profile (`constant`, `spike`, `ramp`, `mixed`) or a scenario file (YAML).
    Run {
        /// Profile name or path to a scenario file.
        scenario: String,
        #[command(flatten)]
        opts: RunOpts,
    },
    /// Ad-hoc HTTP run against one URL.
    Http {
        #[command(flatten)]
        target: HttpArgs,
        #[command(flatten)]
        run: AdHoc,
    },
    /// Ad-hoc gRPC run: one auth RPC against `--auth-addr`.
    Grpc {
        #[command(flatten)]
        target: GrpcArgs,
        #[command(flatten)]
        run: AdHoc,
    },
    /// Ad-hoc SQL run: one query shape straight to PostgreSQL at `--database-url`.
    Sql {
        #[command(flatten)]
        target: SqlArgs,
        #[command(flatten)]
        run: AdHoc,
    },
    /// Ad-hoc Redis run: one command against `--redis-url`.
    Redis {
        #[command(flatten)]
        target: RedisArgs,
        #[command(flatten)]
        run: AdHoc,
    },
    /// Ad-hoc Kafka run: order events produced to one topic at `--kafka-brokers`.
    Kafka {
        #[command(flatten)]
        target: KafkaArgs,
        #[command(flatten)]
        run: AdHoc,
    },
}

#[derive(Debug, Clone, Args)]
pub struct RunOpts {
    /// Total duration; a profile's stages are stretched or shrunk proportionally (e.g. `30s`).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Peak arrival rate per second; a profile's rates are scaled so its peak equals this.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seed for arrivals, step choice, templates and trace ids: same seed, same traffic.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Arrivals that may wait for a free worker before new ones are dropped (and counted).
    #[arg(long, default_value_t = 10_000)]
    pub max_in_flight: usize,
    /// Concurrent senders in the open model (HTTP: about one connection each).
    #[arg(long, default_value_t = 64)]
    pub workers: usize,
    /// Closed model instead: N workers back to back, as fast as possible ("max throughput").
    #[arg(long)]
    pub concurrency: Option<usize>,
    #[arg(long, value_enum)]
    pub arrivals: Option<Arrivals>,
    /// Run only this share of the schedule, `i/N` (for N generators in parallel).
    #[arg(long, default_value = "0/1")]
    pub segment: Segment,
    /// Write the JSON report here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write latency over time and the percentile curve here (SVG).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// How often the status line is logged when stderr is not a terminal (on a terminal: a bar).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub progress_every: Duration,
    #[command(flatten)]
    pub targets: Targets,
}

/// Where the services are; substituted into scenarios as `${CATALOG_URL}` etc.
#[derive(Debug, Clone, Args)]
pub struct Targets {
    #[arg(long, env = "CATALOG_URL", default_value = "http://127.0.0.1:8081")]
    pub catalog_url: String,
    #[arg(long, env = "GATEWAY_URL", default_value = "http://127.0.0.1:8084")]
    pub gateway_url: String,
    #[arg(long, env = "ORDERS_URL", default_value = "http://127.0.0.1:8083")]
    pub orders_url: String,
    #[arg(long, env = "EVENTS_URL", default_value = "http://127.0.0.1:8085")]
    pub events_url: String,
    #[arg(long, env = "AUTH_ADDR", default_value = "http://127.0.0.1:50051")]
    pub auth_addr: String,
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/orders"
    )]
    pub database_url: String,
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    pub kafka_brokers: String,
}

/// The variables a scenario may use, in the order `Targets::vars` lists them.
pub const VARIABLES: &[&str] = &[
    "CATALOG_URL",
    "GATEWAY_URL",
    "ORDERS_URL",
    "EVENTS_URL",
    "AUTH_ADDR",
    "DATABASE_URL",
    "REDIS_URL",
    "KAFKA_BROKERS",
];

impl Targets {
    fn vars(&self) -> BTreeMap<String, String> {
        let trim = |s: &str| s.trim_end_matches('/').to_owned();
        BTreeMap::from([
            ("CATALOG_URL".to_owned(), trim(&self.catalog_url)),
            ("GATEWAY_URL".to_owned(), trim(&self.gateway_url)),
            ("ORDERS_URL".to_owned(), trim(&self.orders_url)),
            ("EVENTS_URL".to_owned(), trim(&self.events_url)),
            ("AUTH_ADDR".to_owned(), trim(&self.auth_addr)),
            ("DATABASE_URL".to_owned(), self.database_url.clone()),
            ("REDIS_URL".to_owned(), self.redis_url.clone()),
            ("KAFKA_BROKERS".to_owned(), self.kafka_brokers.clone()),
        ])
    }
}

/// A validated run: the plan plus what the report needs.
#[derive(Debug)]
pub struct Prepared {
    pub name: String,
    pub plan: Plan,
    pub thresholds: Vec<Threshold>,
    pub out: Option<PathBuf>,
    pub plot: Option<PathBuf>,
    pub progress_every: Duration,
}

impl Command {
    /// Validates everything a run needs — the scenario, its steps and thresholds, the schedule —
    /// before any client is created or request sent: a mistake is an error at start-up (exit 1).
    pub fn prepare(self) -> anyhow::Result<Prepared> {
        let (name, schedule, arrivals, steps, thresholds, opts) = match self {
            Command::Run { scenario, opts } => {
                let s = Scenario::load(&scenario, &opts.targets.vars())?;
                let steps = s.steps()?;
                (s.name, s.schedule, s.arrivals, steps, s.thresholds, opts)
            }
            Command::Http { target, run } => ad_hoc("http", target.step(&run.opts.targets), run),
            Command::Grpc { target, run } => ad_hoc("grpc", target.step(&run.opts.targets), run),
            Command::Sql { target, run } => ad_hoc("sql", target.step(&run.opts.targets), run),
            Command::Redis { target, run } => ad_hoc("redis", target.step(&run.opts.targets), run),
            Command::Kafka { target, run } => ad_hoc("kafka", target.step(&run.opts.targets), run),
        };
        let schedule = schedule.reshaped(opts.duration, opts.rate);
        schedule.validate().map_err(anyhow::Error::msg)?;
        let mode = match opts.concurrency {
            Some(concurrency) => Mode::Closed { concurrency },
            None => Mode::Open {
                max_in_flight: opts.max_in_flight,
                workers: opts.workers,
            },
        };
        let plan = Plan {
            schedule,
            arrivals: opts.arrivals.or(arrivals).unwrap_or_default(),
            seed: opts.seed,
            segment: opts.segment,
            mode,
            steps,
            drain: Duration::from_secs(30),
        };
        Ok(Prepared {
            name,
            plan,
            thresholds,
            out: opts.out,
            plot: opts.plot,
            progress_every: opts.progress_every,
        })
    }
}

/// What `prepare` takes from a scenario: name, schedule, arrivals, steps, thresholds, options.
type Parts = (
    String,
    Schedule,
    Option<Arrivals>,
    Vec<Step>,
    Vec<Threshold>,
    RunOpts,
);

/// A one-step plan: `--rate` (default 10/s) and `--duration` (default 10 s) shape the pattern;
/// `expect` defaults to the protocol's successes, as in a scenario step.
fn ad_hoc(protocol: &str, (name, request): (String, Request), run: AdHoc) -> Parts {
    let AdHoc {
        expect,
        pattern,
        opts,
    } = run;
    let rate = opts.rate.unwrap_or(10.0);
    let d = opts.duration.unwrap_or(Duration::from_secs(10));
    let step = Step {
        name,
        weight: 1,
        expect: request.expect_or_successes(expect),
        request,
    };
    (
        format!("{protocol}-{pattern:?}").to_lowercase(),
        pattern.schedule(rate, d),
        None,
        vec![step],
        Vec::new(),
        opts,
    )
}
