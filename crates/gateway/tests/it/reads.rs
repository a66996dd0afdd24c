//! Cache-aside reads: MISS then HIT, byte-exact bodies, negative caching, canonical keys, bad input.

use crate::support::{Catalog, Gateway, config, direct, prefix, shared_redis};

#[tokio::test]
async fn item_miss_then_hit_is_byte_exact_and_calls_catalog_once() {
    let catalog = Catalog::start().await;
    let gw = Gateway::start(config(&shared_redis(), &catalog.url, &prefix())).await;

    let first = gw.get("/products/7").await;
    assert_eq!((first.status, first.x_cache()), (200, "MISS"));
    let second = gw.get("/products/7").await;
    assert_eq!((second.status, second.x_cache()), (200, "HIT"));
    assert_eq!(second.header("x-cache-level"), Some("L1"));
    assert_eq!(
        catalog.calls("/products/7"),
        1,
        "one upstream call for a miss and a hit"
    );

    let upstream = direct(&catalog, "/products/7").await;
    for reply in [&first, &second] {
        assert_eq!(reply.body, upstream.body, "body byte for byte");
        assert_eq!(reply.header("etag"), upstream.header("etag"));
        assert_eq!(
            reply.header("content-type"),
            upstream.header("content-type")
        );
    }
}

#[tokio::test]
async fn redis_hit_from_a_second_gateway_without_l1() {
    let catalog = Catalog::start().await;
    let prefix = prefix();
    let mut cfg = config(&shared_redis(), &catalog.url, &prefix);
    cfg.cache.l1_capacity = 0;
    let a = Gateway::start(cfg.clone()).await;
    let b = Gateway::start(cfg).await;
    assert_eq!(a.get("/products/3").await.x_cache(), "MISS");
    let hit = b.get("/products/3").await;
    assert_eq!(
        (hit.x_cache(), hit.header("x-cache-level")),
        ("HIT", Some("L2"))
    );
    assert_eq!(
        b.get("/products/3").await.header("x-cache-level"),
        Some("L2")
    );
    assert_eq!(catalog.calls("/products/3"), 1);
    let stats = b.stats().await;
    assert_eq!(
        (stats["hits"].as_u64(), stats["l1_hits"].as_u64()),
        (Some(2), Some(0))
    );
}

#[tokio::test]
async fn upstream_404_is_cached_briefly() {
    let catalog = Catalog::start().await;
    let mut cfg = config(&shared_redis(), &catalog.url, &prefix());
    cfg.cache.l1_capacity = 0;
    let gw = Gateway::start(cfg).await;
    let miss = gw.get("/products/4242").await;
    miss.assert_problem(404);
    assert_eq!(miss.x_cache(), "MISS");
    let hit = gw.get("/products/4242").await;
    hit.assert_problem(404);
    assert_eq!(hit.x_cache(), "HIT");
    assert_eq!(catalog.calls("/products/4242"), 1, "{}", gw.stats().await);
    assert_eq!(hit.body, direct(&catalog, "/products/4242").await.body);
}

#[tokio::test]
async fn lists_and_searches_are_cached_under_canonical_keys() {
    let catalog = Catalog::start().await;
    let gw = Gateway::start(config(&shared_redis(), &catalog.url, &prefix())).await;

    let miss = gw.get("/products?per_page=5&page=2").await;
    assert_eq!((miss.status, miss.x_cache()), (200, "MISS"));
    let hit = gw.get("/products?page=2&per_page=5").await;
    assert_eq!(hit.x_cache(), "HIT", "parameter order does not matter");
    assert_eq!(catalog.calls("/products?page=2&per_page=5"), 1);
    assert_eq!(
        hit.body,
        direct(&catalog, "/products?page=2&per_page=5").await.body
    );

    let q = "/search?q=lamp&min_price=1&per_page=3";
    assert_eq!(gw.get(q).await.x_cache(), "MISS");
    let hit = gw.get(q).await;
    assert_eq!(hit.x_cache(), "HIT");
    assert_eq!(catalog.calls("/search?q=lamp&min_price=1&per_page=3"), 1);
    assert_eq!(
        hit.body,
        direct(&catalog, "/search?q=lamp&min_price=1&per_page=3")
            .await
            .body
    );
}

