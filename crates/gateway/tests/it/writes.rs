//! Writes: forwarded exactly, and every successful write invalidates what it changed.

use serde_json::{Value, json};

use crate::support::{Catalog, Gateway, client, config, prefix, shared_redis};

fn product(name: &str) -> Value {
    json!({"name": name, "description": "d", "price": 12.5, "stock": 3, "category": "home"})
}

#[tokio::test]
async fn put_is_relayed_exactly_and_invalidates_the_item_and_lists() {
    let catalog = Catalog::start().await;
    let gw = Gateway::start(config(&shared_redis(), &catalog.url, &prefix())).await;
    let before = gw.get("/products/5").await;
    let etag = before.header("etag").unwrap().to_owned();
    assert_eq!(gw.get("/products?per_page=10").await.x_cache(), "MISS");
    assert_eq!(gw.get("/products?per_page=10").await.x_cache(), "HIT");

    let put = gw
        .send(
            client()
                .put(gw.url("/products/5"))
                .header("if-match", &etag)
                .json(&product("Renamed")),
        )
        .await;
    assert_eq!(put.status, 200);
    assert_eq!(put.json()["name"], "Renamed");
    let new_etag = put.header("etag").unwrap().to_owned();
    assert_ne!(new_etag, etag);
    assert_eq!(put.header("x-cache"), None, "writes are not cache answers");

    let after = gw.get("/products/5").await;
    assert_eq!(
        (after.x_cache(), after.json()["name"].as_str()),
        ("MISS", Some("Renamed"))
    );
    assert_eq!(after.header("etag"), Some(new_etag.as_str()));
    let list = gw.get("/products?per_page=10").await;
    assert_eq!(
        list.x_cache(),
        "MISS",
        "lists are invalidated by the generation bump"
    );
    assert_eq!(list.json()["items"][4]["name"], "Renamed");
    assert_eq!(gw.stats().await["invalidations_sent"], 1);
}

#[tokio::test]
async fn failed_writes_are_relayed_and_invalidate_nothing() {
    let catalog = Catalog::start().await;
    let gw = Gateway::start(config(&shared_redis(), &catalog.url, &prefix())).await;
    gw.get("/products/6").await;
    let stale = gw
        .send(
            client()
                .put(gw.url("/products/6"))
                .header("if-match", "\"6-999\"")
                .json(&product("X")),
        )
        .await;
    stale.assert_problem(412);
    let invalid = gw
        .send(
            client()
                .put(gw.url("/products/6"))
                .json(&json!({"name": ""})),
        )
        .await;
    invalid.assert_problem(422);
    let not_json = gw
        .send(
            client()
                .post(gw.url("/products"))
                .header("content-type", "text/plain")
                .body("x"),
        )
        .await;
    not_json.assert_problem(415);
    let too_big = gw
        .send(
            client()
                .post(gw.url("/products"))
                .header("content-type", "application/json")
                .body(vec![b' '; 70_000]),
        )
        .await;
    too_big.assert_problem(413);
    assert_eq!(gw.get("/products/6").await.x_cache(), "HIT", "still cached");
    assert_eq!(gw.stats().await["invalidations_sent"], 0);
    assert_eq!(
        direct_name(&catalog, 6).await,
        gw.get("/products/6").await.json()["name"]
    );
}

async fn direct_name(catalog: &Catalog, id: u64) -> Value {
    crate::support::direct(catalog, &format!("/products/{id}"))
        .await
        .json()["name"]
        .clone()
}

#[tokio::test]
async fn post_clears_a_negatively_cached_404_and_delete_evicts() {
    let catalog = Catalog::start().await;
    let gw = Gateway::start(config(&shared_redis(), &catalog.url, &prefix())).await;
    let next = crate::support::PRODUCTS + 1;
    gw.get(&format!("/products/{next}"))
        .await
        .assert_problem(404);
    assert_eq!(gw.get(&format!("/products/{next}")).await.x_cache(), "HIT");

    let created = gw
        .send(client().post(gw.url("/products")).json(&product("New")))
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.header("location"),
        Some(format!("/products/{next}").as_str())
    );
    assert!(created.header("etag").is_some());
    let now = gw.get(&format!("/products/{next}")).await;
    assert_eq!((now.status, now.x_cache()), (200, "MISS"));
    assert_eq!(now.body, created.body);

    let deleted = gw
        .send(client().delete(gw.url(&format!("/products/{next}"))))
        .await;
    assert_eq!(deleted.status, 204);
    let gone = gw.get(&format!("/products/{next}")).await;
    gone.assert_problem(404);
    assert_eq!(gone.x_cache(), "MISS");
    assert_eq!(gw.stats().await["invalidations_sent"], 2);
}

#[tokio::test]
async fn manual_invalidation_deletes_and_publishes() {
    let catalog = Catalog::start().await;
    let gw = Gateway::start(config(&shared_redis(), &catalog.url, &prefix())).await;
    gw.get("/products/9").await;
    assert_eq!(gw.get("/products/9").await.x_cache(), "HIT");
    let res = gw.send(client().delete(gw.url("/cache/products/9"))).await;
    assert_eq!(res.status, 204);
    assert_eq!(gw.get("/products/9").await.x_cache(), "MISS");
    assert_eq!(catalog.calls("/products/9"), 2);
}
