//! The HTTP intake end to end: an accepted event reaches both consumer groups; invalid input is
//! rejected with every bad field listed and nothing is produced.

use std::time::Duration;

use events::Role;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_accepted_event_becomes_a_notification_and_analytics() {
    let (brokers, prefix, producer) = shared_producer("e2e").await;
    let notifier = start_consumer(consumer_config(Role::Notifications, brokers, &prefix)).await;
    let analytics = start_consumer(consumer_config(Role::Analytics, brokers, &prefix)).await;

    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let res = client()
        .post(format!("{}/events", producer.url))
        .header("traceparent", traceparent)
        .json(&event("created", "o-1", "c-1", 25.5))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let accepted: Value = res.json().await.unwrap();
    let event_id = accepted["event_id"].as_str().unwrap().to_owned();
    assert_eq!(accepted["topic"], format!("{prefix}orders.created"));
    let given_id = "7d444840-9dc0-11d1-b245-5ffdce74fad2";
    let second = post_ok(
        &producer.url,
        &json!({"event_id": given_id, "type": "cancelled", "order_id": "o-1",
                "customer_id": "c-1", "total": 25.5}),
    )
    .await;
    assert_eq!(second["event_id"], given_id);

    // The intake record: keyed by order, with type, content type and the caller's traceparent.
    let orders = read_topic(
        brokers,
        &format!("{prefix}orders.created"),
        Duration::from_secs(10),
        |r| !r.is_empty(),
    )
    .await;
    assert_eq!(orders.len(), 1);
    let rec = &orders[0];
    assert_eq!(rec.key.as_deref(), Some("o-1"));
    assert_eq!(rec.header("event-type"), Some("created"));
    assert_eq!(rec.header("content-type"), Some("application/json"));
    assert_eq!(rec.header("traceparent"), Some(traceparent));
    assert_eq!(rec.json()["event_id"], event_id.as_str());

    // Notifications: one per event, keyed by customer, id derived from the event id.
    let notes = read_at_least(
        brokers,
        &format!("{prefix}notifications"),
        2,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(notes.len(), 2, "{notes:?}");
    let mut ids: Vec<String> = notes
        .iter()
        .map(|n| n.header("notification-id").unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected = vec![format!("ntf-{event_id}"), format!("ntf-{given_id}")];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(notes.iter().all(|n| n.key.as_deref() == Some("c-1")));
    let created = notes
        .iter()
        .find(|n| n.json()["event_id"] == event_id.as_str())
        .unwrap();
    assert_eq!(created.json()["to"], "customer-c-1@example.com");

    // Analytics: a snapshot on the topic that counted both events and the revenue once.
    let snaps = read_topic(
        brokers,
        &format!("{prefix}analytics"),
        Duration::from_secs(30),
        |r| r.iter().any(|s| s.json()["events_total"] == 2),
    )
    .await;
    let snap = snaps
        .iter()
        .rev()
        .find(|s| s.json()["events_total"] == 2)
        .unwrap_or_else(|| panic!("no snapshot with both events: {snaps:?}"))
        .json();
    assert_eq!(snap["events_per_type"]["created"], 1);
    assert_eq!(snap["events_per_type"]["cancelled"], 1);
    assert_eq!(snap["revenue_total"], 25.5);
    let per_minute: f64 = snap["revenue_per_minute"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert_eq!(per_minute, 25.5);
    assert_eq!(snap["orders_per_customer"]["c-1"], 1);
    let stats = stats(&analytics.url).await;
    assert_eq!(stats["aggregates"]["events_total"], 2, "{stats}");

    for (url, name) in [
        (&producer.url, "producer"),
        (&notifier.url, "notifier"),
        (&analytics.url, "analytics"),
    ] {
        let ready = client().get(format!("{url}/ready")).send().await.unwrap();
        assert_eq!(ready.status(), 200, "{name} not ready");
    }
    notifier.stop().await.unwrap();
    analytics.stop().await.unwrap();
    producer.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_events_are_rejected_with_every_field_and_nothing_is_produced() {
    let (brokers, prefix, producer) = shared_producer("invalid").await;
    let url = format!("{}/events", producer.url);

    // (body, the fields that must be reported)
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({}), vec!["type", "order_id", "customer_id", "total"]),
        (json!([1, 2]), vec![""]),
        (
            json!({"event_id": "not-a-uuid", "type": "shipped", "order_id": "", "customer_id": -3,
                   "total": "12", "occurred_at": "yesterday", "items": {}}),
            vec![
                "event_id",
                "type",
                "order_id",
                "customer_id",
                "total",
                "items",
                "occurred_at",
            ],
        ),
        (
            json!({"type": "created", "order_id": "o", "customer_id": "c", "total": 1.234}),
            vec!["total"],
        ),
        (
            json!({"type": "created", "order_id": "o", "customer_id": "c", "total": -1}),
            vec!["total"],
        ),
        (
            json!({"type": "created", "order_id": "o".repeat(65), "customer_id": "c", "total": 1}),
            vec!["order_id"],
        ),
        (
            json!({"type": "created", "order_id": "o", "customer_id": "c", "total": 1,
                   "items": [{"sku": "a", "quantity": 0, "price": 1}, {"quantity": 2, "price": -1}]}),
            vec!["items[0].quantity", "items[1].sku", "items[1].price"],
        ),
    ];
    for (body, fields) in cases {
        let res = client().post(&url).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 422, "{body}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let problem: Value = res.json().await.unwrap();
        let got: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(got, fields, "{body}");
    }

    // Malformed JSON is 400, a missing JSON content type 415.
    let res = client()
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"type\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = client().post(&url).body("{}").send().await.unwrap();
    assert_eq!(res.status(), 415);

    // A batch answers per event and produces only the valid ones; a non-array is a 422 naming the body.
    let res = client()
        .post(format!("{}/events/batch", producer.url))
        .json(&json!([event("updated", "o-9", "c-9", 1.0), {"type": "nope"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["accepted"], 1, "{answer}");
    assert_eq!(answer["rejected"], 1);
    assert_eq!(answer["results"][0]["status"], 202);
    assert_eq!(answer["results"][1]["status"], 422);
    let res = client()
        .post(format!("{}/events/batch", producer.url))
        .json(&json!({"not": "an array"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "body", "{problem}");

    // Nothing but the one valid batch event reached any orders topic.
    for kind in ["created", "updated", "cancelled"] {
        let records = read_topic(
            brokers,
            &format!("{prefix}orders.{kind}"),
            Duration::from_secs(2),
            |_| false,
        )
        .await;
        let expected = usize::from(kind == "updated");
        assert_eq!(records.len(), expected, "orders.{kind}: {records:?}");
    }
    producer.stop().await.unwrap();
}
