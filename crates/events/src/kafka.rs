//! The Kafka plumbing both binaries share: topic names, start-up topic creation, client settings and
//! record headers.
//!
//! Every client is plaintext (no TLS stack is linked: OBI reads the Kafka wire protocol from the
//! kernel) and every producer is idempotent with `acks=all`, so "acknowledged" means "written to all
//! in-sync replicas, once", which is the only acknowledgement worth answering 202 on.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use common::kafka_brokers::{self as brokers, BrokerWatch, Watched};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::ToBytes;
use rdkafka::message::{Headers, Message, OwnedHeaders};
use rdkafka::producer::future_producer::Delivery;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::util::Timeout;
use tokio_util::sync::CancellationToken;

use crate::config::KafkaArgs;
use crate::event::EventType;

/// Header names on our records.
pub mod header {
    pub const EVENT_TYPE: &str = "event-type";
    pub const EVENT_ID: &str = "event-id";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const TRACEPARENT: &str = "traceparent";
    pub const NOTIFICATION_ID: &str = "notification-id";
    // DLQ records: where the poison came from and why it is here.
    pub const ORIGINAL_TOPIC: &str = "dlq-original-topic";
    pub const ORIGINAL_PARTITION: &str = "dlq-original-partition";
    pub const ORIGINAL_OFFSET: &str = "dlq-original-offset";
    pub const ORIGINAL_KEY: &str = "dlq-original-key";
    pub const ERROR: &str = "dlq-error";
    pub const ATTEMPTS: &str = "dlq-attempts";
}

/// The lab's topic names, with the configured prefix applied.
#[derive(Debug, Clone)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// `orders.<type>`: where the intake writes an event of that type.
    pub fn orders(&self, t: EventType) -> String {
        format!("{}orders.{}", self.prefix, t.as_str())
    }

    pub fn notifications(&self) -> String {
        format!("{}notifications", self.prefix)
    }

    pub fn analytics(&self) -> String {
        format!("{}analytics", self.prefix)
    }

    pub fn dlq(&self) -> String {
        format!("{}dlq", self.prefix)
    }

    /// Every topic the lab uses.
    pub fn all(&self) -> Vec<String> {
        let mut all: Vec<String> = EventType::ALL.iter().map(|t| self.orders(*t)).collect();
        all.extend([self.notifications(), self.analytics(), self.dlq()]);
        all
    }
}

/// Settings common to every client.
fn base(args: &KafkaArgs) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &args.kafka_brokers)
        // Reconnect quickly after a broker outage: the default backoff grows to 10 s.
        .set("reconnect.backoff.max.ms", "1000")
        .set("topic.metadata.refresh.interval.ms", "10000");
    c
}

/// An idempotent, `acks=all` producer whose deliveries fail after `delivery_timeout`, replaced by a
/// fresh one when the broker rejects its writes or when the client forgot every broker.
///
/// Why replace it: an idempotent producer carries a producer id and per-partition sequence numbers.
/// After a broker comes back without its data (a Kafka pod on a new emptyDir) it may reject that
/// state with an error librdkafka cannot recover from by itself, and every later write would fail
/// the same way. A client that forgot every broker ([`brokers`]) would time out every write for
/// good. A new client bootstraps afresh and gets a new producer id; duplicates this could cause are
/// deduped by `event_id` downstream.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<ProducerInner>,
}

/// A producer client with the context that watches whether it still knows a broker.
pub type ProducerClient = FutureProducer<Watched>;

struct ProducerInner {
    config: ClientConfig,
    current: RwLock<Current>,
}

/// The client in use and how many times it was replaced before.
struct Current {
    generation: u64,
    client: ProducerClient,
    watch: Arc<BrokerWatch>,
}

impl Current {
    fn create(config: &ClientConfig, generation: u64) -> KafkaResult<Self> {
        let watched = Watched::default();
        let watch = Arc::clone(&watched.watch);
        let client = config.create_with_context(watched)?;
        Ok(Self {
            generation,
            client,
            watch,
        })
    }
}

impl Producer {
    pub fn new(args: &KafkaArgs, linger: Duration) -> anyhow::Result<Self> {
        let timeout_ms = args.delivery_timeout.as_millis().max(1).to_string();
        let mut config = base(args);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", &timeout_ms)
            .set("linger.ms", linger.as_millis().to_string())
            // Keyed records go to murmur2(key) % partitions, the Java client's choice, so every
            // client of the lab agrees on which partition an order lives in.
            .set("partitioner", "murmur2_random")
            .set("statistics.interval.ms", brokers::STATS_INTERVAL_MS);
        let current = Current::create(&config, 0)?;
        Ok(Self {
            inner: Arc::new(ProducerInner {
                config,
                current: RwLock::new(current),
            }),
        })
    }

    /// The client in use now; a client that forgot every broker is replaced first
    /// ([`common::kafka_brokers`] says why that happens).
    pub fn current(&self) -> ProducerClient {
        self.checked().1
    }

    /// The current client and its generation, after replacing a client that forgot every broker.
    fn checked(&self) -> (u64, ProducerClient) {
        let (generation, client, forgotten) = {
            let current = self.read();
            (
                current.generation,
                current.client.clone(),
                current.watch.forgot_every_broker(),
            )
        };
        if !forgotten {
            return (generation, client);
        }
        self.replace(generation, &"the client forgot every broker");
        let current = self.read();
        (current.generation, current.client.clone())
    }

