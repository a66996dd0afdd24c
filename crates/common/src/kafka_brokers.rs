//! Notices a librdkafka client that has forgotten every broker, so its owner can replace it.
//!
//! Why it is needed: since 2.10 librdkafka removes every broker that a Metadata response does not
//! list, and Apache Kafka lists only *unfenced* brokers. When the controller fences a broker for a
//! moment — a single-node cluster that stalled longer than `broker.session.timeout.ms` (9 s: a GC
//! pause, a frozen VM or pod, an 8 s SIGSTOP in our tests), then unfences it a few milliseconds
//! later — a client that asks in that window is told "0 brokers, 1 topic" and removes the only
//! broker it knew. With no broker left it can send no Metadata request, so its own re-bootstrap
//! (`metadata.recovery.rebootstrap.trigger.ms`) never starts (confluentinc/librdkafka#5301): every write
//! times out and a consumer never finds its group coordinator again, for as long as the process
//! lives. A new client bootstraps from `bootstrap.servers` afresh, which is what its owner does once
//! [`BrokerWatch`] says so: the events intake's `kafka::Producer` swaps its client, its consumer its
//! group member, loadgen's Kafka driver its producer.
//!
//! How it is noticed: the client's statistics (every [`STATS_INTERVAL_MS`]) list its brokers with
//! their source. A broker that is down is still listed; only `logical` (the group coordinator
//! handle) and `internal` entries left means the client has no broker to ask any more.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use rdkafka::ClientContext;
use serde::Deserialize;
use tokio::sync::Notify;

/// `statistics.interval.ms` of every long-lived client: how soon a client that forgot every broker
/// is noticed (the report itself is a few kB of JSON per client).
pub const STATS_INTERVAL_MS: &str = "1000";

/// Whether a client still knows a broker, from its statistics reports.
#[derive(Debug, Default)]
pub struct BrokerWatch {
    forgotten: AtomicBool,
    notify: Notify,
}

impl BrokerWatch {
    /// Reads one statistics report (`stats_raw`). A report that does not parse changes nothing.
    pub fn observe(&self, report: &[u8]) {
        if let Ok(report) = serde_json::from_slice::<Report>(report)
            && !report.knows_a_broker()
            && !self.forgotten.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "the Kafka client knows no broker any more (a Metadata response listed none); \
                 replacing it"
            );
            self.notify.notify_one();
        }
    }

    /// Whether a report said the client knows no broker (it never un-forgets: replace it).
    pub fn forgot_every_broker(&self) -> bool {
        self.forgotten.load(Ordering::Relaxed)
    }

    /// Returns once a report says the client knows no broker.
    pub async fn forgotten(&self) {
        while !self.forgot_every_broker() {
            self.notify.notified().await;
        }
    }
}

/// The part of librdkafka's statistics JSON we read (STATISTICS.md: `brokers.<name>.source`).
#[derive(Deserialize)]
struct Report {
    #[serde(default)]
    brokers: HashMap<String, BrokerEntry>,
}

#[derive(Deserialize)]
struct BrokerEntry {
    source: String,
}

impl Report {
    /// `configured` (from `bootstrap.servers`) or `learned` (from Metadata) brokers are real ones;
    /// `logical` (the group coordinator handle) and `internal` ones cannot be asked for metadata.
    fn knows_a_broker(&self) -> bool {
        self.brokers
            .values()
            .any(|b| matches!(b.source.as_str(), "configured" | "learned"))
    }
}

/// The context of a producer client: hands its statistics to its [`BrokerWatch`].
#[derive(Debug, Default)]
pub struct Watched {
    pub watch: std::sync::Arc<BrokerWatch>,
}

impl ClientContext for Watched {
    fn stats_raw(&self, report: &[u8]) {
        self.watch.observe(report);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(sources: &[&str]) -> Vec<u8> {
        let brokers: serde_json::Map<String, serde_json::Value> = sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    format!("b{i}"),
                    serde_json::json!({"source": s, "state": "UP"}),
                )
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({"name": "rdkafka#producer-1", "brokers": brokers}))
            .unwrap()
    }

    #[test]
    fn a_down_broker_is_still_known_only_logical_ones_are_not() {
        let watch = BrokerWatch::default();
        watch.observe(&report(&["configured"]));
        watch.observe(&report(&["learned", "logical", "internal"]));
        watch.observe(b"not json");
        assert!(!watch.forgot_every_broker());
        // What a client reports after a Metadata response listed no broker.
        watch.observe(&report(&["logical", "internal"]));
        assert!(watch.forgot_every_broker());
        // It stays forgotten: the client does not find a broker again by itself.
        watch.observe(&report(&["learned"]));
        assert!(watch.forgot_every_broker());
    }

    #[tokio::test]
    async fn forgotten_wakes_a_waiter() {
        let watch = std::sync::Arc::new(BrokerWatch::default());
        let waiter = tokio::spawn({
            let watch = std::sync::Arc::clone(&watch);
            async move { watch.forgotten().await }
        });
        watch.observe(&report(&["internal"]));
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the waiter was not woken")
            .unwrap();
    }
}
