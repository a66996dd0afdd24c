//! `events-consumer`: a consumer-group member over `orders.*` with at-least-once processing.
//!
//! The flow: one dispatcher task reads the group's records ([`StreamConsumer::recv`], which also
//! runs the rebalance callbacks) and hands each to its partition's [`worker`], which handles it
//! through the [`roles`] (notifications or analytics) and stores its offset only afterwards.
//! librdkafka commits stored offsets every `--commit-interval`, on revoke ([`GroupContext`]) and on
//! shutdown. [`group`] tracks the assignment; [`seed`] pre-fills the notifications seen-set from the
//! `notifications` topic at start-up. The [`admin`] HTTP server serves probes and `/stats`.

pub mod admin;
mod group;
pub mod roles;
mod seed;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::FutureRecord;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{ConsumerConfig, Role as RoleName};
use crate::event::EventType;
use crate::kafka::{self, Topics};
use group::Member;
pub use group::{Assignment, GroupContext};
use roles::Role;

/// Records buffered per partition worker before the dispatcher waits.
const WORKER_QUEUE: usize = 1024;

/// The group consumer with our rebalance handling.
pub type GroupConsumer = StreamConsumer<GroupContext>;

/// Counters served on `/stats`.
#[derive(Debug, Clone, Copy)]
pub enum Stat {
    Received,
    Processed,
    Duplicates,
    Retries,
    DeadLettered,
    Rebalances,
}

/// Process-lifetime counters (reset on restart; the topics are the durable truth).
#[derive(Debug, Default)]
pub struct Stats([AtomicU64; 6]);

impl Stats {
    pub fn add(&self, s: Stat) {
        self.0[s as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, s: Stat) -> u64 {
        self.0[s as usize].load(Ordering::Relaxed)
    }
}

/// Everything a worker needs (besides the member client it stores offsets with).
pub struct Shared {
    producer: kafka::Producer,
    topics: Topics,
    role: Role,
    stats: Arc<Stats>,
    assignment: Arc<Assignment>,
    shutdown: CancellationToken,
    max_attempts: u32,
    retry_backoff: Duration,
    fail_ratio: f64,
    fail_seed: u64,
    process_delay: Duration,
}

/// Runs the consumer and its admin server until `shutdown`, then drains, commits and flushes.
pub async fn run(
    config: ConsumerConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let stats = Arc::new(Stats::default());
    let assignment = Arc::new(Assignment::default());
    let topics = Topics::new(&config.kafka.topic_prefix);
    let producer = kafka::Producer::new(&config.kafka, Duration::from_millis(2))?;
    let role = match config.role {
        RoleName::Notifications => Role::Notifications {
            producer: producer.clone(),
            topics: topics.clone(),
            seen: Arc::default(),
        },
        RoleName::Analytics => Role::Analytics {
            state: Arc::default(),
        },
    };
    let shared = Arc::new(Shared {
        producer: producer.clone(),
        topics: topics.clone(),
        role,
        stats,
        assignment,
        shutdown: shutdown.clone(),
        max_attempts: config.max_attempts,
        retry_backoff: config.retry_backoff,
        fail_ratio: config.fail_ratio.clamp(0.0, 1.0),
        fail_seed: config.fail_seed,
        process_delay: Duration::from_millis(config.process_delay_ms),
    });

    let tasks = TaskTracker::new();
    let admin_app = admin::app(Arc::clone(&shared), config.group(), shutdown.clone());
    tasks.spawn(common::http::serve::serve(
        listener,
        admin_app,
        shutdown.clone(),
        config.common.shutdown_grace,
    ));
    if config.role == RoleName::Analytics {
        tasks.spawn(publish_snapshots(
            Arc::clone(&shared),
            config.snapshot_interval,
        ));
    }

    // Subscribing before the topics exist is fine for librdkafka, but the group only gets
    // partitions once they do: create them first (retrying while the broker is down).
    kafka::ensure_topics(&config.kafka, &shutdown).await.ok();
    if let Role::Notifications { seen, .. } = &shared.role {
        let seeded = seed_seen(&config, &topics).await;
        *seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = seeded;
    }
    let subscribed: Vec<String> = EventType::ALL.iter().map(|t| topics.orders(*t)).collect();
    let names: Vec<&str> = subscribed.iter().map(String::as_str).collect();
    let client_config = consumer_config(&config);
    let mut member = Member::join(&client_config, &shared.assignment, &shared.stats, &names)?;
    tracing::info!(group = %config.group(), topics = ?subscribed, role = config.role.name(), "consuming");

    let workers = TaskTracker::new();
    // A client that forgot every broker never finds one again: a new member takes over.
    while dispatch(&shared, &member, &workers).await == Ended::ForgotEveryBroker {
        member.abandon(&shared.assignment);
        member = Member::join(&client_config, &shared.assignment, &shared.stats, &names)?;
        tracing::warn!(group = %config.group(), "a new group member replaces the client that forgot every broker");
    }

    // Shutdown: workers finish the record in hand (up to the grace period), then the stored offsets
    // are committed synchronously and the producer is flushed.
    workers.close();
    if tokio::time::timeout(config.common.shutdown_grace, workers.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "workers still busy after the grace period; their records will be redelivered"
        );
    }
    let committing = Arc::clone(&member.consumer);
    let committed =
        tokio::task::spawn_blocking(move || committing.commit_consumer_state(CommitMode::Sync))
            .await?;
    match committed {
        Ok(()) => tracing::info!("offsets committed at shutdown"),
        Err(e) => tracing::info!(error = %e, "no offsets committed at shutdown"),
    }
    producer.flush(Duration::from_secs(5)).await;
    tasks.close();
    tasks.wait().await;
    Ok(())
}

