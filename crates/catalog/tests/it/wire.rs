//! Behaviour that only exists on a real socket: rate limiting per client IP, the request timeout, the
//! body limit, and graceful shutdown.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{client, config, start};

#[tokio::test]
async fn rate_limit_answers_429_problem_with_retry_after_and_spares_probes() {
    let mut cfg = config();
    cfg.http.rate_limit_per_second = 1;
    cfg.http.rate_limit_burst = 3;
    let server = start(cfg).await;
    let http = client();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            http.get(format!("{}/products/1", server.url))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(&statuses[..3], [200, 200, 200], "the burst is allowed");
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");

    let res = http
        .get(format!("{}/products/2", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "urn:mop:problem:rate-limited");

    // Probes are exempt: a busy client must not make Kubernetes restart the pod.
    for _ in 0..5 {
        assert_eq!(
            http.get(format!("{}/health", server.url))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(
            http.get(format!("{}/ready", server.url))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn slow_requests_past_the_timeout_get_503_and_fast_ones_pass() {
    let mut cfg = config();
    cfg.http.request_timeout = Duration::from_millis(300);
    let server = start(cfg).await;
    let http = client();
    let res = http
        .get(format!("{}/slow?ms=5000", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "urn:mop:problem:timeout");
    let res = http
        .get(format!("{}/slow?ms=10", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn oversized_bodies_get_413_over_the_wire() {
    let server = start(config()).await;
    let body = format!(
        r#"{{"name":"{}","price":1,"stock":1,"category":"books"}}"#,
        "x".repeat(65 * 1024)
    );
    let res = client()
        .post(format!("{}/products", server.url))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    // Nothing was created: the next id is still free.
    let res = client()
        .get(format!(
            "{}/products/{}",
            server.url,
            crate::support::PRODUCTS + 1
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    server.stop().await.unwrap();
}

/// Sends a request on an already-accepted keep-alive connection and returns the raw response text.
async fn request(conn: &mut TcpStream, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n");
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let n = conn.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_refuses_new_connections() {
    let mut server = start(config()).await;
    // A first request proves the server has accepted this connection, so the in-flight request below
    // cannot be lost in the listen backlog when shutdown starts.
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    assert!(
        request(&mut conn, "/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let in_flight = tokio::spawn(async move { request(&mut conn, "/slow?ms=1500").await });
    // Give the server a moment to read the request line; the request itself lasts 1.5 s.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.cancel();

    // The listener closes promptly: new connections are refused while the slow request still runs.
    let mut refused = false;
    for _ in 0..50 {
        if TcpStream::connect(server.addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused,
        "new connections must be refused once shutdown starts"
    );
    assert!(
        !in_flight.is_finished(),
        "the slow request is still in flight"
    );

    let response = in_flight.await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""slept_ms":1500"#), "{response}");
    server.wait().await.unwrap();
}

#[tokio::test]
async fn shutdown_gives_up_on_requests_that_outlast_the_grace_period() {
    let mut cfg = config();
    cfg.common.shutdown_grace = Duration::from_millis(200);
    let server = start(cfg).await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    assert!(
        request(&mut conn, "/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let in_flight = tokio::spawn(async move { request(&mut conn, "/slow?ms=8000").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // run() returns Ok once the grace period is over, without waiting for the 8 s request...
    server.stop().await.unwrap();
    // ...which never got an answer.
    assert!(!in_flight.is_finished() || !in_flight.await.unwrap().starts_with("HTTP/1.1 200"));
}

async fn status(http: &reqwest::Client, url: String) -> u16 {
    http.get(url).send().await.unwrap().status().as_u16()
}

async fn json(http: &reqwest::Client, url: String) -> Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn crud_search_and_chaos_work_over_the_wire() {
    let server = start(config()).await;
    let (http, url) = (client(), server.url.clone());
    let body =
        serde_json::json!({"name": "Wire Lamp", "price": 12.5, "stock": 3, "category": "home"});
    let replacement =
        serde_json::json!({"name": "Wire Lamp 2", "price": 13, "stock": 4, "category": "home"});

    let created = http
        .post(format!("{url}/products"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    let item = format!("{url}{location}");

    let fetched = http.get(&item).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers()["etag"].to_str().unwrap(), etag);
    let not_modified = http
        .get(&item)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);

    let put = |tag: &str| {
        http.put(&item)
            .header("if-match", tag)
            .json(&replacement)
            .send()
    };
    assert_eq!(put(&etag).await.unwrap().status(), 200);
    assert_eq!(
        put(&etag).await.unwrap().status(),
        412,
        "the old ETag no longer matches"
    );

    let found = json(
        &http,
        format!("{url}/search?q=wire%20lamp%202&category=home"),
    )
    .await;
    assert_eq!(found["total"], 1);
    let page = json(&http, format!("{url}/products?page=2&per_page=50")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 50);
    assert_eq!(page["total"].as_u64(), Some(crate::support::PRODUCTS + 1));

    assert_eq!(http.delete(&item).send().await.unwrap().status(), 204);
    assert_eq!(status(&http, item).await, 404);
    assert_eq!(status(&http, format!("{url}/error?status=502")).await, 502);
    assert_eq!(
        json(&http, format!("{url}/slow?ms=20")).await["slept_ms"],
        20
    );
    assert_eq!(status(&http, format!("{url}/ready")).await, 200);
    assert_eq!(
        json(&http, format!("{url}/openapi.json")).await["openapi"],
        "3.1.0"
    );
    server.stop().await.unwrap();
}
