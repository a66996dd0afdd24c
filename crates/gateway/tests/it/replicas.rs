//! Two replicas: a write through one is not served stale by the other beyond pub/sub delivery.

use std::time::Duration;

use serde_json::json;

use crate::support::{Catalog, Gateway, client, config, eventually, prefix, shared_redis};

#[tokio::test]
async fn a_write_through_one_replica_evicts_the_other_replicas_l1() {
    let catalog = Catalog::start().await;
    let mut cfg = config(&shared_redis(), &catalog.url, &prefix());
    // A long L1 TTL: only the invalidation message can make B drop its copy in time.
    cfg.cache.l1_ttl = Duration::from_secs(300);
    let a = Gateway::start(cfg.clone()).await;
    let b = Gateway::start(cfg).await;
    // `Gateway::start` returned once both replicas were subscribed.
    b.get("/products/11").await;
    let cached = b.get("/products/11").await;
    assert_eq!(cached.header("x-cache-level"), Some("L1"));
    b.get("/products?page=1").await;
    assert_eq!(
        b.get("/products?page=1").await.header("x-cache-level"),
        Some("L1")
    );

    let body =
        json!({"name": "Fresh", "description": "", "price": 1, "stock": 1, "category": "toys"});
    let put = a
        .send(client().put(a.url("/products/11")).json(&body))
        .await;
    assert_eq!(put.status, 200);

    // Bounded by the channel's delivery time, polled — never a fixed sleep.
    let fresh = eventually(
        Duration::from_secs(5),
        "replica B to serve the new version",
        || async {
            let r = b.get("/products/11").await;
            (r.json()["name"] == "Fresh").then_some(r)
        },
    )
    .await;
    assert_eq!(fresh.header("etag"), put.header("etag"));
    let list = eventually(
        Duration::from_secs(5),
        "replica B's list to be fresh",
        || async {
            let r = b.get("/products?page=1").await;
            (r.json()["items"][10]["name"] == "Fresh").then_some(r)
        },
    )
    .await;
    assert_eq!(list.x_cache(), "MISS", "new generation: fetched again");
    assert!(b.stats().await["invalidations_received"].as_u64() >= Some(1));
}