/// The event ids already notified, read back from the `notifications` topic (empty, with a warning,
/// when the broker cannot be read yet: dedupe then falls back to identical duplicates).
async fn seed_seen(config: &ConsumerConfig, topics: &Topics) -> roles::SeenSet {
    let (args, topic) = (config.kafka.clone(), topics.notifications());
    let read = tokio::task::spawn_blocking(move || seed::seen_from_topic(&args, &topic)).await;
    match read {
        Ok(Ok(seen)) => {
            tracing::info!(event_ids = seen.len(), "seen-set seeded from notifications");
            seen
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not read back notifications; starting with an empty seen-set");
            roles::SeenSet::default()
        }
        Err(e) => {
            tracing::warn!(error = %e, "seeding the seen-set failed");
            roles::SeenSet::default()
        }
    }
}

/// Why [`dispatch`] returned.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Shutdown,
    ForgotEveryBroker,
}

/// Reads `member`'s records and routes each to its partition's worker until shutdown, or until the
/// member's client forgot every broker.
async fn dispatch(shared: &Arc<Shared>, member: &Member, workers: &TaskTracker) -> Ended {
    let mut senders: HashMap<(String, i32), (u64, mpsc::Sender<OwnedMessage>)> = HashMap::new();
    loop {
        let message = tokio::select! {
            () = shared.shutdown.cancelled() => return Ended::Shutdown,
            () = member.forgot_every_broker() => return Ended::ForgotEveryBroker,
            m = member.consumer.recv() => m,
        };
        let message = match message {
            Ok(m) => m.detach(),
            Err(e) => {
                tracing::warn!(error = %e, "kafka consumer error");
                continue;
            }
        };
        let key = (message.topic().to_owned(), message.partition());
        let mut message = message;
        // At most twice: a worker that exited between our check and the send gets a successor, and
        // the record goes to it — a record must never be dropped while we still own its partition,
        // or a later stored offset would skip it.
        for _ in 0..2 {
            // A record of a partition we no longer own is dropped: its new owner reads it again.
            let Some(epoch) = shared.assignment.current(&key.0, key.1) else {
                break;
            };
            let tx = match senders.get(&key) {
                Some((e, tx)) if *e == epoch && !tx.is_closed() => tx.clone(),
                _ => {
                    let (tx, rx) = mpsc::channel(WORKER_QUEUE);
                    workers.spawn(worker::run(
                        Arc::clone(shared),
                        Arc::clone(&member.consumer),
                        key.0.clone(),
                        key.1,
                        epoch,
                        rx,
                    ));
                    senders.insert(key.clone(), (epoch, tx.clone()));
                    tx
                }
            };
            tokio::select! {
                () = shared.shutdown.cancelled() => return Ended::Shutdown,
                sent = tx.send(message) => match sent {
                    Ok(()) => break,
                    Err(mpsc::error::SendError(back)) => {
                        senders.remove(&key);
                        message = back;
                    }
                },
            }
        }
    }
}

/// Analytics: publishes the aggregates on `analytics` every `interval` (and once at shutdown).
async fn publish_snapshots(shared: Arc<Shared>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        let last = tokio::select! {
            _ = ticker.tick() => false,
            () = shared.shutdown.cancelled() => true,
        };
        if let Some(aggregates) = shared.role.aggregates() {
            let snapshot = Snapshot {
                taken_at: chrono::Utc::now(),
                aggregates,
            };
            let payload = serde_json::to_vec(&snapshot).unwrap_or_default();
            let topic = shared.topics.analytics();
            let record = FutureRecord::<str, [u8]>::to(&topic)
                .key("snapshot")
                .payload(&payload);
            if let Err(e) = shared.producer.send(record).await {
                tracing::warn!(error = %e, "publishing the analytics snapshot failed");
            }
        }
        if last {
            return;
        }
    }
}

/// One `analytics` record.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub taken_at: chrono::DateTime<chrono::Utc>,
    #[serde(flatten)]
    pub aggregates: roles::Aggregates,
}

fn consumer_config(config: &ConsumerConfig) -> ClientConfig {
    let session = config.session_timeout.as_millis().max(1000);
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.kafka.kafka_brokers)
        .set("group.id", config.group())
        .set("enable.auto.commit", "true")
        .set(
            "auto.commit.interval.ms",
            config.commit_interval.as_millis().max(1).to_string(),
        )
        // The at-least-once switch: only offsets we store (after handling) are committed.
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("session.timeout.ms", session.to_string())
        .set("heartbeat.interval.ms", (session / 3).to_string())
        // An idle partition's fetch is held at most this long, which bounds how long a new record
        // can wait for the next fetch (100 ms gave a 162 ms p50 event → notification latency with the
        // previous test broker, 10 ms 18 ms; docs/benchmarks-events.md).
        .set("fetch.wait.max.ms", "10")
        // Bounded read-ahead: librdkafka prefetches up to 64 MiB / 100 000 records by default, so a
        // consumer that falls behind holds the backlog in memory (+33 MiB for a 24 MiB backlog, the
        // memory test; +19 MiB in a soak). 4 MiB is still hundreds of records per partition ahead.
        .set("queued.max.messages.kbytes", "4096")
        .set("queued.min.messages", "1000")
        .set("reconnect.backoff.max.ms", "1000")
        .set(
            "statistics.interval.ms",
            common::kafka_brokers::STATS_INTERVAL_MS,
        );
    c
}
