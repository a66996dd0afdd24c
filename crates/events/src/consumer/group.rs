//! Group membership: which partitions this member owns (with an epoch per assignment, so a worker
//! of an earlier assignment notices it lost its partition), the rebalance hooks that commit what
//! is stored before partitions are revoked, and the member's client, replaced when it forgot every
//! broker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::topic_partition_list::TopicPartitionList;

use super::{GroupConsumer, Stat, Stats};
use common::kafka_brokers::BrokerWatch;

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

    /// Owns nothing any more: the member's client was abandoned.
    fn clear(&self) {
        self.lock().clear();
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

/// Rebalance hooks: commit what is stored before partitions go, track what is owned. Also watches
/// whether the client still knows a broker.
pub struct GroupContext {
    assignment: Arc<Assignment>,
    stats: Arc<Stats>,
    watch: BrokerWatch,
    /// Set once the member's client is abandoned: its late callbacks (when it is closed) must not
    /// touch the assignment its successor now keeps.
    abandoned: AtomicBool,
}

impl ClientContext for GroupContext {
    fn stats_raw(&self, report: &[u8]) {
        self.watch.observe(report);
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if self.abandoned.load(Ordering::Relaxed) {
            return;
        }
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
        if self.abandoned.load(Ordering::Relaxed) {
            return;
        }
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

/// This process's group member: its client, replaced by a new one (a new member of the same group)
/// when the client forgot every broker ([`common::kafka_brokers`]).
pub(super) struct Member {
    pub(super) consumer: Arc<GroupConsumer>,
}

impl Member {
    /// Creates a client and subscribes it to `topics`.
    pub(super) fn join(
        config: &ClientConfig,
        assignment: &Arc<Assignment>,
        stats: &Arc<Stats>,
        topics: &[&str],
    ) -> KafkaResult<Self> {
        let consumer: GroupConsumer = config.create_with_context(GroupContext {
            assignment: Arc::clone(assignment),
            stats: Arc::clone(stats),
            watch: BrokerWatch::default(),
            abandoned: AtomicBool::new(false),
        })?;
        consumer.subscribe(topics)?;
        Ok(Self {
            consumer: Arc::new(consumer),
        })
    }

    /// Returns once the client has forgotten every broker.
    pub(super) async fn forgot_every_broker(&self) {
        self.consumer.context().watch.forgotten().await;
    }

    /// Gives the client up: the member owns nothing from now on, so its workers stop before their
    /// next record, and what they have not stored is read again by the next member (the group
    /// hands the partitions over once the broker expires this member's session). The client is
    /// closed on a thread of its own once the last worker let go of it: closing a client that
    /// knows no broker waits for commits it cannot send, which must not hold up the runtime.
    pub(super) fn abandon(self, assignment: &Assignment) {
        self.consumer
            .context()
            .abandoned
            .store(true, Ordering::Relaxed);
        assignment.clear();
        let mut consumer = self.consumer;
        let closing = std::thread::Builder::new()
            .name("abandoned-consumer".into())
            .spawn(move || {
                loop {
                    match Arc::try_unwrap(consumer) {
                        Ok(last) => {
                            drop(last);
                            tracing::info!("the abandoned consumer client is closed");
                            return;
                        }
                        Err(shared) => consumer = shared,
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        if let Err(e) = closing {
            tracing::error!(error = %e, "could not start a thread to close the abandoned consumer");
        }
    }
}
