//! MOP's test support: the one harness that runs a service under test, and throw-away backends (real
//! servers started from binaries on the machine).
//!
//! Reading order: [`server`] (a service's `run` on `127.0.0.1:0`, its URL and client, stop and
//! drain), [`process`] (finding binaries, dropping root, the watchdog that stops a server when
//! the test binary exits, free ports), `launcher` (the skeleton every backend shares: folder,
//! watchdog, child process, `Drop`), then one module per backend: [`postgres`] (orders), [`redis`]
//! (gateway) and [`kafka`] (an Apache Kafka broker for events, run from its Maven Central jars by
//! `kafka_dist`'s Java), with `kafka_reader` (feature `kafka-reader`) to read topics back,
//! `prometheus` (feature `prometheus`): a real Prometheus loaded with fixture data, and `kube`
//! (feature `kube`): a real etcd + kube-apiserver (no kubelet: nothing runs).
//!
//! The rule every launcher keeps: a missing binary is a *failing* test whose message says what to
//! install, never a silent skip; an environment variable (`DATABASE_URL`, …) may point at an existing
//! server instead.

pub mod kafka;
mod kafka_dist;
#[cfg(feature = "kafka-reader")]
pub mod kafka_reader;
#[cfg(feature = "kube")]
pub mod kube;
mod launcher;
pub mod postgres;
pub mod process;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub mod redis;
pub mod server;

/// Everything testkit reports is a human-readable message: tests `unwrap()` it and the message is
/// the failure they show.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a backend could not be provided; the `Display` text says what to do about it.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self(format!("database error: {e}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self(format!("i/o error: {e}"))
    }
}
