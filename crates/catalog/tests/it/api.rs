//! Handler behaviour through the router: CRUD, ETags, search, chaos endpoints, probes, request ids.

use axum::body::Body;
use http::Request;
use serde_json::json;

use crate::support::{PRODUCTS, assert_problem, call, get, json, router};

fn lamp() -> serde_json::Value {
    json!({"name": "Desk Lamp", "description": "Warm light", "price": 24.5, "stock": 7, "category": "home"})
}

#[tokio::test]
async fn list_defaults_to_the_first_20_in_id_order() {
    let (app, _) = router();
    let (res, body) = call(&app, get("/products")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        (
            body["page"].as_u64(),
            body["per_page"].as_u64(),
            body["total"].as_u64()
        ),
        (Some(1), Some(20), Some(PRODUCTS))
    );
    let ids: Vec<u64> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (1..=20).collect::<Vec<_>>());

    let (_, last) = call(&app, get("/products?page=4&per_page=30")).await;
    assert_eq!(
        last["items"].as_array().unwrap().len(),
        10,
        "100 products: page 4 of 30 holds 91..=100"
    );
    let (_, beyond) = call(&app, get("/products?page=9&per_page=30")).await;
    assert_eq!(beyond["items"], json!([]));
}

#[tokio::test]
async fn get_returns_the_product_with_an_etag_and_honours_if_none_match() {
    let (app, store) = router();
    let (res, body) = call(&app, get("/products/42")).await;
    assert_eq!(res.status(), 200);
    let stored = store.get(42).unwrap();
    assert_eq!(body["name"], stored.name);
    assert_eq!(res.headers()["etag"], stored.etag());

    let req = Request::get("/products/42")
        .header("if-none-match", stored.etag())
        .body(Body::empty())
        .unwrap();
    let (res, body) = call(&app, req).await;
    assert_eq!(res.status(), 304);
    assert!(body.is_null());

    let (res, body) = call(&app, get("/products/100000")).await;
    assert_problem(&res, &body, 404);
}

#[tokio::test]
async fn create_then_read_back_through_location() {
    let (app, _) = router();
    let (res, created) = call(&app, json("POST", "/products", &lamp())).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/products/{}", PRODUCTS + 1));
    assert_eq!(created["price"], 24.5);
    let (res, fetched) = call(&app, get(&location)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn put_replaces_and_if_match_refuses_stale_writes() {
    let (app, store) = router();
    let old_etag = store.get(5).unwrap().etag();
    let put = |etag: &str, body: serde_json::Value| {
        Request::put("/products/5")
            .header("content-type", "application/json")
            .header("if-match", etag)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (res, body) = call(&app, put(&old_etag, lamp())).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body["name"], "Desk Lamp");
    let new_etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, old_etag);

    // Another client still holding the old ETag must not overwrite the change.
    let (res, body) = call(
        &app,
        put(
            &old_etag,
            json!({"name":"Other","price":1,"stock":1,"category":"toys"}),
        ),
    )
    .await;
    assert_problem(&res, &body, 412);
    assert_eq!(store.get(5).unwrap().name, "Desk Lamp");

    let (res, _) = call(&app, put("*", lamp())).await;
    assert_eq!(res.status(), 200);
    let (res, body) = call(&app, json("PUT", "/products/100000", &lamp())).await;
    assert_problem(&res, &body, 404);
}

#[tokio::test]
async fn delete_removes_once_and_honours_if_match() {
    let (app, store) = router();
    let stale = Request::delete("/products/7")
        .header("if-match", "\"7-0\"")
        .body(Body::empty())
        .unwrap();
    let (res, body) = call(&app, stale).await;
    assert_problem(&res, &body, 412);
    assert!(store.get(7).is_some());

    let (res, _) = call(
        &app,
        Request::delete("/products/7").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(res.status(), 204);
    assert!(store.get(7).is_none());
    let (res, body) = call(
        &app,
        Request::delete("/products/7").body(Body::empty()).unwrap(),
    )
    .await;
    assert_problem(&res, &body, 404);
}

#[tokio::test]
async fn search_matches_text_case_insensitively_and_combines_filters() {
    let (app, store) = router();
    let target = store.get(13).unwrap();
    let word = target.name.split(' ').next_back().unwrap().to_uppercase();
    let (res, body) = call(&app, get(&format!("/search?q={word}&per_page=100"))).await;
    assert_eq!(res.status(), 200);
    let items = body["items"].as_array().unwrap();
    assert!(
        items.iter().any(|p| p["id"] == 13),
        "{word} should find product 13"
    );
    assert!(items.iter().all(|p| {
        let hay = format!("{} {}", p["name"], p["description"]).to_lowercase();
        hay.contains(&word.to_lowercase())
    }));

    let (_, body) = call(
        &app,
        get("/search?category=books&min_price=100&max_price=500.5&per_page=100"),
    )
    .await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(body["total"].as_u64().unwrap() as usize, items.len());
    for p in items {
        assert_eq!(p["category"], "books");
        let price = p["price"].as_f64().unwrap();
        assert!((100.0..=500.5).contains(&price), "{price}");
    }
    // Cross-check the count against the store itself.
    let expected = (1..=PRODUCTS)
        .filter_map(|id| store.get(id))
        .filter(|p| p.category.as_str() == "books" && (10_000..=50_050).contains(&p.price_cents))
        .count();
    assert_eq!(items.len(), expected);
}

#[tokio::test]
async fn error_endpoint_answers_the_requested_5xx() {
    let (app, _) = router();
    let (res, body) = call(&app, get("/error")).await;
    assert_problem(&res, &body, 500);
    let (res, body) = call(&app, get("/error?status=503")).await;
    assert_problem(&res, &body, 503);
}

#[tokio::test(start_paused = true)]
async fn slow_endpoint_waits_the_requested_time() {
    let (app, _) = router();
    let started = tokio::time::Instant::now();
    let (res, body) = call(&app, get("/slow?ms=2500")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body["slept_ms"], 2500);
    assert!(started.elapsed() >= std::time::Duration::from_millis(2500));
}

#[tokio::test(start_paused = true)]
async fn requests_beyond_the_timeout_get_503_problem() {
    let (app, _) = router();
    // Default request timeout is 10 s; /slow accepts up to 30 s.
    let (res, body) = call(&app, get("/slow?ms=20000")).await;
    assert_problem(&res, &body, 503);
    assert_eq!(body["type"], "urn:mop:problem:timeout");
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn probes_answer_and_readiness_fails_during_shutdown() {
    let store = std::sync::Arc::new(catalog::Store::seeded(1, 1));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let app = catalog::app(store, &Default::default(), shutdown.clone());
    assert_eq!(call(&app, get("/health")).await.0.status(), 200);
    assert_eq!(call(&app, get("/ready")).await.0.status(), 200);
    shutdown.cancel();
    let (res, body) = call(&app, get("/ready")).await;
    assert_problem(&res, &body, 503);
    assert_eq!(
        call(&app, get("/health")).await.0.status(),
        200,
        "liveness ignores shutdown"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let (app, _) = router();
    let req = Request::get("/products/1")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, req).await.0.headers()["x-request-id"], "abc-123");
    let (res, _) = call(&app, get("/products/1")).await;
    let generated = res.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(generated.len(), 32, "a uuid without dashes");
    // An id with spaces is not trusted, and errors carry an id too.
    let req = Request::get("/nope")
        .header("x-request-id", "bad id")
        .body(Body::empty())
        .unwrap();
    let (res, _) = call(&app, req).await;
    assert_ne!(res.headers()["x-request-id"], "bad id");
}
