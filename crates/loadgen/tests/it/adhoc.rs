//! The ad-hoc commands as a user runs them — the `loadgen` binary, `grpc`/`sql`/`redis`/`kafka` with
//! the flags `http` has — against the real auth service and real PostgreSQL, Redis and broker
//! (testkit); each test checks on the server side that the traffic arrived. And a scenario whose
//! threshold has a typo: exit 1 at start-up, before any request.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::support;

/// Runs the `loadgen` binary with `args` (plus `--out`) and returns its output and JSON report.
async fn loadgen(args: &[&str]) -> (Output, Option<Value>) {
    let out = std::env::temp_dir().join(format!(
        "loadgen-adhoc-{}-{}.json",
        std::process::id(),
        uuid_ish()
    ));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_loadgen"));
    cmd.args(args)
        .arg("--out")
        .arg(&out)
        .env("LOG_FORMAT", "json");
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let report = std::fs::read(&out)
        .ok()
        .map(|bytes| serde_json::from_slice(&bytes).unwrap());
    let _ = std::fs::remove_file(&out);
    (output, report)
}

/// A per-call suffix, so parallel tests never share a report file.
fn uuid_ish() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Asserts a successful run and returns its report.
fn passed(run: (Output, Option<Value>)) -> Value {
    let (output, report) = run;
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    report.expect("a JSON report at --out")
}

fn count(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// 20 arrivals: `--rate 20 --duration 1s`.
const SHORT: [&str; 4] = ["--rate", "20", "--duration", "1s"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_runs_the_call_and_counts_planned_errors() {
    let auth = support::auth(20).await;
    // The server has demo users 1..=20 (the default template reaches user-0100).
    let ok = passed(
        loadgen(
            &[
                &["grpc", "--call", "login", "--auth-addr", &auth.url][..],
                &["--username", "user-{rand:2:20:4}"],
                &SHORT,
            ]
            .concat(),
        )
        .await,
    );
    assert_eq!(ok["scenario"], "grpc-constant");
    assert_eq!(ok["steps"][0]["name"], "grpc login");
    let total = &ok["total"];
    assert_eq!((count(total, "planned"), count(total, "ok")), (20, 20));

    // A wrong password is refused by the real server: planned, so not a failure.
    let refused = passed(
        loadgen(
            &[
                &["grpc", "--call", "login", "--auth-addr", &auth.url][..],
                &["--username", "user-{rand:2:20:4}", "--password", "wrong"],
                &["--expect", "UNAUTHENTICATED"],
                &["--expect", "RESOURCE_EXHAUSTED", "--pattern", "ramp"],
                &SHORT,
            ]
            .concat(),
        )
        .await,
    );
    let total = &refused["total"];
    let expected: u64 = total["expected_errors"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(refused["scenario"], "grpc-ramp");
    assert!(
        expected > 0 && count(total, "ok") == 0,
        "every wrong login answered UNAUTHENTICATED (or throttled): {total}"
    );
    assert_eq!(total["unexpected_errors"], serde_json::json!({}), "{total}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_sends_the_query_to_postgres() {
    let db = testkit::postgres::PgServer::shared()
        .unwrap()
        .database(&orders::MIGRATOR)
        .await
        .unwrap();
    let url = db.url();
    // Five distinct e-mails for 20 inserts: the first of each is a row, the rest unique violations.
    let report = passed(
        loadgen(
            &[
                &["sql", "--query", "insert_customer", "--database-url", &url][..],
                &["--arg", "adhoc-{rand:1:5}@example.com", "--pool", "2"],
                &["--expect", "OK", "--expect", "23505"],
                &SHORT,
            ]
            .concat(),
        )
        .await,
    );
    let total = &report["total"];
    let mut conn = db.connect().await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM customers WHERE email LIKE 'adhoc-%'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!((1..=5).contains(&rows), "{rows}");
    assert_eq!(count(total, "completed"), 20, "{total}");
    assert_eq!(count(total, "ok"), u64::try_from(rows).unwrap(), "{total}");
    assert_eq!(
        count(&total["expected_errors"], "sql:23505"),
        20 - u64::try_from(rows).unwrap(),
        "{total}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sends_the_command_to_redis() {
    let server = testkit::redis::RedisServer::start().unwrap();
    let report = passed(
        loadgen(
            &[
                &["redis", "--op", "set", "--redis-url", server.url()][..],
                &["--key", "adhoc:{rand:1:10}", "--ttl", "5m"],
                &["--concurrency", "2"],
                &SHORT,
            ]
            .concat(),
        )
        .await,
    );
    // Closed model: as many as two workers manage in 1 s, every one a SET that Redis counted.
    assert_eq!(report["model"], "closed (max throughput)");
    let ok = count(&report["total"], "ok");
    let mut con = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut con)
        .await
        .unwrap();
    let sets: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_set:calls="))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0);
    assert!(ok > 0 && sets == ok, "ok {ok}, SETs seen by Redis {sets}");
    let ttl: i64 = redis::cmd("PTTL")
        .arg("adhoc:1")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(ttl > 60_000, "--ttl 5m reached the key: {ttl} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_produces_the_events_to_the_topic() {
    let brokers = testkit::kafka::KafkaBroker::shared()
        .unwrap()
        .bootstrap()
        .to_owned();
    let topic = format!("adhoc{}.orders.created", std::process::id());
    crate::kafka::create_topic(&brokers, &topic).await;
    let report = passed(
        loadgen(
            &[
                &["kafka", "--topic", &topic, "--kafka-brokers", &brokers][..],
                &["--order-id", "o-{rand:1:5}", "--pattern", "spike"],
                &SHORT,
            ]
            .concat(),
        )
        .await,
    );
    let acknowledged = count(&report["total"], "ok");
    assert_eq!(report["scenario"], "kafka-spike");
    assert!(acknowledged > 0, "{}", report["total"]);
    let records = testkit::kafka_reader::read_topic(
        &brokers,
        &topic,
        crate::kafka::PARTITIONS,
        Duration::from_secs(30),
        move |r| r.len() as u64 >= acknowledged,
    )
    .await;
    assert_eq!(records.len() as u64, acknowledged);
    for r in &records {
        let key = r.key.as_deref().unwrap_or_default();
        assert!(key.starts_with("o-"), "--order-id is the key: {key}");
        assert_eq!(r.json()["type"], "created");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_typo_stops_the_run_before_any_request() {
    let (server, seen) = support::start().await;
    let dir = std::env::temp_dir().join(format!("loadgen-adhoc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("typo.yaml");
    std::fs::write(
        &file,
        "name: typo\nschedule: {stages: [{target: 50, duration: 10m}]}\n\
         steps: [{name: ok, http: {url: '${CATALOG_URL}/ok'}}]\n\
         thresholds: ['p99 < 250ms', 'p95 < 250ms']\n",
    )
    .unwrap();
    let (output, report) =
        loadgen(&["run", file.to_str().unwrap(), "--catalog-url", &server.url]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(r#"threshold "p95 < 250ms": unknown metric "p95""#)
            && stderr.contains("p99.9"),
        "names the threshold and the valid metrics: {stderr}"
    );
    assert!(report.is_none(), "no run, no report");
    assert_eq!(
        seen.requests.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "not one request of the ten-minute schedule was sent"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
