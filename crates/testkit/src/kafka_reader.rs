//! Reading a topic back, for assertions: what a service really wrote to the broker, headers and all.
//! Behind the `kafka-reader` feature, so only the tests that read topics link librdkafka.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// One record read back from a topic.
#[derive(Debug, Clone)]
pub struct Record {
    pub key: Option<String>,
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

impl Record {
    /// The first header called `key`, as text.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The payload parsed as JSON (panics otherwise: this is for tests).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).expect("a JSON payload")
    }
}

/// Partitions of every events topic in the tests and the local lab (events' `--topic-partitions`
/// default).
pub const EVENTS_PARTITIONS: i32 = 3;

/// [`read_topic`] of an events topic: all of its [`EVENTS_PARTITIONS`] partitions.
pub async fn read_events_topic(
    brokers: &str,
    topic: &str,
    timeout: Duration,
    done: impl Fn(&[Record]) -> bool + Send + 'static,
) -> Vec<Record> {
    read_topic(brokers, topic, EVENTS_PARTITIONS, timeout, done).await
}

/// Reads `topic` from the beginning of its `partitions` partitions (assigned directly: no consumer
/// group, so nothing is committed and every call reads everything) until `done` holds for what was
/// read, or `timeout` passes; returns everything read.
pub async fn read_topic(
    brokers: &str,
    topic: &str,
    partitions: i32,
    timeout: Duration,
    done: impl Fn(&[Record]) -> bool + Send + 'static,
) -> Vec<Record> {
    let (brokers, topic) = (brokers.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", "testkit-reader")
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "50")
            .create()
            .expect("a Kafka consumer for reading topics back");
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(&topic, p, Offset::Beginning)
                .expect("a valid partition");
        }
        consumer.assign(&tpl).expect("partitions assigned");
        let mut records = Vec::new();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline && !done(&records) {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
                records.push(Record {
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| {
                                    let value = h.value.unwrap_or_default();
                                    (h.key.to_owned(), String::from_utf8_lossy(value).into())
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    payload: m.payload().unwrap_or_default().to_vec(),
                });
            }
        }
        records
    })
    .await
    .expect("the reader thread")
}
