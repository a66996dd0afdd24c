//! What every MOP service shares — and nothing more: no database, broker or cache client lives here.
//!
//! Reading order: [`args`] (the flags every binary has), [`logging`] (JSON lines on stdout),
//! [`shutdown`] (SIGTERM/SIGINT → a cancellation token), [`trace_context`] (W3C `traceparent`),
//! [`request_id`] (accept or generate `x-request-id`), [`rng`] (a tiny deterministic generator for seeds),
//! then [`http`] (the layers, extractors and problem+json errors every REST service uses).

pub mod args;
pub mod http;
pub mod logging;
pub mod request_id;
pub mod rng;
pub mod shutdown;
pub mod trace_context;
