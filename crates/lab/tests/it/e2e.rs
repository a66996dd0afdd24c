//! End to end: the `mixed` profile across all five protocols against a whole lab, then checks from
//! the outside — loadgen's report, the Kafka topics, PostgreSQL's own statement statistics, the
//! gateway's counters and the catalog's access log.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::Connection;

use crate::support::{self, count, get_json, read_topic, step};

#[tokio::test(flavor = "multi_thread")]
async fn the_mixed_profile_runs_clean_across_all_five_protocols() {
    let mut lab = support::start(Vec::new()).await;
    let plan = lab.plan().clone();

    // ~20 s at a moderate rate: 10 s ramp, 10 s steady (the profile's stages, shrunk to fit).
    let (status, report) = support::loadgen(
        plan.clone(),
        lab.dir.clone(),
        &[
            "run",
            "mixed",
            "--duration",
            "20s",
            "--rate",
            "30",
            "--seed",
            "11",
        ],
    )
    .await;
    assert!(status.success(), "loadgen exit {status}: {report:#}");

    // Nothing unexpected, nothing dropped, every step reached its planned count.
    let total = &report["total"];
    assert_eq!(
        total["unexpected_errors"],
        serde_json::json!({}),
        "{total:#}"
    );
    for s in report["steps"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        assert!(count(s, "planned") > 0, "{name} was planned");
        assert_eq!(count(s, "completed"), count(s, "planned"), "{name}: {s:#}");
        assert_eq!(count(s, "dropped"), 0, "{name}");
    }
    // Expected errors appeared, and only in their planned classes.
    for (name, classes) in [
        ("catalog missing product", &["http:404"][..]),
        ("orders invalid order", &["http:422"]),
        (
            "auth bad password",
            &["grpc:UNAUTHENTICATED", "grpc:RESOURCE_EXHAUSTED"],
        ),
        ("sql duplicate customer", &["sql:23505"]),
    ] {
        let s = step(&report, name);
        let expected = s["expected_errors"].as_object().unwrap();
        assert!(
            expected.keys().all(|k| classes.contains(&k.as_str())),
            "{name}: {expected:?}"
        );
        let n: u64 = expected.values().filter_map(|v| v.as_u64()).sum();
        assert_eq!(
            n,
            count(s, "completed"),
            "{name}: every request is an expected error"
        );
    }

    check_events(&plan, &report).await;
    check_gateway(&plan, &report).await;
    check_n_plus_one(&lab, &report).await;

    assert!(lab.lab().exited().is_empty(), "{:?}", lab.lab().exited());
    for (name, status) in lab.stop() {
        assert!(
            status.is_some_and(|s| s.success()),
            "{name} drains and exits 0 on SIGTERM: {status:?}"
        );
    }
}

/// Every event acknowledged (HTTP 202 or broker ack) reached `notifications` exactly as many times as
/// there are distinct events; every poison record is in `dlq` — and nothing else is.
async fn check_events(plan: &lab::Plan, report: &serde_json::Value) {
    let http = step(report, "events order created");
    let kafka = step(report, "kafka order events");
    let acked_valid = count(http, "ok") + count(&kafka["ok_classes"], "kafka:OK");
    let poison = count(&kafka["ok_classes"], "kafka:POISON");
    assert!(acked_valid > 0 && poison > 0, "{http:#} {kafka:#}");
    eprintln!("events: {acked_valid} acknowledged valid events, {poison} poison records");

    let distinct = |records: &[support::Record]| -> HashSet<String> {
        records
            .iter()
            .filter_map(|r| r.header("event-id").map(str::to_owned))
            .collect()
    };
    let want = acked_valid as usize;
    let notified = read_topic(
        &plan.kafka_brokers(),
        "notifications",
        Duration::from_secs(60),
        move |r| distinct(r).len() >= want,
    )
    .await;
    assert_eq!(
        distinct(&notified).len(),
        want,
        "one notification per acknowledged event"
    );

    // Both consumer groups dead-letter a poison record, so count distinct source positions.
    let positions = |records: &[support::Record]| -> HashSet<String> {
        records
            .iter()
            .map(|r| {
                format!(
                    "{:?}/{:?}/{:?}",
                    r.header("dlq-original-topic"),
                    r.header("dlq-original-partition"),
                    r.header("dlq-original-offset")
                )
            })
            .collect()
    };
    let want = poison as usize;
    let dead = read_topic(
        &plan.kafka_brokers(),
        "dlq",
        Duration::from_secs(30),
        move |r| positions(r).len() >= want,
    )
    .await;
    // Give a wrongly dead-lettered record time to show up before concluding there is none.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let dead_again = read_topic(&plan.kafka_brokers(), "dlq", Duration::from_secs(2), |_| {
        false
    })
    .await;
    assert_eq!(
        positions(&dead).len(),
        want,
        "every poison record dead-lettered"
    );
    assert_eq!(positions(&dead_again).len(), want, "and nothing else");
}

