//! A consumer that falls behind keeps a bounded read-ahead: librdkafka's defaults prefetch up to
//! 64 MiB (and 100 000 records) per consumer, so a lagging consumer's memory would grow with the
//! backlog — the 10-minute soak saw events-consumer-notifications go 12.7 → 31.9 MiB while it lagged.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::support::*;

/// Resident memory of a process, from /proc (KiB).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_consumer_reads_ahead_a_bounded_amount() {
    let brokers = broker().bootstrap().to_owned();
    let prefix = prefix("lag");
    let port = testkit::process::free_port().unwrap();
    // 200 ms a record on 3 partitions: ~15 records/s, so nearly all of the backlog stays unread.
    let mut child = Command::new(env!("CARGO_BIN_EXE_events-consumer"))
        .args(["--role", "analytics", "--process-delay-ms", "200"])
        .args(["--listen-addr", &format!("127.0.0.1:{port}")])
        .args(["--group-id", &format!("{prefix}analytics")])
        .args(["--kafka-brokers", &brokers, "--topic-prefix", &prefix])
        .args(["--topic-partitions", &PARTITIONS.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = format!("http://127.0.0.1:{port}/ready");
    eventually(Duration::from_secs(30), "the consumer ready", || async {
        matches!(client().get(&ready).send().await, Ok(r) if r.status() == 200)
    })
    .await;
    let before = rss_kib(child.id());

    // A 24 MiB backlog of valid events of ~1 KiB each.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "20")
        .create()
        .unwrap();
    let topic = format!("{prefix}orders.created");
    let padding = "x".repeat(900);
    let sends = (0..24_000).map(|i| {
        let body = serde_json::json!({
            "event_id": uuid::Uuid::new_v4(), "type": "created", "order_id": format!("o-{i}"),
            "customer_id": format!("c-{}", i % 500), "total": 10.5, "occurred_at": "2026-12-01T12:00:00Z",
            "items": [{"sku": padding, "quantity": 1, "price": 10.5}]
        })
        .to_string();
        let producer = producer.clone();
        let topic = topic.clone();
        async move {
            let key = format!("c-{i}");
            producer
                .send(FutureRecord::to(&topic).key(&key).payload(&body), Duration::from_secs(30))
                .await
                .map(|_| ())
                .map_err(|(e, _)| e)
        }
    });
    let started = Instant::now();
    for r in futures::future::join_all(sends).await {
        r.unwrap();
    }
    // Give the consumer time to fetch whatever it is allowed to.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let grown_mib = (after.saturating_sub(before)) as f64 / 1024.0;
    eprintln!(
        "backlog of 24 000 records (~24 MiB) produced in {:.1} s; consumer RSS {} → {} KiB (+{grown_mib:.1} MiB)",
        started.elapsed().as_secs_f64(),
        before,
        after
    );
    // The read-ahead is capped at 4 MiB (consumer_config): measured +8.5 MiB with the cap (fetch
    // buffers overshoot it), +32.9 MiB with librdkafka's defaults, which fetch the whole backlog.
    assert!(
        grown_mib < 16.0,
        "a lagging consumer grew by {grown_mib:.1} MiB: its read-ahead is not bounded"
    );
}
