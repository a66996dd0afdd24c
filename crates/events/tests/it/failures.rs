//! Failure paths: poison records go to the DLQ with their provenance while the partition keeps
//! flowing; transient failures are retried until they succeed; a broker outage turns the intake's
//! answers into 503 (never 202) and both binaries recover when the broker returns.

use std::time::Duration;

use events::Role;
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;
use testkit::kafka::KafkaBroker;

use crate::support::*;

/// Writes a raw record as a misbehaving producer would.
pub(crate) async fn produce_raw(brokers: &str, topic: &str, key: &str, payload: &[u8]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        // The intake's partitioner (murmur2, as the Java client), so one key means one partition.
        .set("partitioner", "murmur2_random")
        .create()
        .unwrap();
    producer
        .send(
            FutureRecord::to(topic).key(key).payload(payload),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poison_goes_to_the_dlq_with_provenance_and_the_partition_keeps_flowing() {
    let (brokers, prefix, producer) = shared_producer("poison").await;
    // An event first, so the topics exist and we know the order's partition.
    let first = post_ok(&producer.url, &event("created", "o-p", "c-p", 3.0)).await;
    let topic = format!("{prefix}orders.created");
    produce_raw(brokers, &topic, "o-p", b"\xff not json").await;
    produce_raw(
        brokers,
        &topic,
        "o-p",
        br#"{"type":"created","order_id":"o-p"}"#,
    )
    .await;
    // Same key ⇒ same partition: these come after the poison and must still be handled.
    let after = post_ok(&producer.url, &event("created", "o-p", "c-p", 4.0)).await;
    assert_eq!(after["partition"], first["partition"]);

    let notifier = start_consumer(consumer_config(Role::Notifications, brokers, &prefix)).await;
    let dlq = read_at_least(brokers, &format!("{prefix}dlq"), 2, Duration::from_secs(30)).await;
    assert_eq!(dlq.len(), 2, "{dlq:?}");
    let partition = first["partition"].as_i64().unwrap().to_string();
    let first_offset = first["offset"].as_i64().unwrap();
    for (i, rec) in dlq.iter().enumerate() {
        assert_eq!(rec.header("dlq-original-topic"), Some(topic.as_str()));
        assert_eq!(
            rec.header("dlq-original-partition"),
            Some(partition.as_str())
        );
        assert_eq!(
            rec.header("dlq-original-offset"),
            Some((first_offset + 1 + i as i64).to_string().as_str())
        );
        assert_eq!(rec.header("dlq-original-key"), Some("o-p"));
        assert_eq!(rec.header("dlq-attempts"), Some("1"));
        assert!(rec.header("dlq-error").is_some_and(|e| !e.is_empty()));
        assert_eq!(rec.key.as_deref(), Some("o-p"));
    }
    assert_eq!(dlq[0].payload, b"\xff not json");

    let notes = read_at_least(
        brokers,
        &format!("{prefix}notifications"),
        2,
        Duration::from_secs(30),
    )
    .await;
    let ids: Vec<Value> = notes.iter().map(|n| n.json()["event_id"].clone()).collect();
    assert_eq!(
        ids,
        vec![first["event_id"].clone(), after["event_id"].clone()]
    );
    notifier.stop().await.unwrap();
    producer.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transient_failures_are_retried_until_they_succeed_or_dead_lettered() {
    let (brokers, prefix, producer) = shared_producer("transient").await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let a = post_ok(
            &producer.url,
            &event("created", &format!("o-{i}"), "c", 1.0),
        )
        .await;
        ids.push(a["event_id"].as_str().unwrap().to_owned());
    }
    // Half of all attempts fail; 30 attempts make a DLQ outcome practically impossible (2^-30).
    let mut config = consumer_config(Role::Notifications, brokers, &prefix);
    config.fail_ratio = 0.5;
    config.max_attempts = 30;
    config.retry_backoff = Duration::from_millis(5);
    let notifier = start_consumer(config).await;
    let notes = read_at_least(
        brokers,
        &format!("{prefix}notifications"),
        20,
        Duration::from_secs(60),
    )
    .await;
    let mut got: Vec<String> = notes
        .iter()
        .map(|n| n.json()["event_id"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    let stats = stats(&notifier.url).await;
    assert!(stats["retries"].as_u64().unwrap() > 0, "{stats}");
    notifier.stop().await.unwrap();

    // With every attempt failing, the event ends in the DLQ after exactly `max_attempts` attempts.
    let prefix = prefix_for_exhaustion(&prefix);
    let producer2 = start_producer(brokers, &prefix).await;
    post_ok(&producer2.url, &event("updated", "o-x", "c", 1.0)).await;
    let mut config = consumer_config(Role::Notifications, brokers, &prefix);
    config.fail_ratio = 1.0;
    config.max_attempts = 3;
    let notifier = start_consumer(config).await;
    let dlq = read_topic(
        brokers,
        &format!("{prefix}dlq"),
        Duration::from_secs(30),
        |r| !r.is_empty(),
    )
    .await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].header("dlq-attempts"), Some("3"));
    assert!(dlq[0].header("dlq-error").unwrap().contains("injected"));
    notifier.stop().await.unwrap();
    producer2.stop().await.unwrap();
    producer.stop().await.unwrap();
}

fn prefix_for_exhaustion(base: &str) -> String {
    format!("{base}x.")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_outage_means_503_never_202_and_both_binaries_recover() {
    // A dedicated broker, frozen (SIGSTOP) for the outage: it accepts TCP connections but answers
    // nothing, the harder case for a client. (The kill -9 drill is the lab's, crates/lab/tests/it/faults.rs.)
    let broker = KafkaBroker::start().unwrap();
    let brokers = broker.bootstrap();
    let prefix = prefix("outage");
    let producer = start_producer(brokers, &prefix).await;
    let mut config = consumer_config(Role::Notifications, brokers, &prefix);
    // Longer than the freeze plus a heartbeat interval, so the member is not expired meanwhile: this
    // test is about the producer's 503 and both sides resuming. (With the tests' 6 s session the
    // consumer did not resume within 60 s after the thaw in 2 of ~34 runs — suspected: the member
    // expired during the ~3 s freeze plus scheduling delays; see docs/events.md, "A client that
    // forgot every broker".)
    config.session_timeout = Duration::from_secs(15);
    let notifier = start_consumer(config).await;
    let before = post_ok(&producer.url, &event("created", "o-1", "c", 1.0)).await;
    // The consumer must be running — joined, assigned, notifying — before the outage, or the test
    // races its start-up (seeding, JoinGroup) against the freeze instead of testing recovery: that
    // race is one way the group was left without a working member after the thaw.
    let first = before["event_id"].clone();
    let notified = read_topic(
        brokers,
        &format!("{prefix}notifications"),
        Duration::from_secs(30),
        move |r| r.iter().any(|n| n.json()["event_id"] == first),
    )
    .await;
    assert!(
        notified
            .iter()
            .any(|n| n.json()["event_id"] == before["event_id"]),
        "the consumer never notified the first event"
    );

    broker.pause().unwrap();
    let started = std::time::Instant::now();
    let res = client()
        .post(format!("{}/events", producer.url))
        .json(&event("created", "o-2", "c", 2.0))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    // Bounded by the delivery timeout (3 s in tests) plus scheduling.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(res.headers().contains_key("retry-after"));
    let retry_id = res.headers()["event-id"].to_str().unwrap().to_owned();
    let ready = client()
        .get(format!("{}/ready", producer.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    broker.resume().unwrap();
    // The client retries with the same event id until the intake accepts it.
    let mut body = event("created", "o-2", "c", 2.0);
    body["event_id"] = Value::String(retry_id.clone());
    let mut accepted = None;
    for _ in 0..30 {
        let res = client()
            .post(format!("{}/events", producer.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        if res.status() == 202 {
            accepted = Some(res.json::<Value>().await.unwrap());
            break;
        }
        assert_eq!(res.status(), 503);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let accepted = accepted.expect("the intake never recovered");
    assert_eq!(accepted["event_id"], retry_id.as_str());

    // The consumer picks up where it was: both events notified (the retried one at least once,
    // and identically if twice).
    let want = [before["event_id"].clone(), accepted["event_id"].clone()];
    let notes = read_topic(
        brokers,
        &format!("{prefix}notifications"),
        Duration::from_secs(60),
        move |r| {
            want.iter()
                .all(|id| r.iter().any(|n| &n.json()["event_id"] == id))
        },
    )
    .await;
    for id in [&before["event_id"], &accepted["event_id"]] {
        assert!(
            notes.iter().any(|n| &n.json()["event_id"] == id),
            "{id} not notified: {notes:?}"
        );
    }
    notifier.stop().await.unwrap();
    producer.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outage_while_writing_the_output_waits_for_the_broker_instead_of_dead_lettering() {
    // The event is fine; only the topic its notification goes to is unavailable. Retrying "processing"
    // a few times and then dead-lettering would lose the notification (and the DLQ is on the same
    // broker anyway): the worker must wait for the broker and then notify.
    //
    // The freeze outlasts the broker's own session with its controller (`broker.session.timeout.ms`,
    // 9 s), so at the thaw the controller fences the broker and unfences it milliseconds later. A
    // client that asks for metadata in between is told "0 brokers" and forgets the only broker it
    // knew; librdkafka never finds it again by itself (common::kafka_brokers). Before the services replaced
    // such clients the held event was not notified within 60 s of the thaw in 2 of 3 runs (the
    // third wrote it just before its client forgot the broker) and in all 3 the consumer never found
    // its group coordinator again; with them both events were notified 1.6–8.5 s after the thaw.
    let broker = KafkaBroker::start().unwrap();
    let brokers = broker.bootstrap();
    let prefix = prefix("output-outage");
    let producer = start_producer(brokers, &prefix).await;
    let mut config = consumer_config(Role::Notifications, brokers, &prefix);
    config.max_attempts = 2;
    // The tests' 6 s session stays: shorter than the freeze, so the member's session also expires
    // meanwhile, and it must rejoin the group after the thaw too.
    // Holds the record for 1 s before writing its notification: time to freeze the broker.
    config.process_delay_ms = 1000;
    let notifier = start_consumer(config).await;
    let held = post_eventually_ok(&producer.url, &event("created", "o-9", "c-9", 9.0)).await;

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let stats = stats(&notifier.url).await;
        if stats["received"].as_u64() >= Some(1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the consumer never received the event"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    broker.pause().unwrap();
    // Longer than max_attempts × the 3 s delivery timeout (processing retries alone would be
    // exhausted) and than the broker's 9 s session with its controller.
    tokio::time::sleep(Duration::from_secs(10)).await;
    broker.resume().unwrap();
    let thawed = std::time::Instant::now();

    // The intake takes new events again, and the group member handles them: both clients work.
    let after = post_eventually_ok(&producer.url, &event("created", "o-10", "c-10", 10.0)).await;
    let want = [held["event_id"].clone(), after["event_id"].clone()];
    let notes = read_topic(
        brokers,
        &format!("{prefix}notifications"),
        Duration::from_secs(60),
        move |r| {
            want.iter()
                .all(|id| r.iter().any(|n| &n.json()["event_id"] == id))
        },
    )
    .await;
    for id in [&held["event_id"], &after["event_id"]] {
        assert!(
            notes.iter().any(|n| &n.json()["event_id"] == id),
            "{id} not notified within 60 s of the thaw: {notes:?}"
        );
    }
    eprintln!(
        "both events notified {:.1} s after the thaw",
        thawed.elapsed().as_secs_f64()
    );
    let dlq = read_topic(
        brokers,
        &format!("{prefix}dlq"),
        Duration::from_secs(3),
        |_| false,
    )
    .await;
    assert!(dlq.is_empty(), "a broker outage is not poison: {dlq:?}");
    notifier.stop().await.unwrap();
    producer.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_that_lost_its_data_gets_the_topics_again_and_writes_resume() {
    // SIGKILL and a restart on an empty data folder: the broker comes back on the same port without
    // topics, as a Kafka pod on a new emptyDir does after `scale 0` / `scale 1` (auto-creation is
    // off). Before `keep_topics` every write after that timed out for good (the producer's writes
    // retried until the delivery timeout, on a topic that no longer existed).
    let broker = KafkaBroker::start().unwrap();
    let brokers = broker.bootstrap();
    let prefix = prefix("lost");
    let producer = start_producer(brokers, &prefix).await;
    post_ok(&producer.url, &event("created", "o-1", "c", 1.0)).await;
    broker.stop().unwrap();
    broker.start_again_empty().unwrap();
    let started = std::time::Instant::now();
    let mut accepted = false;
    while !accepted && started.elapsed() < Duration::from_secs(45) {
        let res = client()
            .post(format!("{}/events", producer.url))
            .json(&event("created", "o-2", "c", 2.0))
            .send()
            .await
            .unwrap();
        accepted = res.status() == 202;
        if !accepted {
            assert_eq!(res.status(), 503);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    assert!(
        accepted,
        "no write accepted within 45 s of the broker's return"
    );
    producer.stop().await.unwrap();
}
