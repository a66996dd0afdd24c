//! Group membership: which partitions this member owns (with an epoch per assignment, so a worker
//! of an earlier assignment notices it lost its partition) and the rebalance hooks that commit what
//! is stored before partitions are revoked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::topic_partition_list::TopicPartitionList;

use super::{Stat, Stats};

/// Which partitions this member owns, each with the epoch of its latest assignment, so a worker
/// started for an earlier assignment notices it no longer owns the partition.
#[derive(Debug, Default)]
pub struct Assignment {
    owned: Mutex<HashMap<(String, i32), u64>>,
    next_epoch: AtomicU64,
}

impl Assignment {
    pub(super) fn assign(&self, tpl: &TopicPartitionList) {
        let epoch = self.next_epoch.fetch_add(1, Ordering::Relaxed) + 1;
        let mut owned = self.lock();
        for e in tpl.elements() {
            owned.insert((e.topic().to_owned(), e.partition()), epoch);
        }
    }

    pub(super) fn revoke(&self, tpl: &TopicPartitionList) {
        let mut owned = self.lock();
        for e in tpl.elements() {
            owned.remove(&(e.topic().to_owned(), e.partition()));
        }
    }

    pub(super) fn current(&self, topic: &str, partition: i32) -> Option<u64> {
        self.lock().get(&(topic.to_owned(), partition)).copied()
    }

    pub(super) fn is_current(&self, topic: &str, partition: i32, epoch: u64) -> bool {
        self.current(topic, partition) == Some(epoch)
    }

    /// Owned partitions, sorted (for `/stats`).
    pub fn partitions(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .lock()
            .keys()
            .map(|(t, p)| format!("{t}/{p}"))
            .collect();
        v.sort();
        v
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, i32), u64>> {
        self.owned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Rebalance hooks: commit what is stored before partitions go, track what is owned.
pub struct GroupContext {
    pub(super) assignment: Arc<Assignment>,
    pub(super) stats: Arc<Stats>,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            self.stats.add(Stat::Rebalances);
            // Workers of these partitions stop before their next record; then everything handled
            // so far is committed, so the next owner starts right after it.
            self.assignment.revoke(tpl);
            match consumer.commit_consumer_state(CommitMode::Sync) {
                Ok(()) => tracing::info!(partitions = tpl.count(), "offsets committed on revoke"),
                Err(e) => tracing::debug!(error = %e, "nothing committed on revoke"),
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            self.assignment.assign(tpl);
            let partitions: Vec<String> = tpl
                .elements()
                .iter()
                .map(|e| format!("{}/{}", e.topic(), e.partition()))
                .collect();
            tracing::info!(?partitions, "partitions assigned");
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::debug!(error = %e, "offset commit");
        }
    }
}
