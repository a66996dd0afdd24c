//! The database misbehaving: pool exhausted, statements too slow, server down at start and mid-run.
//! Every case must be a quick 503 (with `Retry-After`) and recover without restarting the service.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sqlx::{Connection, PgConnection};
use testkit::postgres::PgServer;

use crate::support::{Service, assert_problem, database, start, start_with};

/// Takes an exclusive lock on `orders` in an open transaction: any request touching the table
/// blocks, holding its pooled connection, until the returned connection commits.
async fn lock_orders(svc: &Service) -> PgConnection {
    let mut conn = svc.sql().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

/// Waits (bounded) until a backend of the service is blocked on a lock.
async fn wait_until_blocked(svc: &Service) {
    let mut conn = svc.sql().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let blocked: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE application_name = 'orders' AND wait_event_type = 'Lock' AND datname = current_database()",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if blocked > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the request never blocked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn assert_retry_after(r: &crate::support::Reply) {
    assert_problem(r, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers["retry-after"], "1", "{}", r.body);
}

#[tokio::test]
async fn an_exhausted_pool_answers_503_quickly() {
    let svc = std::sync::Arc::new(
        start_with(database().await, |c| {
            c.db.db_max_connections = 1;
            c.db.db_acquire_timeout = Duration::from_millis(200);
        })
        .await,
    );
    let c = svc.customer("pool@example.com").await;
    let lock = lock_orders(&svc).await;
    // This request takes the pool's only connection and waits for the lock.
    let holder = {
        let svc = svc.clone();
        tokio::spawn(async move { svc.get("/orders").await.status })
    };
    wait_until_blocked(&svc).await;
    let started = Instant::now();
    let r = svc.get(&format!("/customers/{c}")).await;
    assert_retry_after(&r);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "503 must not wait for the request timeout"
    );
    lock.close().await.unwrap(); // ends the transaction, releasing the lock
    assert_eq!(holder.await.unwrap(), StatusCode::OK);
    assert_eq!(
        svc.get(&format!("/customers/{c}")).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_statement_over_the_timeout_is_cancelled_by_postgres_and_answered_503() {
    let svc = start_with(database().await, |c| {
        c.db.db_statement_timeout = Duration::from_millis(300);
    })
    .await;
    let lock = lock_orders(&svc).await;
    let r = svc.get("/orders").await;
    assert_retry_after(&r);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("statement timeout")
    );
    lock.close().await.unwrap();
    assert_eq!(svc.get("/orders").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_database_going_away_and_coming_back() {
    // A server of its own: stopping the shared one would break every other test.
    let server = PgServer::start().unwrap();
    let db = server.database(&orders::MIGRATOR).await.unwrap();

    // Down at start-up: the service starts anyway, migrations wait, everything is 503.
    server.stop().unwrap();
    let svc = start_with(db, |c| {
        c.no_migrate = false;
        c.db.db_acquire_timeout = Duration::from_millis(200);
    })
    .await;
    assert_eq!(
        svc.get("/health").await.status,
        StatusCode::OK,
        "liveness ignores the database"
    );
    assert_problem(&svc.get("/ready").await, StatusCode::SERVICE_UNAVAILABLE);
    assert_retry_after(&svc.get("/orders").await);

    // Comes up: migrations are retried, the service becomes ready on its own.
    server.restart().unwrap();
    svc.wait_ready(StatusCode::OK).await;
    let c = svc.customer("phoenix@example.com").await;
    let id = svc.order(c, 1).await["id"].as_i64().unwrap();

    // Goes away mid-run (pooled connections die with it): 503s, no crash.
    server.stop().unwrap();
    assert_retry_after(&svc.get(&format!("/orders/{id}")).await);
    assert_retry_after(
        &svc.post(
            "/customers",
            serde_json::json!({"name": "n", "email": "n@example.com"}),
        )
        .await,
    );
    assert_problem(&svc.get("/ready").await, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(svc.get("/health").await.status, StatusCode::OK);

    // Comes back: the same service recovers without a restart, and nothing was lost.
    server.restart().unwrap();
    svc.wait_ready(StatusCode::OK).await;
    let r = svc.get(&format!("/orders/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(svc.counts().await, (1, 1, 1));
}

#[tokio::test]
async fn health_ready_and_openapi() {
    let svc = start().await;
    assert_eq!(svc.get("/health").await.body["status"], "ok");
    assert_eq!(svc.get("/ready").await.body["status"], "ready");
    let doc = svc.get("/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    let paths: Vec<&str> = doc.body["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for path in [
        "/customers",
        "/customers/{id}",
        "/customers/{id}/orders",
        "/customers/search",
        "/customers/lookup",
        "/orders",
        "/orders/{id}",
        "/reports/top-customers",
        "/reports/daily-revenue",
        "/health",
        "/ready",
    ] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
    }
    assert_eq!(orders::openapi().paths.paths.len(), paths.len());
    // Every `$ref` resolves to a schema in `components`.
    let text = doc.body.to_string();
    let schemas = doc.body["components"]["schemas"].as_object().unwrap();
    for reference in text.split("#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {name}");
    }
    // Unknown routes are 404, and the request id is echoed.
    let r = svc
        .client
        .get(format!("{}/nope", svc.base))
        .header("x-request-id", "abc-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()["x-request-id"], "abc-1");
}
