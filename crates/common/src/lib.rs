//! What every MOP service shares — and nothing more: no database, broker or cache client lives here.
//! The one Kafka piece, [`kafka_brokers`] (feature `kafka`), creates no client: it reads the
//! statistics of the events service's and loadgen's own librdkafka clients.
//!
//! Reading order: [`args`] (the flags every binary has), [`logging`] (JSON lines on stdout),
//! [`shutdown`] (SIGTERM/SIGINT → a cancellation token), [`trace_context`] (W3C `traceparent`),
//! [`request_id`] (accept or generate `x-request-id`), [`rng`] (a tiny deterministic generator for seeds),
//! then [`http`] (the layers, extractors and problem+json errors every REST service uses).

pub mod args;
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka_brokers;
pub mod logging;
pub mod request_id;
pub mod rng;
pub mod shutdown;
pub mod trace_context;
