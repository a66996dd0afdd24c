//! Delivery guarantees: a consumer killed mid-stream (SIGKILL: no commit, no flush) and restarted
//! handles every acknowledged event with no second notification in effect; two members of one group
//! split the partitions and a rebalance loses nothing.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use events::Role;
use serde_json::Value;

use crate::support::*;

/// An `events-consumer` child process (so it can be killed for real).
fn spawn_consumer(brokers: &str, prefix: &str, extra: &[&str]) -> Child {
    let port = testkit::process::free_port().unwrap();
    Command::new(env!("CARGO_BIN_EXE_events-consumer"))
        .args(["--role", "notifications"])
        .args(["--listen-addr", &format!("127.0.0.1:{port}")])
        .args(["--group-id", &format!("{prefix}notifications")])
        .args(["--kafka-brokers", brokers])
        .args(["--topic-prefix", prefix])
        .args(["--topic-partitions", &PARTITIONS.to_string()])
        .args(["--session-timeout", "6s", "--commit-interval", "1s"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Every acknowledged event has a notification; any repeated notification is byte-identical to the
/// first (same id, key and body), so a mailer deduping on `notification-id` sends exactly one.
fn assert_exactly_once_in_effect(notes: &[Record], acknowledged: &[String]) -> usize {
    let mut by_id: HashMap<String, &Record> = HashMap::new();
    let mut duplicates = 0;
    for n in notes {
        let id = n.header("notification-id").unwrap().to_owned();
        match by_id.get(&id) {
            Some(first) => {
                duplicates += 1;
                assert_eq!(first.payload, n.payload, "duplicate {id} differs");
                assert_eq!(first.key, n.key);
            }
            None => {
                by_id.insert(id, n);
            }
        }
    }
    for id in acknowledged {
        assert!(by_id.contains_key(&format!("ntf-{id}")), "event {id} lost");
    }
    assert_eq!(by_id.len(), acknowledged.len(), "unexpected notifications");
    duplicates
}

fn covers(acknowledged: Vec<String>) -> impl Fn(&[Record]) -> bool + Send + 'static {
    move |records| {
        acknowledged.iter().all(|id| {
            let want = format!("ntf-{id}");
            records
                .iter()
                .any(|r| r.header("notification-id") == Some(want.as_str()))
        })
    }
}

/// Posts events `from..to` as a client does: a 503 (the first write to a fresh topic waiting for its
/// leaders, or a write slower than the tests' 3 s delivery timeout on busy cores) is retried with the
/// same event id, so every id returned was acknowledged once.
async fn post_many(url: &str, from: usize, to: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in from..to {
        let a = post_eventually_ok(
            url,
            &event("created", &format!("o-{i}"), &format!("c-{}", i % 7), 1.0),
        )
        .await;
        ids.push(a["event_id"].as_str().unwrap().to_owned());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consumer_killed_mid_stream_loses_nothing_and_notifies_once_in_effect() {
    let (brokers, prefix, producer) = shared_producer("crash").await;
    let mut acknowledged = post_many(&producer.url, 0, 40).await;

    // A slow consumer, killed once some (not all) notifications are out.
    let mut first = spawn_consumer(brokers, &prefix, &["--process-delay-ms", "100"]);
    let topic = format!("{prefix}notifications");
    let partial = read_topic(brokers, &topic, Duration::from_secs(60), |r| r.len() >= 10).await;
    assert!(partial.len() >= 10, "the first consumer made no progress");
    first.kill().unwrap();
    first.wait().unwrap();

    acknowledged.extend(post_many(&producer.url, 40, 50).await);
    let mut second = spawn_consumer(brokers, &prefix, &[]);
    let notes = read_topic(
        brokers,
        &topic,
        Duration::from_secs(90),
        covers(acknowledged.clone()),
    )
    .await;
    assert!(
        covers(acknowledged.clone())(&notes),
        "not every event was notified"
    );
    // Read everything once more after a pause, so a late duplicate cannot escape the check.
    let notes = read_topic(brokers, &topic, Duration::from_secs(2), |_| false).await;
    second.kill().unwrap();
    second.wait().unwrap();
    let duplicates = assert_exactly_once_in_effect(&notes, &acknowledged);
    eprintln!(
        "crash test: {} notifications, {duplicates} identical redeliveries",
        notes.len()
    );
    producer.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_members_split_the_partitions_and_a_rebalance_loses_nothing() {
    let (brokers, prefix, producer) = shared_producer("group").await;
    let mut acknowledged = post_many(&producer.url, 0, 30).await;

    let a = start_consumer(consumer_config(Role::Notifications, brokers, &prefix)).await;
    let b = start_consumer(consumer_config(Role::Notifications, brokers, &prefix)).await;
    let partitions = |url: String| async move {
        let stats = stats(&url).await;
        stats["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let total = (3 * PARTITIONS) as usize;
    let (a_url, b_url) = (a.url.clone(), b.url.clone());
    eventually(
        Duration::from_secs(60),
        "both members owning partitions",
        || {
            let (a_url, b_url) = (a_url.clone(), b_url.clone());
            async move {
                let (pa, pb) = (partitions(a_url).await, partitions(b_url).await);
                !pa.is_empty() && !pb.is_empty() && pa.len() + pb.len() == total
            }
        },
    )
    .await;
    let (pa, pb) = (
        partitions(a.url.clone()).await,
        partitions(b.url.clone()).await,
    );
    assert!(pa.iter().all(|p| !pb.contains(p)), "{pa:?} overlaps {pb:?}");

    // One member leaves while events keep coming; the other takes over every partition.
    acknowledged.extend(post_many(&producer.url, 30, 40).await);
    b.stop().await.unwrap();
    acknowledged.extend(post_many(&producer.url, 40, 60).await);
    let a_url = a.url.clone();
    eventually(
        Duration::from_secs(60),
        "the survivor owning everything",
        || {
            let a_url = a_url.clone();
            async move { partitions(a_url).await.len() == total }
        },
    )
    .await;
    let notes = read_topic(
        brokers,
        &format!("{prefix}notifications"),
        Duration::from_secs(60),
        covers(acknowledged.clone()),
    )
    .await;
    let duplicates = assert_exactly_once_in_effect(&notes, &acknowledged);
    eprintln!(
        "rebalance test: {} notifications, {duplicates} identical redeliveries",
        notes.len()
    );
    a.stop().await.unwrap();
    producer.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_id_sent_twice_is_notified_and_counted_once() {
    let (brokers, prefix, producer) = shared_producer("dedupe").await;
    // A client retrying after a lost answer: the same event id twice, both acknowledged.
    let mut body = event("created", "o-d", "c-d", 10.0);
    body["event_id"] = "0b6e7a5c-0a9f-4f55-9d0a-1c2b3d4e5f60".into();
    post_ok(&producer.url, &body).await;
    post_ok(&producer.url, &body).await;
    post_ok(&producer.url, &event("created", "o-e", "c-d", 5.0)).await;
    let orders = read_at_least(
        brokers,
        &format!("{prefix}orders.created"),
        3,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(orders.len(), 3, "both copies are on the topic");

    let notifier = start_consumer(consumer_config(Role::Notifications, brokers, &prefix)).await;
    let analytics = start_consumer(consumer_config(Role::Analytics, brokers, &prefix)).await;
    // Once analytics has read all three records, every later snapshot must count two events.
    let url = analytics.url.clone();
    eventually(
        Duration::from_secs(30),
        "analytics reading 3 records",
        || {
            let url = url.clone();
            async move {
                let stats = stats(&url).await;
                stats["received"] == 3
            }
        },
    )
    .await;
    let after = chrono::Utc::now();
    let snaps = read_topic(
        brokers,
        &format!("{prefix}analytics"),
        Duration::from_secs(30),
        move |r| {
            r.iter().any(|s| {
                let v: Value = serde_json::from_slice(&s.payload).unwrap();
                v["taken_at"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .is_some_and(|t| t > after)
            })
        },
    )
    .await;
    let snap = snaps.last().unwrap().json();
    assert!(
        snaps
            .iter()
            .all(|s| s.json()["events_total"].as_u64() <= Some(2))
    );
    assert_eq!(snap["events_total"], 2, "{snap}");
    assert_eq!(snap["revenue_total"], 15.0);
    assert_eq!(snap["orders_per_customer"]["c-d"], 2);
    let notes = read_at_least(
        brokers,
        &format!("{prefix}notifications"),
        2,
        Duration::from_secs(30),
    )
    .await;
    // Read on a little to catch a second copy, then check there is exactly one per event id.
    let notes = if notes.len() >= 2 {
        read_topic(
            brokers,
            &format!("{prefix}notifications"),
            Duration::from_secs(2),
            |_| false,
        )
        .await
    } else {
        notes
    };
    assert_eq!(notes.len(), 2, "{notes:?}");
    let stats = stats(&notifier.url).await;
    assert_eq!(stats["duplicates"], 1, "{stats}");
    notifier.stop().await.unwrap();
    analytics.stop().await.unwrap();
    producer.stop().await.unwrap();
}