    /// Produces `record` and waits for the acknowledgement (bounded by `message.timeout.ms`).
    pub async fn send<K, P>(&self, record: FutureRecord<'_, K, P>) -> Result<Delivery, KafkaError>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        let (generation, producer) = self.checked();
        match producer.send(record, Timeout::Never).await {
            Ok(delivery) => Ok(delivery),
            Err((error, _)) => {
                if let KafkaError::MessageProduction(code) = &error
                    && !matches!(
                        code,
                        RDKafkaErrorCode::MessageTimedOut | RDKafkaErrorCode::QueueFull
                    )
                {
                    self.replace(generation, &error);
                }
                Err(error)
            }
        }
    }

    /// Swaps in a new client now: the broker lost its data, so our producer id refers to nothing
    /// (a broker may answer every write with UNKNOWN_PRODUCER_ID, which librdkafka retries until
    /// the delivery times out).
    pub fn renew(&self) {
        let generation = self.read().generation;
        self.replace(generation, &"the broker lost its data");
    }

    /// Swaps in a new client unless another caller already replaced `generation`.
    fn replace(&self, generation: u64, error: &dyn std::fmt::Display) {
        let mut current = self
            .inner
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if current.generation != generation {
            return;
        }
        match Current::create(&self.inner.config, generation + 1) {
            Ok(fresh) => {
                tracing::warn!(%error, "replacing the producer client");
                let old = std::mem::replace(&mut *current, fresh);
                // Dropping a client purges its queue and waits up to 500 ms for the results
                // (rdkafka's `BaseProducer::drop`): not on the runtime, not under the lock.
                drop(current);
                std::thread::spawn(move || drop(old));
            }
            Err(e) => tracing::error!(error = %e, "could not create a replacement producer"),
        }
    }

    /// Waits for queued records (bounded), e.g. at shutdown.
    pub async fn flush(&self, timeout: Duration) {
        let producer = self.current();
        let flushed =
            tokio::task::spawn_blocking(move || producer.flush(Timeout::After(timeout))).await;
        if let Ok(Err(e)) = flushed {
            tracing::warn!(error = %e, "producer flush failed");
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Creates every missing topic with `args.topic_partitions` partitions, retrying with backoff while
/// the broker is unreachable (a backend that is down at start-up is not a crash loop).
pub async fn ensure_topics(args: &KafkaArgs, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = base(args).create()?;
    let topics = Topics::new(&args.topic_prefix).all();
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, args.topic_partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let mut delay = Duration::from_millis(200);
    loop {
        let outcome = admin.create_topics(&new, &options).await;
        let failed: Vec<String> = match outcome {
            Ok(results) => results
                .into_iter()
                .filter_map(|r| match r {
                    Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => None,
                    Err((topic, code)) => Some(format!("{topic}: {code}")),
                })
                .collect(),
            Err(e) => vec![e.to_string()],
        };
        if failed.is_empty() {
            tracing::info!(?topics, partitions = args.topic_partitions, "topics ready");
            return Ok(());
        }
        tracing::warn!(errors = ?failed, retry_in_ms = delay.as_millis(), "creating topics failed; retrying");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.cancelled() => anyhow::bail!("shut down before the topics existed"),
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// [`ensure_topics`], then again whenever the broker no longer lists one of them (checked every
/// `every`): a broker that lost its data — a Kafka pod with an emptyDir replaced, a testkit broker
/// started again empty — comes back without the topics, and with auto-creation off every later write would time
/// out (found by `lab scenario kafka-broker-outage --local`).
pub async fn keep_topics(
    args: KafkaArgs,
    producer: Producer,
    every: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    ensure_topics(&args, &shutdown).await?;
    let wanted = Topics::new(&args.topic_prefix).all();
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return Ok(()),
        }
        let client = producer.current();
        let listed = tokio::task::spawn_blocking(move || {
            client
                .client()
                .fetch_metadata(None, Duration::from_secs(2))
                .map(|m| {
                    m.topics()
                        .iter()
                        .map(|t| t.name().to_owned())
                        .collect::<Vec<_>>()
                })
        })
        .await;
        // An unreachable broker is not a missing topic: look again next time.
        if let Ok(Ok(listed)) = listed
            && wanted.iter().any(|t| !listed.contains(t))
        {
            tracing::warn!(
                "the broker lists not all of our topics (did it lose its data?); creating them again"
            );
            ensure_topics(&args, &shutdown).await?;
            producer.renew();
        }
    }
}

/// Why the readiness check failed.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("kafka broker unreachable: {0}")]
    Broker(#[from] KafkaError),
    #[error("readiness check failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Asks the broker for cluster metadata: the readiness check of both binaries. librdkafka's call
/// blocks, so it runs on the blocking pool.
pub async fn check_broker(producer: &Producer) -> Result<(), NotReady> {
    let producer = producer.current();
    tokio::task::spawn_blocking(move || {
        producer
            .client()
            .fetch_metadata(None, Duration::from_secs(2))
            .map(|_| ())
    })
    .await??;
    Ok(())
}

/// Appends a UTF-8 header.
pub fn with_header(headers: OwnedHeaders, key: &str, value: &str) -> OwnedHeaders {
    headers.insert(rdkafka::message::Header {
        key,
        value: Some(value),
    })
}

/// The first value of header `key`, when it is UTF-8.
pub fn header_str<M: Message>(message: &M, key: &str) -> Option<String> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value)
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::to_owned)
}
