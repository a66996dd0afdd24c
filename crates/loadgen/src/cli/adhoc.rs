//! Ad-hoc runs: one step against one target, for every protocol, with the same schedule flags —
//! `loadgen http|grpc|sql|redis|kafka …`. Each command builds the very step a scenario file would
//! (the same driver structs and defaults, the same default `expect`), so an ad-hoc run is a one-step
//! scenario without the file. The targets come from the flags every run has (`--auth-addr`,
//! `--database-url`, `--redis-url`, `--kafka-brokers`, or their env), HTTP's from `--url`.

use clap::{Args, ValueEnum};

use super::{RunOpts, Targets};
use crate::driver::Request;
use crate::driver::grpc::{self, Call, GrpcStep};
use crate::driver::http::{self, HttpStep};
use crate::driver::kafka::{self, KafkaStep};
use crate::driver::redis::{self, Op, RedisStep};
use crate::driver::sql::{self, Query, SqlStep};
use crate::schedule::{Schedule, Stage};

/// What every ad-hoc command takes besides its target: the planned outcomes, the schedule's shape
/// and the run options (`--rate`, `--duration`, `--concurrency`, `--out` …).
#[derive(Debug, Clone, Args)]
pub struct AdHoc {
    /// Outcome classes that count as planned, e.g. `2xx`, `404`, `UNAUTHENTICATED`, `23505`
    /// (repeatable). Default: the protocol's successes, as in a scenario step.
    #[arg(long = "expect")]
    pub expect: Vec<String>,
    /// Shape of the schedule; `--rate` is its peak.
    #[arg(long, value_enum, default_value_t = Pattern::Constant)]
    pub pattern: Pattern,
    #[command(flatten)]
    pub opts: RunOpts,
}

/// Schedule shapes for ad-hoc runs.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Pattern {
    /// `--rate` for the whole duration.
    Constant,
    /// 10 % of `--rate` for 40 % of the time, `--rate` for 20 %, back to 10 % for 40 %.
    Spike,
    /// From 0 to `--rate` over the whole duration.
    Ramp,
}

impl Pattern {
    /// The schedule of this shape peaking at `rate` over `d`.
    pub fn schedule(self, rate: f64, d: std::time::Duration) -> Schedule {
        let stage = |target, frac: f64| Stage {
            target,
            duration: d.mul_f64(frac),
        };
        match self {
            Pattern::Constant => Schedule::constant(rate, d),
            Pattern::Spike => Schedule {
                start_rate: rate / 10.0,
                stages: vec![
                    stage(rate / 10.0, 0.4),
                    stage(rate, 0.0),
                    stage(rate, 0.2),
                    stage(rate / 10.0, 0.0),
                    stage(rate / 10.0, 0.4),
                ],
            },
            Pattern::Ramp => Schedule {
                start_rate: 0.0,
                stages: vec![stage(rate, 1.0)],
            },
        }
    }
}

/// `loadgen http`: one URL.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// URL; `{rand:LO:HI}` becomes a seeded integer per request.
    #[arg(long)]
    pub url: String,
    #[arg(long, default_value_t = http::default_method())]
    pub method: String,
    /// JSON body (sent with Content-Type: application/json).
    #[arg(long)]
    pub body: Option<String>,
}

/// `loadgen grpc`: one RPC of `mop.auth.v1.AuthService` at `--auth-addr`.
#[derive(Debug, Clone, Args)]
pub struct GrpcArgs {
    /// The RPC; `stream` holds `StreamEvents` open for `--hold`.
    #[arg(long, value_enum)]
    pub call: Call,
    /// User name template (`{rand:LO:HI:W}` zero-pads).
    #[arg(long, default_value_t = grpc::default_user())]
    pub username: String,
    /// Password; by default the demo convention (`user-0042` → `pass-0042`), so a wrong one is
    /// always explicit.
    #[arg(long)]
    pub password: Option<String>,
    /// How long `stream` keeps each stream open.
    #[arg(long, default_value_t = grpc::default_hold().into())]
    pub hold: humantime::Duration,
}

