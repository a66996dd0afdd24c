//! The Kafka driver: order events produced straight to `orders.*` (plain Kafka protocol, so OBI sees
//! `send orders.created`), `acks=all` and idempotent like the intake, with an optional share of poison
//! records — undecodable payloads the consumers must dead-letter without stopping the partition.
//! A producer that forgot every broker (a broker stalled past its controller session, see
//! `common::kafka_brokers`) is replaced before the next record, as the events intake replaces its own.

#[cfg(feature = "kafka")]
use std::collections::HashMap;
#[cfg(feature = "kafka")]
use std::sync::{Arc, Mutex, PoisonError};
#[cfg(feature = "kafka")]
use std::time::{Duration, SystemTime};

#[cfg(feature = "kafka")]
use common::kafka_brokers::{self, BrokerWatch, Watched};
use common::rng::SplitMix64;
#[cfg(feature = "kafka")]
use rdkafka::ClientConfig;
#[cfg(feature = "kafka")]
use rdkafka::message::{Header, OwnedHeaders};
#[cfg(feature = "kafka")]
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use serde::{Deserialize, Serialize};

use crate::stats::Outcome;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaStep {
    /// `host:port[,host:port]`.
    pub brokers: String,
    /// `orders.created`, `orders.updated` or `orders.cancelled` (with any prefix); the event `type` is
    /// the part after the last dot.
    pub topic: String,
    /// Share of records (0–1) sent as undecodable bytes; their acknowledged class is `kafka:POISON`.
    #[serde(default)]
    pub poison_ratio: f64,
    /// Order ids are drawn from this template (per-order ordering: the id is the key).
    #[serde(default = "default_order")]
    pub order_id: String,
    #[serde(default = "default_customer")]
    pub customer_id: String,
}

pub fn default_order() -> String {
    "o-{rand:1:100000}".into()
}
pub fn default_customer() -> String {
    "c-{rand:1:10000}".into()
}

/// librdkafka's delay before an idempotent producer asks for its id (500 ms), plus the request.
#[cfg(feature = "kafka")]
const PRODUCER_ID_DELAY: Duration = Duration::from_millis(600);

/// A producer client whose context watches whether it still knows a broker.
#[cfg(feature = "kafka")]
type Producer = FutureProducer<Watched>;

#[cfg(feature = "kafka")]
#[derive(Default)]
pub struct KafkaDriver {
    /// One producer per bootstrap list, with the watch its statistics feed.
    producers: Mutex<HashMap<String, (Producer, Arc<BrokerWatch>)>>,
}

#[cfg(feature = "kafka")]
impl std::fmt::Debug for KafkaDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaDriver").finish_non_exhaustive()
    }
}

#[cfg(feature = "kafka")]
impl KafkaDriver {
    /// The producer for `brokers`: the one made before, unless it has forgotten every broker —
    /// then a new one, which bootstraps afresh (it asks for a producer id first, so its first
    /// records wait for that).
    fn producer(&self, brokers: &str) -> Result<Producer, rdkafka::error::KafkaError> {
        let mut producers = self
            .producers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((p, watch)) = producers.get(brokers) {
            if watch.forgot_every_broker() {
                tracing::warn!(
                    brokers,
                    "the Kafka producer forgot every broker; replacing it"
                );
            } else if let Some((code, reason)) = p.client().fatal_error() {
                // An idempotent producer's fatal error (a lost sequence) fails every later record.
                tracing::warn!(
                    brokers,
                    ?code,
                    reason,
                    "the Kafka producer failed; replacing it"
                );
            } else {
                return Ok(p.clone());
            }
        }
        let watched = Watched::default();
        let watch = Arc::clone(&watched.watch);
        let p: Producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            // Bounded: a dead broker turns into a `kafka:MessageTimedOut` outcome, not a hung worker.
            .set("message.timeout.ms", "10000")
            .set("linger.ms", "2")
            // The intake's partitioner (murmur2, as the Java client), so an order keeps its partition.
            .set("partitioner", "murmur2_random")
            .set("statistics.interval.ms", kafka_brokers::STATS_INTERVAL_MS)
            .create_with_context(watched)?;
        if let Some((old, _)) = producers.insert(brokers.to_owned(), (p.clone(), watch)) {
            // Dropping the last handle purges the client's queue and waits up to 500 ms for the
            // results (rdkafka's `BaseProducer::drop`): not on a runtime worker. Records still in
            // flight hold their own handles and fail on their own timeout.
            std::thread::spawn(move || drop(old));
        }
        Ok(p)
    }

