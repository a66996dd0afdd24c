//! Drivers: what one arrival *does*. One closed enum, one runner — not a near-duplicate run loop per
//! protocol (oha's `work_*` functions are the cautionary tale).

pub mod grpc;
pub mod http;
pub mod kafka;
pub mod redis;
pub mod sql;

use std::fmt::Write as _;
use std::sync::Arc;

use common::rng::SplitMix64;

use crate::stats::Outcome;

/// A step's request, ready to send.
#[derive(Debug, Clone)]
pub enum Request {
    Http(http::HttpStep),
    Grpc(grpc::GrpcStep),
    Redis(redis::RedisStep),
    Sql(sql::SqlStep),
    Kafka(kafka::KafkaStep),
}

impl Request {
    /// Whether the protocol carries our `traceparent` to the server (HTTP and gRPC headers, Kafka
    /// record headers). RESP and the PostgreSQL protocol have nowhere to put it, so their trace ids
    /// would open nothing and are not reported.
    pub fn carries_trace(&self) -> bool {
        matches!(
            self,
            Request::Http(_) | Request::Grpc(_) | Request::Kafka(_)
        )
    }
}

/// The clients, created once per run and shared by every in-flight request.
#[derive(Debug, Clone)]
pub struct Drivers {
    http: Arc<http::HttpDriver>,
    grpc: Arc<grpc::GrpcDriver>,
    redis: Arc<redis::RedisDriver>,
    sql: Arc<sql::SqlDriver>,
    kafka: Arc<kafka::KafkaDriver>,
}

impl Drivers {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            http: Arc::new(http::HttpDriver::new()?),
            grpc: Arc::new(grpc::GrpcDriver::default()),
            redis: Arc::new(redis::RedisDriver::default()),
            sql: Arc::new(sql::SqlDriver::default()),
            kafka: Arc::new(kafka::KafkaDriver::default()),
        })
    }

    /// Sends one request; `rng` fills the step's templates; `traceparent` is sent where the protocol
    /// carries one.
    pub async fn call(
        &self,
        request: &Request,
        rng: &mut SplitMix64,
        traceparent: &str,
    ) -> Outcome {
        match request {
            Request::Http(step) => self.http.call(step, rng, traceparent).await,
            Request::Grpc(step) => self.grpc.call(step, rng, traceparent).await,
            // RESP has no place for a trace context: OBI's Redis spans are never linked to a trace.
            Request::Redis(step) => self.redis.call(step, rng).await,
            // Nor does the PostgreSQL protocol.
            Request::Sql(step) => self.sql.call(step, rng).await,
            Request::Kafka(step) => self.kafka.call(step, rng, traceparent).await,
        }
    }
}

/// Replaces every `{rand:LO:HI}` in `template` with a seeded integer in `LO..=HI`; `{rand:LO:HI:W}`
/// zero-pads it to `W` digits (`user-{rand:1:100:4}` → `user-0042`).
pub fn fill(template: &str, rng: &mut SplitMix64) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{rand:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        let Some(end) = after.find('}') else { break };
        let parts: Vec<&str> = after[..end].split(':').collect();
        let num = |i: usize| parts.get(i).and_then(|p| p.parse::<u64>().ok());
        let range = match parts.len() {
            2 => num(0).zip(num(1)).map(|(lo, hi)| (lo, hi, 0)),
            3 => num(0)
                .zip(num(1))
                .zip(num(2))
                .map(|((lo, hi), w)| (lo, hi, w)),
            _ => None,
        };
        match range {
            Some((lo, hi, width)) if lo <= hi && width <= 20 => {
                let value = lo + rng.below(hi - lo + 1);
                let width = usize::try_from(width).unwrap_or(0);
                let _ = write!(out, "{value:0width$}");
            }
            _ => out.push_str(&rest[start..start + 6 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A sampled W3C `traceparent` from the run's generator: OBI reuses it for its server span, so the
/// report's trace ids open the exact traces in Tempo.
pub fn traceparent(rng: &mut SplitMix64) -> (String, String) {
    let trace_id = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64() | 1);
    let parent = format!("{:016x}", rng.next_u64() | 1);
    (format!("00-{trace_id}-{parent}-01"), trace_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_seeded_integers_in_range() {
        let mut rng = SplitMix64(1);
        for _ in 0..100 {
            let s = fill("/products/{rand:5:7}?x={rand:1:1}", &mut rng);
            let id: u64 = s["/products/".len()..s.find('?').unwrap()].parse().unwrap();
            assert!((5..=7).contains(&id));
            assert!(s.ends_with("?x=1"));
        }
        assert_eq!(fill("/a/{rand:9:1}/{oops", &mut rng), "/a/{rand:9:1}/{oops");
        let user = fill("user-{rand:1:100:4}", &mut rng);
        assert!(user.len() == 9 && user.starts_with("user-0"), "{user}");
    }

    #[test]
    fn traceparents_are_valid_and_sampled() {
        let mut rng = SplitMix64(3);
        let (tp, id) = traceparent(&mut rng);
        assert_eq!(common::trace_context::trace_id(&tp), Some(id.as_str()));
        assert!(tp.ends_with("-01"));
    }
}
