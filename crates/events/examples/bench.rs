//! `just bench-events`: acknowledged events/s through `POST /events` and `POST /events/batch`, and
//! event → notification latency (p50/p99), in one run against a real broker.
//!
//! Starts an Apache Kafka broker (testkit; or uses `KAFKA_BROKERS`), the intake and one `notifications` consumer
//! in-process, then drives the intake over real HTTP. Latency is the notification record's
//! timestamp (set when the consumer produced it) minus the event's `occurred_at` (set by the intake
//! on arrival), both from this machine's clock, so it covers produce → broker → consume → produce.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use clap::Parser;
use common::args::{CommonArgs, LogFormat};
use common::http::layers::HttpArgs;
use events::config::{ConsumerConfig, KafkaArgs, ProducerConfig, Role};
use futures::StreamExt;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
struct Options {
    /// Events sent one per request, and again as many in batches.
    #[arg(long, default_value_t = 5000)]
    events: usize,
    /// Concurrent HTTP requests.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Events per `POST /events/batch`.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Rate of the paced phase (events/s, one request each), below the consumer's capacity, so its
    /// latency is the pipeline's own rather than the backlog left by the bursts.
    #[arg(long, default_value_t = 200)]
    paced_rate: u64,
    /// Duration of the paced phase in seconds.
    #[arg(long, default_value_t = 5)]
    paced_secs: u64,
}