    /// Creates the producers for `brokers_lists` ahead of the run and gives them the time librdkafka
    /// takes to obtain an idempotent producer id: it asks only 500 ms after the client is created
    /// (`rd_kafka_idemp_start(rk, non-immediate)` → a 500 ms timer in `rdkafka_idempotence.c`) and
    /// holds every record until it has one. Without this the run's first records would report that
    /// client start-up as half a second of broker latency. A broker that is down costs the same
    /// 600 ms and nothing else: its records then time out as they would anyway.
    pub async fn warm_up<'a>(&self, brokers_lists: impl IntoIterator<Item = &'a str>) {
        let mut created = false;
        for brokers in brokers_lists {
            created |= self.producer(brokers).is_ok();
        }
        if created {
            tokio::time::sleep(PRODUCER_ID_DELAY).await;
        }
    }

    pub async fn call(&self, step: &KafkaStep, rng: &mut SplitMix64, traceparent: &str) -> Outcome {
        let producer = match self.producer(&step.brokers) {
            Ok(p) => p,
            Err(e) => {
                return Outcome {
                    class: format!("kafka:{}", class(&e)).into(),
                    success: false,
                    stream: None,
                };
            }
        };
        let order_id = super::fill(&step.order_id, rng);
        // unit_open0 is in (0, 1]: a ratio of 0 never poisons, a ratio of 1 always does.
        let poison = rng.unit_open0() <= step.poison_ratio;
        let payload = if poison {
            b"\x00not an order event\xff".to_vec()
        } else {
            event(step, &order_id, rng)
        };
        // Kafka headers carry the trace context across the broker; OBI's Kafka spans do not read it,
        // but the events service propagates it into its own records.
        let headers = OwnedHeaders::new().insert(Header {
            key: "traceparent",
            value: Some(traceparent),
        });
        let record = FutureRecord::to(&step.topic)
            .key(&order_id)
            .payload(&payload)
            .headers(headers);
        match producer.send(record, Duration::from_secs(10)).await {
            Ok(_) if poison => Outcome {
                class: "kafka:POISON".into(),
                success: true,
                stream: None,
            },
            Ok(_) => Outcome {
                class: "kafka:OK".into(),
                success: true,
                stream: None,
            },
            Err((e, _)) => Outcome {
                class: format!("kafka:{}", class(&e)).into(),
                success: false,
                stream: None,
            },
        }
    }
}

/// Without the `kafka` feature (crates that only read loadgen's scenarios and types, like the lab,
/// build no librdkafka): a Kafka step is parsed and described, but sending one says the driver is
/// not in this build.
#[cfg(not(feature = "kafka"))]
#[derive(Debug, Default)]
pub struct KafkaDriver {
    _off: (),
}

#[cfg(not(feature = "kafka"))]
impl KafkaDriver {
    pub async fn warm_up<'a>(&self, _brokers_lists: impl IntoIterator<Item = &'a str>) {}

    pub async fn call(
        &self,
        _step: &KafkaStep,
        _rng: &mut SplitMix64,
        _traceparent: &str,
    ) -> Outcome {
        Outcome {
            class: "kafka:NotBuilt(loadgen's kafka feature is off)".into(),
            success: false,
            stream: None,
        }
    }
}

/// An order event as the `events` intake would have stored it (event_id and occurred_at filled in).
#[cfg(feature = "kafka")]
fn event(step: &KafkaStep, order_id: &str, rng: &mut SplitMix64) -> Vec<u8> {
    let kind = step.topic.rsplit('.').next().unwrap_or("created");
    let (a, b) = (rng.next_u64(), rng.next_u64());
    // A version-4-shaped UUID from the run's generator, so a seed replays the same event ids.
    let event_id = format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    );
    let cents = 100 + rng.below(99_900);
    #[allow(clippy::cast_precision_loss)]
    let total = cents as f64 / 100.0;
    let body = serde_json::json!({
        "event_id": event_id,
        "type": kind,
        "order_id": order_id,
        "customer_id": super::fill(&step.customer_id, rng),
        "total": total,
        "items": [],
        "occurred_at": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(feature = "kafka")]
fn class(e: &rdkafka::error::KafkaError) -> String {
    match e.rdkafka_error_code() {
        Some(code) => format!("{code:?}"),
        None => "error".into(),
    }
}
