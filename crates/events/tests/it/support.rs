//! Test helpers: the shared broker, per-test topic prefixes, the two services started in-process (or
//! as child processes, for crash tests), and a plain reader that collects what a topic holds.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::args::{CommonArgs, LogFormat};
use common::http::layers::HttpArgs;
use events::config::{ConsumerConfig, KafkaArgs, ProducerConfig, Role};
use serde_json::{Value, json};
pub use testkit::server::client;
use testkit::server::{Bound, Server};

/// Partitions of every test topic (what the reader reads back).
pub const PARTITIONS: i32 = testkit::kafka_reader::EVENTS_PARTITIONS;

pub fn broker() -> &'static testkit::kafka::KafkaBroker {
    testkit::kafka::KafkaBroker::shared().unwrap()
}

/// A topic prefix no other test uses, so tests share one broker without seeing each other.
pub fn prefix(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}-{}-{name}.",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn kafka_args(brokers: &str, prefix: &str) -> KafkaArgs {
    KafkaArgs {
        kafka_brokers: brokers.to_owned(),
        topic_prefix: prefix.to_owned(),
        topic_partitions: PARTITIONS,
        delivery_timeout: Duration::from_secs(3),
    }
}

fn common_args() -> CommonArgs {
    CommonArgs {
        log_format: LogFormat::Json,
        shutdown_grace: Duration::from_secs(5),
    }
}

/// A service running in this process on 127.0.0.1:0 (the one testkit harness); `stop()` is the
/// SIGTERM path: drain, commit, flush.
pub type Service = Server;

pub async fn start_producer(brokers: &str, prefix: &str) -> Service {
    let bound = Bound::new().await;
    let config = ProducerConfig {
        listen_addr: bound.addr(),
        max_batch: 1000,
        kafka: kafka_args(brokers, prefix),
        http: HttpArgs::default(),
        common: common_args(),
        command: None,
    };
    bound.serve(|listener, shutdown| events::producer::run(config, listener, shutdown))
}

/// Consumer settings tuned for tests: short sessions so rebalances take seconds, not minutes.
pub fn consumer_config(role: Role, brokers: &str, prefix: &str) -> ConsumerConfig {
    ConsumerConfig {
        role,
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        group_id: Some(format!("{prefix}{}", role.name())),
        max_attempts: 5,
        retry_backoff: Duration::from_millis(20),
        fail_ratio: 0.0,
        fail_seed: 42,
        process_delay_ms: 0,
        snapshot_interval: Duration::from_millis(500),
        session_timeout: Duration::from_secs(6),
        commit_interval: Duration::from_millis(200),
        kafka: kafka_args(brokers, prefix),
        common: common_args(),
        command: None,
    }
}

/// How most tests begin: the shared broker, a topic prefix of the test's own (`name` in it), and a
/// producer writing under that prefix.
pub async fn shared_producer(name: &str) -> (&'static str, String, Service) {
    let brokers = broker().bootstrap();
    let prefix = prefix(name);
    let producer = start_producer(brokers, &prefix).await;
    (brokers, prefix, producer)
}

pub async fn start_consumer(config: ConsumerConfig) -> Service {
    Server::start(|listener, shutdown| events::consumer::run(config, listener, shutdown)).await
}

/// A valid event body.
pub fn event(kind: &str, order: &str, customer: &str, total: f64) -> Value {
    json!({"type": kind, "order_id": order, "customer_id": customer, "total": total,
           "items": [{"sku": "sku-1", "quantity": 1, "price": total}]})
}

/// `POST /events`, expecting 202; returns the answer body.
pub async fn post_ok(url: &str, body: &Value) -> Value {
    let res = client()
        .post(format!("{url}/events"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    body
}

/// `POST /events` until it is acknowledged (a 503 is retried with the same `event_id`, for up to 60 s):
/// the first write to a freshly started broker waits for the topic's partitions to get a leader, which
/// can outlast the tests' 3 s delivery timeout on a busy machine.
pub async fn post_eventually_ok(url: &str, body: &Value) -> Value {
    let mut body = body.clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let res = client()
            .post(format!("{url}/events"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        // A 503 names the event id to retry with (the intake assigns one when the body has none).
        let id = res
            .headers()
            .get("event-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let answer: Value = res.json().await.unwrap();
        if status == 202 {
            return answer;
        }
        assert_eq!(status, 503, "{answer}");
        assert!(Instant::now() < deadline, "never acknowledged: {answer}");
        if let Some(id) = id {
            body["event_id"] = Value::String(id);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Topics are read back whole: every one of their [`PARTITIONS`].
pub use testkit::kafka_reader::{Record, read_events_topic as read_topic};

/// Reads `topic` until it holds at least `n` records, for at most `timeout`.
pub async fn read_at_least(brokers: &str, topic: &str, n: usize, timeout: Duration) -> Vec<Record> {
    read_topic(brokers, topic, timeout, move |r| r.len() >= n).await
}

/// A consumer's `GET /stats` (what it received, processed, dead-lettered; its partitions).
pub async fn stats(url: &str) -> Value {
    client()
        .get(format!("{url}/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until `check` passes, polling; panics with `what` after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