#[tokio::test]
async fn bad_input_gets_catalogs_4xx_and_nothing_is_cached() {
    let catalog = Catalog::start().await;
    let gw = Gateway::start(config(&shared_redis(), &catalog.url, &prefix())).await;

    // Rejected by the gateway itself, like catalog would: no upstream call.
    for path in [
        "/products/abc",
        "/products/-1",
        "/products?page=x",
        "/search?min_price=cheap",
        "/products/batch?ids=1,x",
        "/products/batch?ids=",
        "/products/batch",
        "/cache/warm?from=a&to=2",
    ] {
        let reply = if path.starts_with("/cache/warm") {
            gw.send(crate::support::client().post(gw.url(path))).await
        } else {
            gw.get(path).await
        };
        reply.assert_problem(400);
    }
    // Parsed but against the rules: 422, like every service (docs/architecture.md).
    for path in [
        "/cache/warm?from=5&to=1",
        "/cache/warm?from=1&to=1001",
        "/cache/warm?from=0&to=1000",
    ] {
        gw.send(crate::support::client().post(gw.url(path)))
            .await
            .assert_problem(422);
    }
    let too_many: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
    gw.get(&format!("/products/batch?ids={}", too_many.join(",")))
        .await
        .assert_problem(422);
    gw.send(crate::support::client().delete(gw.url("/cache/products/abc")))
        .await
        .assert_problem(400);
    assert_eq!(catalog.total(), 0, "nothing reached catalog");

    // Range errors are catalog's to decide: passed through, never cached.
    for _ in 0..2 {
        let reply = gw.get("/products?page=0").await;
        reply.assert_problem(422);
        assert_eq!(reply.x_cache(), "MISS");
    }
    assert_eq!(catalog.calls("/products?page=0"), 2);
    gw.get("/search?q=a&min_price=5&max_price=1")
        .await
        .assert_problem(422);
    gw.get("/nope").await.assert_problem(404);
}

#[tokio::test]
async fn stats_count_hits_misses_and_upstream_calls() {
    let catalog = Catalog::start().await;
    let gw = Gateway::start(config(&shared_redis(), &catalog.url, &prefix())).await;
    gw.get("/products/1").await;
    gw.get("/products/1").await;
    gw.get("/products/2").await;
    let stats = gw.stats().await;
    assert_eq!(stats["misses"], 2);
    assert_eq!(stats["l1_hits"], 1);
    assert_eq!(stats["upstream_calls"], 2);
    assert_eq!(stats["bypasses"], 0);
    assert_eq!(stats["redis_errors"], 0);
}

#[tokio::test]
async fn revalidation_with_if_none_match_is_answered_from_the_cache() {
    let catalog = Catalog::start().await;
    let gw = Gateway::start(config(&shared_redis(), &catalog.url, &prefix())).await;
    let first = gw.get("/products/15").await;
    let etag = first.header("etag").unwrap().to_owned();
    let r = gw
        .send(
            crate::support::client()
                .get(gw.url("/products/15"))
                .header("if-none-match", format!("W/{etag}")),
        )
        .await;
    assert_eq!((r.status, r.x_cache()), (304, "HIT"));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert!(r.body.is_empty());
    let r = gw
        .send(
            crate::support::client()
                .get(gw.url("/products/15"))
                .header("if-none-match", "\"0-0\""),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(catalog.calls("/products/15"), 1);
}

#[tokio::test]
async fn the_router_serves_exactly_the_documented_routes() {
    let token = tokio_util::sync::CancellationToken::new();
    let cache = gateway::cache(
        &config(&shared_redis(), "http://127.0.0.1:9", &prefix()),
        &token,
    )
    .unwrap();
    let app = gateway::app(cache, &Default::default(), token.clone());
    let problems = common::http::api::check_routes(app, &gateway::http::openapi()).await;
    assert_eq!(problems, Vec::<String>::new());
    token.cancel();
}
