//! Drivers: what one arrival *does*. One closed enum, one runner — not a near-duplicate run loop per
//! protocol (oha's `work_*` functions are the cautionary tale).

pub mod grpc;
pub mod http;
pub mod kafka;
pub mod redis;
pub mod sql;

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

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

    /// A step's `expect` as written, or — when it names nothing — this protocol's successes
    /// (scenario files and ad-hoc runs alike).
    pub fn expect_or_successes(&self, expect: Vec<String>) -> Vec<String> {
        if expect.is_empty() {
            self.successes().iter().map(|c| (*c).to_owned()).collect()
        } else {
            expect
        }
    }

    /// The outcome classes that are this protocol's successes.
    pub fn successes(&self) -> &'static [&'static str] {
        match self {
            Request::Http(_) => &["2xx"],
            Request::Grpc(_) => &["OK"],
            Request::Redis(_) => &["OK", "HIT", "MISS"],
            Request::Sql(_) => &["sql:OK"],
            Request::Kafka(_) => &["kafka:OK", "kafka:POISON"],
        }
    }
}

/// The clients, created once per run and shared by every in-flight request.
#[derive(Debug, Clone)]
pub struct Drivers {
    http_timeout: Duration,
    grpc: Arc<grpc::GrpcDriver>,
    redis: Arc<redis::RedisDriver>,
    sql: Arc<sql::SqlDriver>,
    kafka: Arc<kafka::KafkaDriver>,
}

impl Drivers {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            http_timeout: http::TIMEOUT,
            grpc: Arc::new(grpc::GrpcDriver::default()),
            redis: Arc::new(redis::RedisDriver::default()),
            sql: Arc::new(sql::SqlDriver::default()),
            kafka: Arc::new(kafka::KafkaDriver::default()),
        })
    }

    /// Sets how long one HTTP request may take, connect included (default 60 s); a request that
    /// takes longer is an `io:timeout` and its connection is closed.
    #[must_use]
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Starts, before the clock of a run starts, the clients whose start-up would otherwise be
    /// measured as the first requests' latency (today: Kafka producers; see [`kafka::KafkaDriver::warm_up`]).
    pub async fn warm_up(&self, requests: impl IntoIterator<Item = &Request>) {
        let kafka = requests.into_iter().filter_map(|r| match r {
            Request::Kafka(step) => Some(step.brokers.as_str()),
            _ => None,
        });
        self.kafka.warm_up(kafka).await;
    }

    /// The clients for one sender (a runner worker): the shared drivers plus its own HTTP
    /// connections.
    pub fn worker(&self) -> Worker {
        Worker {
            drivers: self.clone(),
            http: http::Connections::new(self.http_timeout),
        }
    }
}

/// What one sender calls through. HTTP/1.1 connections are owned here, not pooled: one in-flight
/// request per connection is HTTP/1.1's rule anyway, and ownership makes a request lock-free.
#[derive(Debug)]
pub struct Worker {
    drivers: Drivers,
    http: http::Connections,
}

impl Worker {
    /// Sends one request; `rng` fills the step's templates; `traceparent` is sent where the protocol
    /// carries one.
    pub async fn call(
        &mut self,
        request: &Request,
        rng: &mut SplitMix64,
        traceparent: &str,
    ) -> Outcome {
        let d = &self.drivers;
        match request {
            Request::Http(step) => self.http.call(step, rng, traceparent).await,
            Request::Grpc(step) => d.grpc.call(step, rng, traceparent).await,
            // RESP has no place for a trace context: OBI's Redis spans are never linked to a trace.
            Request::Redis(step) => d.redis.call(step, rng).await,
            // Nor does the PostgreSQL protocol.
            Request::Sql(step) => d.sql.call(step, rng).await,
            Request::Kafka(step) => d.kafka.call(step, rng, traceparent).await,
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
/// report's trace ids open the exact traces in Tempo. Built in place (no allocation per request).
#[derive(Clone, Copy)]
pub struct TraceParent([u8; 55]);

impl TraceParent {
    pub fn new(rng: &mut SplitMix64) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = *b"00-00000000000000000000000000000000-0000000000000000-01";
        let words = [rng.next_u64(), rng.next_u64() | 1, rng.next_u64() | 1];
        for (w, word) in words.iter().enumerate() {
            // trace id: bytes 3..35 (two words), parent id: bytes 36..52.
            let at = if w < 2 { 3 + 16 * w } else { 36 };
            for (i, slot) in buf[at..at + 16].iter_mut().enumerate() {
                *slot = HEX[usize::try_from((word >> (60 - 4 * i)) & 0xf).unwrap_or(0)];
            }
        }
        Self(buf)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and dashes are ever written into the buffer.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The 32 hex digits of the trace id.
    pub fn trace_id(&self) -> &str {
        self.as_str().get(3..35).unwrap_or_default()
    }
}

impl fmt::Debug for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
        let tp = TraceParent::new(&mut rng);
        assert_eq!(
            common::trace_context::trace_id(tp.as_str()),
            Some(tp.trace_id())
        );
        assert!(tp.as_str().ends_with("-01"));
        // The same digits the formatting machinery would write.
        let mut again = SplitMix64(3);
        let (hi, lo, parent) = (again.next_u64(), again.next_u64() | 1, again.next_u64() | 1);
        assert_eq!(
            tp.as_str(),
            format!("00-{hi:016x}{lo:016x}-{parent:016x}-01")
        );
    }
}
