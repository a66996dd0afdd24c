//! The broker fault users fear: `kill -9` of the broker under a steady producer load, and a restart
//! on its data. Asserted from the outside: the intake answers 503 only inside the outage and 202
//! again within seconds; every acknowledged event reaches both consumer groups (notifications on
//! their topic, analytics in its published aggregates), counted one by one; the groups resume from
//! their committed offsets instead of replaying the topic; the DLQ written before the crash is intact.
//! The timings (outage, first 202, consumers resuming) are printed for docs/events.md.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use events::Role;
use serde_json::json;
use testkit::kafka::KafkaBroker;

use crate::support::*;

/// How long the broker stays dead.
const OUTAGE: Duration = Duration::from_secs(5);
/// The promise: 202 again, and both consumers working again, within this long after the restart.
const RECOVERY: Duration = Duration::from_secs(10);
/// Load after the restart, so the recovery is seen under traffic.
const AFTER: Duration = Duration::from_secs(12);

/// One `POST /events` of the load.
#[derive(Debug, Clone)]
struct Sample {
    sent: Instant,
    /// HTTP status; 0 when the request got no answer.
    status: u16,
    event_id: String,
    /// Unique per event: analytics counts `created` events per customer, which makes its aggregate
    /// an event-by-event receipt.
    customer: String,
}

