//! Outages: Redis killed and restarted under a running gateway; Redis down at start-up; catalog down;
//! catalog answering garbage.

use std::time::Duration;

use testkit::redis::RedisServer;
use tokio::io::AsyncWriteExt;

use crate::support::{Catalog, Gateway, config, eventually, prefix, shared_redis};

#[tokio::test]
async fn redis_outage_bypasses_then_caching_resumes_by_itself() {
    let server = RedisServer::start().unwrap();
    let catalog = Catalog::start().await;
    let mut cfg = config(server.url(), &catalog.url, &prefix());
    cfg.cache.l1_capacity = 0; // observe Redis itself
    cfg.cache.breaker_cooldown = Duration::from_millis(200);
    let gw = Gateway::start(cfg).await;
    assert_eq!(gw.get("/products/1").await.x_cache(), "MISS");
    assert_eq!(gw.get("/products/1").await.x_cache(), "HIT");

    server.stop().unwrap();
    for _ in 0..10 {
        let r = gw.get("/products/1").await;
        assert_eq!((r.status, r.x_cache()), (200, "BYPASS"));
    }
    let r = gw.get("/products?page=1").await;
    assert_eq!((r.status, r.x_cache()), (200, "BYPASS"));
    assert_eq!(gw.get("/ready").await.status, 200, "catalog still serves");
    // Writes still go through; their invalidation fails (logged), the write is not lost.
    let body = serde_json::json!({"name": "During", "description": "", "price": 1, "stock": 1, "category": "toys"});
    let put = gw
        .send(
            crate::support::client()
                .put(gw.url("/products/1"))
                .json(&body),
        )
        .await;
    assert_eq!(put.status, 200);
    let r = gw.get("/products/1").await;
    assert_eq!(
        (r.x_cache(), r.json()["name"].as_str()),
        ("BYPASS", Some("During"))
    );
    let stats = gw.stats().await;
    assert!(stats["redis_errors"].as_u64() >= Some(3), "{stats}");
    assert!(stats["bypasses"].as_u64() >= Some(12), "{stats}");

    server.restart().unwrap();
    // No gateway restart: the breaker's probe finds Redis again.
    eventually(Duration::from_secs(10), "caching to resume", || async {
        (gw.get("/products/1").await.x_cache() == "HIT").then_some(())
    })
    .await;
    // And the subscriber resubscribed (second L1 clear).
    eventually(Duration::from_secs(10), "resubscription", || async {
        (gw.stats().await["l1_clears"].as_u64() >= Some(2)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn start_up_with_redis_down_serves_from_catalog() {
    let dead = format!(
        "redis://127.0.0.1:{}/0",
        testkit::process::free_port().unwrap()
    );
    let catalog = Catalog::start().await;
    let gw = Gateway::start_unsubscribed(config(&dead, &catalog.url, &prefix())).await;
    let r = gw.get("/products/8").await;
    assert_eq!((r.status, r.x_cache()), (200, "BYPASS"));
    assert_eq!(gw.get("/ready").await.status, 200);
    let batch = gw.get("/products/batch?ids=1,2,4242").await;
    assert_eq!((batch.status, batch.x_cache()), (200, "BYPASS"));
    assert_eq!(batch.json()["not_found"], serde_json::json!([4242]));
    // Operations that exist only for the cache say so.
    let http = crate::support::client();
    gw.send(http.post(gw.url("/cache/warm?from=1&to=3")))
        .await
        .assert_problem(503);
    gw.send(http.delete(gw.url("/cache/products/1")))
        .await
        .assert_problem(503);
}

#[tokio::test]
async fn catalog_down_serves_cached_data_and_503_for_the_rest() {
    let mut catalog = Catalog::start().await;
    let mut cfg = config(&shared_redis(), &catalog.url, &prefix());
    cfg.cache.l1_capacity = 0;
    let gw = Gateway::start(cfg).await;
    let cached = gw.get("/products/12").await;
    catalog.stop().await;

    let r = gw.get("/products/12").await;
    assert_eq!((r.status, r.x_cache()), (200, "HIT"));
    assert_eq!(r.body, cached.body);
    let r = gw.get("/products/13").await;
    r.assert_problem(503);
    assert!(r.header("retry-after").is_some());
    gw.get("/products/batch?ids=12,13")
        .await
        .assert_problem(503);
    let w = gw
        .send(crate::support::client().delete(gw.url("/products/12")))
        .await;
    w.assert_problem(503);
    assert_eq!(
        gw.get("/ready").await.status,
        200,
        "redis still serves cached reads"
    );
}

#[tokio::test]
async fn neither_backend_means_not_ready() {
    let dead_redis = format!(
        "redis://127.0.0.1:{}/0",
        testkit::process::free_port().unwrap()
    );
    let dead_catalog = format!(
        "http://127.0.0.1:{}",
        testkit::process::free_port().unwrap()
    );
    let gw = Gateway::start_unsubscribed(config(&dead_redis, &dead_catalog, &prefix())).await;
    let r = gw.get("/ready").await;
    r.assert_problem(503);
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("catalog") && detail.contains("redis"),
        "{detail}"
    );
    gw.get("/products/1").await.assert_problem(503);
    assert_eq!(gw.get("/health").await.status, 200);
}

#[tokio::test]
async fn garbage_from_catalog_is_a_502() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket.write_all(b"this is not HTTP\r\n\r\n").await;
        }
    });
    let gw = Gateway::start(config(&shared_redis(), &url, &prefix())).await;
    gw.get("/products/1").await.assert_problem(502);
}

#[tokio::test]
async fn catalog_closing_without_an_answer_is_a_503() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let gw = Gateway::start(config(&shared_redis(), &url, &prefix())).await;
    gw.get("/products/1").await.assert_problem(503);
}