const PARTITIONS: i32 = 3;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = Options::parse();
    let broker = match std::env::var("KAFKA_BROKERS") {
        Ok(b) => testkit::kafka::KafkaBroker::existing(&b),
        Err(_) => testkit::kafka::KafkaBroker::start().map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let brokers = broker.bootstrap().to_owned();
    let prefix = format!("bench-{}.", std::process::id());
    let kafka = KafkaArgs {
        kafka_brokers: brokers.clone(),
        topic_prefix: prefix.clone(),
        topic_partitions: PARTITIONS,
        delivery_timeout: Duration::from_secs(10),
    };
    let common = CommonArgs {
        log_format: LogFormat::Json,
        shutdown_grace: Duration::from_secs(5),
    };
    let shutdown = CancellationToken::new();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let producer = tokio::spawn(events::producer::run(
        ProducerConfig {
            listen_addr: listener.local_addr()?,
            max_batch: 10_000,
            kafka: kafka.clone(),
            http: HttpArgs {
                // The benchmark is one client: no per-IP rate limit.
                rate_limit_per_second: 0,
                ..HttpArgs::default()
            },
            common: common.clone(),
            command: None,
        },
        listener,
        shutdown.clone(),
    ));
    let admin = TcpListener::bind("127.0.0.1:0").await?;
    let consumer = tokio::spawn(events::consumer::run(
        ConsumerConfig {
            role: Role::Notifications,
            listen_addr: admin.local_addr()?,
            group_id: Some(format!("{prefix}notifications")),
            max_attempts: 5,
            retry_backoff: Duration::from_millis(100),
            fail_ratio: 0.0,
            fail_seed: 42,
            process_delay_ms: 0,
            snapshot_interval: Duration::from_secs(10),
            session_timeout: Duration::from_secs(10),
            commit_interval: Duration::from_secs(1),
            kafka,
            common,
            command: None,
        },
        admin,
        shutdown.clone(),
    ));
    let client = reqwest::Client::new();
    // Warm-up: topics created, connections open, group joined.
    post(&client, &url, 0).await?;

    let started = Instant::now();
    let ok: usize = futures::stream::iter(1..=opts.events)
        .map(|i| {
            let (client, url) = (client.clone(), url.clone());
            async move { post(&client, &url, i).await.is_ok() as usize }
        })
        .buffer_unordered(opts.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .sum();
    let single = started.elapsed();

    let started = Instant::now();
    let batches = opts.events.div_ceil(opts.batch_size);
    let batch_ok: usize = futures::stream::iter(0..batches)
        .map(|b| {
            let (client, url) = (client.clone(), url.clone());
            let size = opts.batch_size;
            async move { post_batch(&client, &url, b, size).await.unwrap_or(0) }
        })
        .buffer_unordered(opts.concurrency.div_ceil(8).max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .sum();
    let batched = started.elapsed();

    // Let the consumer drain the bursts' backlog before the paced phase.
    let topic = format!("{prefix}notifications");
    let burst = notification_latencies(&brokers, &topic, 1 + ok + batch_ok)?;

    let mut paced_ok = 0;
    let mut ticker =
        tokio::time::interval(Duration::from_micros(1_000_000 / opts.paced_rate.max(1)));
    let mut inflight = Vec::new();
    for i in 0..opts.paced_rate * opts.paced_secs {
        ticker.tick().await;
        let (client, url) = (client.clone(), url.clone());
        inflight.push(tokio::spawn(async move {
            let mut b = body(i as usize);
            b["order_id"] = json!(format!("paced-{i}"));
            let res = client.post(format!("{url}/events")).json(&b).send().await;
            res.is_ok_and(|r| r.status() == 202)
        }));
    }
    for t in inflight {
        paced_ok += usize::from(t.await.unwrap_or(false));
    }
    let all = notification_latencies(&brokers, &topic, 1 + ok + batch_ok + paced_ok)?;
    let paced: Vec<i64> = all
        .iter()
        .filter(|(order, _)| order.starts_with("paced-"))
        .map(|(_, ms)| *ms)
        .collect();
    let burst: Vec<i64> = burst.into_iter().map(|(_, ms)| ms).collect();
    let (b50, b99) = percentiles(burst.clone());
    let (p50, p99) = percentiles(paced.clone());
    println!("| measure | value |\n|---|---|");
    println!(
        "| POST /events: acknowledged events/s ({ok} events, concurrency {}) | {:.0} |",
        opts.concurrency,
        ok as f64 / single.as_secs_f64()
    );
    println!(
        "| POST /events/batch: acknowledged events/s ({batch_ok} events, {} per batch) | {:.0} |",
        opts.batch_size,
        batch_ok as f64 / batched.as_secs_f64()
    );
    println!(
        "| event → notification latency p50 / p99, paced {}/s ({} events), ms | {p50} / {p99} |",
        opts.paced_rate,
        paced.len()
    );
    println!(
        "| event → notification latency p50 / p99 during the bursts above ({} events, backlog included), ms | {b50} / {b99} |",
        burst.len()
    );

    shutdown.cancel();
    producer.await??;
    consumer.await??;
    Ok(())
}

fn body(i: usize) -> Value {
    json!({"type": "created", "order_id": format!("o-{i}"), "customer_id": format!("c-{}", i % 100),
           "total": 10.0, "items": [{"sku": "sku-1", "quantity": 1, "price": 10.0}]})
}

async fn post(client: &reqwest::Client, url: &str, i: usize) -> anyhow::Result<()> {
    let res = client
        .post(format!("{url}/events"))
        .json(&body(i))
        .send()
        .await?;
    anyhow::ensure!(res.status() == 202, "status {}", res.status());
    Ok(())
}

async fn post_batch(
    client: &reqwest::Client,
    url: &str,
    b: usize,
    size: usize,
) -> anyhow::Result<usize> {
    let items: Vec<Value> = (0..size).map(|i| body(1_000_000 + b * size + i)).collect();
    let res = client
        .post(format!("{url}/events/batch"))
        .json(&items)
        .send()
        .await?;
    let answer: Value = res.json().await?;
    Ok(answer["accepted"].as_u64().unwrap_or(0) as usize)
}

/// p50 and p99 (nearest rank) in milliseconds.
fn percentiles(mut v: Vec<i64>) -> (i64, i64) {
    v.sort_unstable();
    let at = |p: f64| {
        v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    (at(0.50), at(0.99))
}

/// Reads `expected` notifications and returns, per notification, its order id and its record
/// timestamp minus the event's `occurred_at`, in milliseconds.
fn notification_latencies(
    brokers: &str,
    topic: &str,
    expected: usize,
) -> anyhow::Result<Vec<(String, i64)>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "bench-reader")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut latencies = Vec::with_capacity(expected);
    let deadline = Instant::now() + Duration::from_secs(300);
    while latencies.len() < expected && Instant::now() < deadline {
        let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let Some(sent_ms) = m.timestamp().to_millis() else {
            continue;
        };
        let Ok(n) = serde_json::from_slice::<Value>(m.payload().unwrap_or_default()) else {
            continue;
        };
        // The notification body carries the event's occurred_at in RFC 3339.
        let Some(at) = n["body"]
            .as_str()
            .and_then(|b| b.split(" at ").nth(1))
            .and_then(|r| r.split(';').next())
        else {
            continue;
        };
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(at) {
            let order = n["order_id"].as_str().unwrap_or_default().to_owned();
            latencies.push((order, sent_ms - t.timestamp_millis()));
        }
    }
    Ok(latencies)
}