/// The gateway answered from its caches and went to catalog only on misses — counted by the gateway
/// and, independently, in catalog's own access log.
async fn check_gateway(plan: &lab::Plan, report: &serde_json::Value) {
    let gw = step(report, "gateway get product");
    let stats = get_json(&format!(
        "http://127.0.0.1:{}/cache/stats",
        plan.ports.gateway
    ))
    .await;
    let (hits, l1, misses, upstream) = (
        count(&stats, "hits"),
        count(&stats, "l1_hits"),
        count(&stats, "misses"),
        count(&stats, "upstream_calls"),
    );
    assert_eq!(
        hits + l1 + misses,
        count(gw, "ok"),
        "every read accounted for: {stats}"
    );
    assert!(
        hits + l1 > 0,
        "repeated product ids are served from a cache: {stats}"
    );
    assert!(
        upstream <= misses,
        "catalog is called only on misses: {stats}"
    );
    assert!(
        misses <= 200,
        "at most one miss per product id (1..=200): {stats}"
    );

    // Catalog's access log: its GET /products/{id} lines are loadgen's direct calls plus the
    // gateway's upstream calls — nothing more.
    let log = std::fs::read_to_string(plan.log_file("catalog")).unwrap();
    let served = log
        .lines()
        .filter(|l| l.contains(r#""route":"/products/{id}""#) && l.contains(r#""method":"GET""#))
        .count() as u64;
    let direct = count(step(report, "catalog get product"), "completed")
        + count(step(report, "catalog missing product"), "completed");
    eprintln!("gateway: {stats}; catalog served {served} = {direct} direct + {upstream} upstream");
    assert_eq!(
        served,
        direct + upstream,
        "catalog log vs loadgen + gateway"
    );
}

/// The N+1 endpoint issued one items query per order, as PostgreSQL itself counted them.
async fn check_n_plus_one(lab: &support::TestLab, report: &serde_json::Value) {
    let requests = count(step(report, "orders customer orders n+1"), "ok");
    let options = lab.lab().postgres().admin_options().database("orders");
    let mut conn = sqlx::PgConnection::connect_with(&options).await.unwrap();
    let (per_order, batched): (i64, i64) = sqlx::query_as(
        "SELECT coalesce(sum(calls) FILTER (WHERE query LIKE $1), 0)::bigint,
                coalesce(sum(calls) FILTER (WHERE query LIKE $2), 0)::bigint
         FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'orders')",
    )
    // orders' own statements (loadgen's direct N+1 selects other columns and is not counted here).
    .bind("%price_cents FROM order_items WHERE order_id = $1 %")
    .bind("%price_cents FROM order_items WHERE order_id = ANY($1)%")
    .fetch_one(&mut conn)
    .await
    .expect("pg_stat_statements is created in the lab's orders database");
    eprintln!("n+1: {per_order} items queries for {requests} requests (batched: {batched})");
    assert!(requests > 0);
    assert_eq!(batched, 0, "the profile asks for the N+1 strategy only");
    // Every seeded customer has orders, so each request costs at least one items query; a page
    // holds up to 10, so the N+1 fan-out shows as several per request.
    assert!(
        per_order >= 2 * requests as i64,
        "{per_order} item queries for {requests} N+1 requests"
    );
}
