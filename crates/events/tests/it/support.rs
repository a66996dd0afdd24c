//! Test helpers: the shared broker, per-test topic prefixes, the two services started in-process (or
//! as child processes, for crash tests), and a plain reader that collects what a topic holds.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::args::{CommonArgs, LogFormat};
use common::http::layers::HttpArgs;
use events::config::{ConsumerConfig, KafkaArgs, ProducerConfig, Role};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Partitions of every test topic.
pub const PARTITIONS: i32 = 3;

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

/// A service running in this process on 127.0.0.1:0.
pub struct Service {
    pub url: String,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<anyhow::Result<()>>,
}

impl Service {
    /// Graceful stop (SIGTERM path): drain, commit, flush.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

pub async fn start_producer(brokers: &str, prefix: &str) -> Service {
    let (l, addr) = listener().await;
    let config = ProducerConfig {
        listen_addr: addr,
        max_batch: 1000,
        kafka: kafka_args(brokers, prefix),
        http: HttpArgs::default(),
        common: common_args(),
        command: None,
    };
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(events::producer::run(config, l, shutdown.clone()));
    Service {
        url: format!("http://{addr}"),
        shutdown,
        task,
    }
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

pub async fn start_consumer(config: ConsumerConfig) -> Service {
    let (l, addr) = listener().await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(events::consumer::run(config, l, shutdown.clone()));
    Service {
        url: format!("http://{addr}"),
        shutdown,
        task,
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
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

pub use testkit::kafka_reader::Record;

/// Reads `topic` (all [`PARTITIONS`]) from the beginning until `done` holds or `timeout` passes.
pub async fn read_topic(
    brokers: &str,
    topic: &str,
    timeout: Duration,
    done: impl Fn(&[Record]) -> bool + Send + 'static,
) -> Vec<Record> {
    testkit::kafka_reader::read_topic(brokers, topic, PARTITIONS, timeout, done).await
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