/// `loadgen sql`: one query shape against `--database-url`.
#[derive(Debug, Clone, Args)]
pub struct SqlArgs {
    #[arg(long, value_enum)]
    pub query: Query,
    /// The query's argument (a template: `{rand:1:100000}`).
    #[arg(long, default_value_t = sql::default_arg())]
    pub arg: String,
    /// Connections in the pool.
    #[arg(long, default_value_t = sql::default_pool())]
    pub pool: u32,
}

/// `loadgen redis`: one command (or pipeline) against `--redis-url`.
#[derive(Debug, Clone, Args)]
pub struct RedisArgs {
    #[arg(long, value_enum)]
    pub op: Op,
    /// Key template (the key range is the hit-ratio knob); the channel for `publish`.
    #[arg(long, default_value_t = redis::default_key())]
    pub key: String,
    /// Bytes in each value written.
    #[arg(long, default_value_t = redis::default_size())]
    pub value_size: usize,
    /// Keys per `mget` / commands per `pipeline`.
    #[arg(long, default_value_t = redis::default_count())]
    pub count: usize,
    /// Expiry of written keys.
    #[arg(long, default_value_t = redis::default_ttl().into())]
    pub ttl: humantime::Duration,
}

/// `loadgen kafka`: order events produced to one topic at `--kafka-brokers`.
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// `orders.created`, `orders.updated` or `orders.cancelled` (with any prefix).
    #[arg(long, default_value = "orders.created")]
    pub topic: String,
    /// Share of records (0–1) sent as undecodable bytes (class `kafka:POISON`, planned).
    #[arg(long, default_value_t = 0.0)]
    pub poison_ratio: f64,
    /// Order id template (the record key: per-order ordering).
    #[arg(long, default_value_t = kafka::default_order())]
    pub order_id: String,
    #[arg(long, default_value_t = kafka::default_customer())]
    pub customer_id: String,
}

impl HttpArgs {
    pub(super) fn step(self, _: &Targets) -> (String, Request) {
        let name = format!("{} {}", self.method, self.url);
        let step = HttpStep {
            method: self.method,
            url: self.url,
            body: self.body,
        };
        (name, Request::Http(step))
    }
}

impl GrpcArgs {
    pub(super) fn step(self, targets: &Targets) -> (String, Request) {
        let step = GrpcStep {
            addr: targets.auth_addr.trim_end_matches('/').to_owned(),
            call: self.call,
            username: self.username,
            password: self.password,
            hold: self.hold.into(),
        };
        (
            format!("grpc {}", value_name(self.call)),
            Request::Grpc(step),
        )
    }
}

impl SqlArgs {
    pub(super) fn step(self, targets: &Targets) -> (String, Request) {
        let step = SqlStep {
            url: targets.database_url.clone(),
            query: self.query,
            arg: self.arg,
            pool: self.pool,
        };
        (
            format!("sql {}", value_name(self.query)),
            Request::Sql(step),
        )
    }
}

impl RedisArgs {
    pub(super) fn step(self, targets: &Targets) -> (String, Request) {
        let step = RedisStep {
            url: targets.redis_url.clone(),
            op: self.op,
            key: self.key,
            value_size: self.value_size,
            count: self.count,
            ttl: self.ttl.into(),
        };
        (
            format!("redis {}", value_name(self.op)),
            Request::Redis(step),
        )
    }
}

impl KafkaArgs {
    pub(super) fn step(self, targets: &Targets) -> (String, Request) {
        let name = format!("kafka {}", self.topic);
        let step = KafkaStep {
            brokers: targets.kafka_brokers.clone(),
            topic: self.topic,
            poison_ratio: self.poison_ratio,
            order_id: self.order_id,
            customer_id: self.customer_id,
        };
        (name, Request::Kafka(step))
    }
}

/// The name a value has on the command line (`order_by_id`), for step names.
fn value_name(value: impl ValueEnum) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}
