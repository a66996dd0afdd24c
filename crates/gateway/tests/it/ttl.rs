//! TTLs in Redis: 60 s ± 10 % for items (jittered, so not all equal), shorter for lists and 404s.

use std::time::Instant;

use crate::support::{Catalog, Gateway, client, config, prefix, redis, shared_redis};

#[tokio::test]
async fn item_ttls_are_jittered_within_ten_percent_and_collections_are_shorter() {
    let catalog = Catalog::start().await;
    let url = shared_redis();
    let prefix = prefix();
    let gw = Gateway::start(config(&url, &catalog.url, &prefix)).await;
    let written = Instant::now();
    let warm = gw
        .send(client().post(gw.url("/cache/warm?from=1&to=100")))
        .await;
    assert_eq!(warm.status, 200);
    assert_eq!(warm.json()["stored"], 100);
    gw.get("/products?page=1").await;
    gw.get("/products/777").await;

    let mut conn = redis(&url).await;
    let mut ttls = Vec::new();
    for id in 1..=100 {
        let pttl: i64 = redis::cmd("PTTL")
            .arg(format!("{prefix}:product:{id}"))
            .query_async(&mut conn)
            .await
            .unwrap();
        ttls.push(pttl);
    }
    // PTTL counts down from the write: allow for the time that has passed since (TTL in seconds
    // would round, which is why milliseconds are checked).
    let elapsed = i64::try_from(written.elapsed().as_millis()).unwrap();
    assert!(
        ttls.iter().all(|t| (54_000 - elapsed..=66_000).contains(t)),
        "{ttls:?}"
    );
    assert!(
        ttls.iter().any(|t| (t - ttls[0]).abs() > 1000),
        "jitter spreads TTLs: {ttls:?}"
    );

    let list: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}:list:0:page=1"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        (13_000..=16_500).contains(&list),
        "list TTL 15 s ± 10 %: {list}"
    );
    let negative: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}:product:777"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        (4_000..=5_500).contains(&negative),
        "404 TTL 5 s ± 10 %: {negative}"
    );
}
