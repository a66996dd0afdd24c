//! Batch reads and warm-up: one `MGET`, one `MULTI`/`EXEC` write-back — proven by `INFO commandstats`
//! on a dedicated Redis.

use testkit::redis::RedisServer;

use crate::support::{Catalog, Gateway, client, command_calls, config, direct, prefix, redis};

#[tokio::test]
async fn batch_uses_one_mget_and_one_atomic_write_back() {
    let server = RedisServer::start().unwrap();
    let catalog = Catalog::start().await;
    let gw = Gateway::start(config(server.url(), &catalog.url, &prefix())).await;
    // Two ids cached beforehand.
    gw.get("/products/2").await;
    gw.get("/products/4").await;

    let mut conn = redis(server.url()).await;
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut conn)
        .await
        .unwrap();
    let reply = gw.get("/products/batch?ids=1,2,3,4,999,3").await;
    assert_eq!((reply.status, reply.x_cache()), (200, "MISS"));
    let calls = command_calls(&mut conn).await;
    assert_eq!(calls.get("mget"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("get"), None, "no single GETs: {calls:?}");
    assert_eq!(calls.get("multi"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("exec"), Some(&1), "{calls:?}");
    assert_eq!(
        calls.get("set"),
        Some(&3),
        "1, 3 and the 404 for 999: {calls:?}"
    );

    let body = reply.json();
    assert_eq!(body["not_found"], serde_json::json!([999]));
    let ids: Vec<u64> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4], "request order, duplicates once");
    assert_eq!(catalog.total(), 5, "2 warm-up GETs + ids 1, 3 and 999");
    let again = gw.get("/products/batch?ids=1,2,3,4,999").await;
    assert_eq!(again.x_cache(), "HIT");
    assert_eq!(catalog.total(), 5, "second batch served from Redis");
    // Each item is catalog's body, byte for byte.
    let text = String::from_utf8(reply.body.clone()).unwrap();
    for id in [1, 2, 3, 4] {
        let own =
            String::from_utf8(direct(&catalog, &format!("/products/{id}")).await.body).unwrap();
        assert!(text.contains(&own), "{own} in {text}");
    }
}

#[tokio::test]
async fn warm_fetches_a_range_and_writes_it_in_one_pipeline() {
    let server = RedisServer::start().unwrap();
    let catalog = Catalog::start().await;
    let gw = Gateway::start(config(server.url(), &catalog.url, &prefix())).await;
    let mut conn = redis(server.url()).await;
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut conn)
        .await
        .unwrap();

    let reply = gw
        .send(client().post(gw.url("/cache/warm?from=91&to=110")))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        serde_json::json!({"stored": 10, "not_found": 10})
    );
    let calls = command_calls(&mut conn).await;
    assert_eq!(
        (calls.get("multi"), calls.get("exec"), calls.get("set")),
        (Some(&1), Some(&1), Some(&10)),
        "{calls:?}"
    );
    for id in 91..=110 {
        assert_eq!(catalog.calls(&format!("/products/{id}")), 1);
    }
    let hit = gw.get("/products/95").await;
    assert_eq!(hit.x_cache(), "HIT");
    assert_eq!(catalog.calls("/products/95"), 1);
}