/// Posts events back to back (one in flight, 20 ms apart) until `stop`.
async fn load(url: String, stop: Arc<AtomicBool>) -> Vec<Sample> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let mut samples = Vec::new();
    for n in 0u32.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let event_id = uuid::Uuid::new_v4().to_string();
        let customer = format!("k-{n}");
        let mut body = event("created", &format!("o-{n}"), &customer, 1.0);
        body["event_id"] = json!(event_id);
        let sent = Instant::now();
        let status = match client
            .post(format!("{url}/events"))
            .json(&body)
            .send()
            .await
        {
            Ok(res) => res.status().as_u16(),
            Err(_) => 0,
        };
        samples.push(Sample {
            sent,
            status,
            event_id,
            customer,
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    samples
}

/// The `orders_per_customer` of the newest analytics snapshot.
async fn analytics_counts(brokers: &str, prefix: &str) -> BTreeMap<String, u64> {
    let snapshots = read_topic(
        brokers,
        &format!("{prefix}analytics"),
        Duration::from_secs(2),
        |_| false,
    )
    .await;
    let newest = snapshots
        .iter()
        .map(Record::json)
        .max_by_key(|s| s["taken_at"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    serde_json::from_value(newest["orders_per_customer"].clone()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_killed_under_load_and_restarted_on_its_data_loses_no_acknowledged_event() {
    let broker = KafkaBroker::start().unwrap();
    let brokers = broker.bootstrap().to_owned();
    let prefix = prefix("crash");
    let producer = start_producer(&brokers, &prefix).await;
    let notifier = start_consumer(consumer_config(Role::Notifications, &brokers, &prefix)).await;
    let analytics = start_consumer(consumer_config(Role::Analytics, &brokers, &prefix)).await;

    // Two poison records before the crash: each group dead-letters both (4 DLQ records); then both
    // groups must be working.
    let first = post_eventually_ok(&producer.url, &event("created", "o-p", "k-first", 1.0)).await;
    let topic = format!("{prefix}orders.created");
    for payload in [&b"\xff not json"[..], br#"{"type":"created"}"#] {
        crate::failures::produce_raw(&brokers, &topic, "o-p", payload).await;
    }
    let first_id = first["event_id"].clone();
    read_topic(
        &brokers,
        &format!("{prefix}notifications"),
        Duration::from_secs(60),
        move |r| r.iter().any(|n| n.json()["event_id"] == first_id),
    )
    .await;
    for url in [notifier.url.clone(), analytics.url.clone()] {
        eventually(
            Duration::from_secs(60),
            "both poison records dead-lettered",
            || {
                let url = url.clone();
                async move { stats(&url).await["dead_lettered"].as_u64() >= Some(2) }
            },
        )
        .await;
    }
    let (b, p) = (brokers.clone(), prefix.clone());
    eventually(
        Duration::from_secs(60),
        "analytics counted the first event",
        || {
            let (b, p) = (b.clone(), p.clone());
            async move { analytics_counts(&b, &p).await.contains_key("k-first") }
        },
    )
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(load(producer.url.clone(), Arc::clone(&stop)));
    tokio::time::sleep(Duration::from_secs(3)).await;

    let killed = Instant::now();
    broker.stop().unwrap();
    tokio::time::sleep(OUTAGE).await;
    let restarting = Instant::now();
    tokio::task::block_in_place(|| broker.start_again()).unwrap();
    let back = Instant::now();
    let received_at_back = [
        stats(&notifier.url).await["received"].as_u64().unwrap(),
        stats(&analytics.url).await["received"].as_u64().unwrap(),
    ];
    // Consumers resuming: both have received records again after the broker came back.
    let mut resumed = None;
    while back.elapsed() < AFTER {
        if resumed.is_none() {
            let now = [
                stats(&notifier.url).await["received"].as_u64().unwrap(),
                stats(&analytics.url).await["received"].as_u64().unwrap(),
            ];
            if now[0] > received_at_back[0] && now[1] > received_at_back[1] {
                resumed = Some(back.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let samples = load.await.unwrap();

    // The intake: 503 only from a delivery timeout before the kill to the recovery allowance.
    let window = (killed - Duration::from_secs(4), back + RECOVERY);
    for s in samples.iter().filter(|s| s.status != 202) {
        assert_eq!(s.status, 503, "only 503 may fail a write: {s:?}");
        assert!(
            s.sent >= window.0 && s.sent <= window.1,
            "a 503 outside the outage: sent {:?} after the kill",
            s.sent.checked_duration_since(killed)
        );
    }
    let first_202 = samples
        .iter()
        .find(|s| s.sent >= back && s.status == 202)
        .map(|s| s.sent - back)
        .expect("no 202 after the restart");
    let acked_before = samples
        .iter()
        .filter(|s| s.sent < killed && s.status == 202)
        .count();
    let acked: Vec<&Sample> = samples.iter().filter(|s| s.status == 202).collect();
    let unavailable = samples.iter().filter(|s| s.status == 503).count();
    assert!(
        unavailable > 0,
        "the outage was seen: {} samples",
        samples.len()
    );
    assert!(
        first_202 < RECOVERY,
        "first 202 {first_202:?} after the restart"
    );
    let resumed = resumed.expect("the consumers did not resume within the run");
    assert!(
        resumed < RECOVERY,
        "consumers resumed {resumed:?} after the restart"
    );

    // Notifications: every acknowledged event, by its id.
    let want: HashSet<String> = acked.iter().map(|s| s.event_id.clone()).collect();
    let wanted = want.clone();
    let notes = read_topic(
        &brokers,
        &format!("{prefix}notifications"),
        Duration::from_secs(60),
        move |r| {
            let seen: HashSet<&str> = r.iter().filter_map(|n| n.header("event-id")).collect();
            wanted.iter().all(|id| seen.contains(id.as_str()))
        },
    )
    .await;
    let seen: HashSet<&str> = notes.iter().filter_map(|n| n.header("event-id")).collect();
    let lost: Vec<&String> = want
        .iter()
        .filter(|id| !seen.contains(id.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events never notified",
        lost.len(),
        want.len()
    );

    // Analytics: every acknowledged event counted exactly once (it dedupes by event id).
    let customers: Vec<String> = acked.iter().map(|s| s.customer.clone()).collect();
    let mut counts = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        counts = analytics_counts(&brokers, &prefix).await;
        if customers.iter().all(|c| counts.contains_key(c)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let missing = customers
        .iter()
        .filter(|c| !counts.contains_key(*c))
        .count();
    assert_eq!(missing, 0, "acknowledged events analytics never counted");
    assert!(
        customers.iter().all(|c| counts[c] == 1),
        "counted once each"
    );

    // Both groups resumed from their committed offsets: what they received twice is the little
    // since their last commit, not the topic replayed from the start (what lost offsets would give
    // with `auto.offset.reset=earliest`: every event before the crash received again).
    let mut redelivered = Vec::new();
    for url in [&notifier.url, &analytics.url] {
        let dup = stats(url).await["duplicates"].as_u64().unwrap() as usize;
        assert!(
            dup < acked_before / 2,
            "{dup} of {acked_before} pre-crash events received again: no resume from committed offsets"
        );
        redelivered.push(dup);
    }

    // The DLQ written before the crash is still there, and nothing joined it.
    let dlq = read_topic(
        &brokers,
        &format!("{prefix}dlq"),
        Duration::from_secs(3),
        |_| false,
    )
    .await;
    assert_eq!(
        dlq.len(),
        4,
        "the DLQ survived the crash as it was: {dlq:?}"
    );

    eprintln!(
        "broker kill -9 drill: {} writes ({} acknowledged, {unavailable} answered 503); broker dead \
         {:.1?}, restart to ready {:.1?}; first 202 {first_202:.1?} after the restart; both \
         consumers received again {resumed:.1?} after it; re-delivered since the last commit \
         (notifications, analytics): {redelivered:?}; notifier stats {}",
        samples.len(),
        acked.len(),
        restarting - killed,
        back - restarting,
        stats(&notifier.url).await,
    );
    analytics.stop().await.unwrap();
    notifier.stop().await.unwrap();
    producer.stop().await.unwrap();
}
