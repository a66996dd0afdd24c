//! Stampede protection: concurrent misses for one key make a single upstream call.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{Catalog, Gateway, client, config, prefix, shared_redis};

#[tokio::test]
async fn fifty_concurrent_misses_make_one_upstream_call() {
    // A slow catalog, so all 50 requests are in flight while the leader waits for it.
    let catalog = Catalog::with_latency(Duration::from_millis(300)).await;
    let gw = Gateway::start(config(&shared_redis(), &catalog.url, &prefix())).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let http = client();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (barrier, http, url) = (Arc::clone(&barrier), http.clone(), gw.url("/products/42"));
            tokio::spawn(async move {
                barrier.wait().await;
                let res = http.get(url).send().await.unwrap();
                let cache = res.headers()["x-cache"].to_str().unwrap().to_owned();
                (res.status().as_u16(), cache, res.bytes().await.unwrap())
            })
        })
        .collect();
    let mut bodies = Vec::new();
    for task in tasks {
        let (status, cache, body) = task.await.unwrap();
        assert_eq!(status, 200);
        assert!(cache == "MISS" || cache == "HIT", "{cache}");
        bodies.push(body);
    }
    assert!(bodies.iter().all(|b| *b == bodies[0]));
    assert_eq!(
        catalog.calls("/products/42"),
        1,
        "exactly one upstream call"
    );
}
