//! Cross-restart dedupe for the notifications role: before joining the group, read back the recent
//! tail of `notifications` and remember the event ids already notified.
//!
//! Why this closes the gap: a notification is acknowledged *before* its event's offset is stored, so
//! every event a crashed member handled but did not commit has its notification in the topic. Seeding
//! the seen-set from that tail turns those redeliveries into skips instead of identical duplicates.
//! What it does not cover (documented in docs/events.md): notifications older than the tail read here,
//! and a partition moving between two *live* members mid-event (the duplicate is then identical).

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use uuid::Uuid;

use super::roles::{SEEN_CAPACITY, SeenSet};
use crate::config::KafkaArgs;
use crate::kafka::{self, header};

/// Longest the read-back may take; start-up continues with what was read by then.
const SEED_TIMEOUT: Duration = Duration::from_secs(15);

/// Reads up to [`SEEN_CAPACITY`] of the latest records of `topic` (spread over its partitions) and
/// returns the event ids they name. Blocking: call from `spawn_blocking`.
pub fn seen_from_topic(args: &KafkaArgs, topic: &str) -> anyhow::Result<SeenSet> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &args.kafka_brokers)
        .set("group.id", "events-seed-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "50")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(5))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let per_partition = (SEEN_CAPACITY / partitions.len().max(1)) as i64;
    let mut tpl = TopicPartitionList::new();
    let mut remaining = 0i64;
    for &p in &partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(5))?;
        let start = (high - per_partition).max(low);
        if high > start {
            tpl.add_partition_offset(topic, p, Offset::Offset(start))?;
            remaining += high - start;
        }
    }
    let mut seen = SeenSet::default();
    if remaining == 0 {
        return Ok(seen);
    }
    consumer.assign(&tpl)?;
    let deadline = Instant::now() + SEED_TIMEOUT;
    while remaining > 0 && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                remaining -= 1;
                if let Some(id) =
                    kafka::header_str(&m, header::EVENT_ID).and_then(|id| Uuid::parse_str(&id).ok())
                {
                    seen.insert(id);
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "reading back notifications"),
            None => {}
        }
    }
    Ok(seen)
}
