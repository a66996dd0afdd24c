//! Test helpers: a router on an in-memory store, a real server on 127.0.0.1:0, and response helpers.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use catalog::{Config, Store};
use common::args::{CommonArgs, LogFormat};
use common::http::layers::HttpArgs;
use http::{Request, Response};
use http_body_util::BodyExt;
use serde_json::Value;
pub use testkit::server::{Server, client};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Products in the test catalog (ids 1..=100).
pub const PRODUCTS: u64 = 100;

/// A router over a fresh seeded store, with the store kept for direct inspection.
pub fn router() -> (Router, Arc<Store>) {
    let store = Arc::new(Store::seeded(PRODUCTS, 42));
    (
        catalog::app(
            Arc::clone(&store),
            &HttpArgs::default(),
            CancellationToken::new(),
        ),
        store,
    )
}

/// Sends one request through the router (no socket) and returns status, headers and parsed body.
pub async fn call(app: &Router, req: Request<Body>) -> (Response<()>, Value) {
    let response = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (Response::from_parts(parts, ()), json)
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

pub fn json(method: &str, uri: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Asserts a problem+json response with the given status and returns its body.
pub fn assert_problem(res: &Response<()>, body: &Value, status: u16) {
    assert_eq!(res.status().as_u16(), status, "body: {body}");
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    assert_eq!(body["status"], status);
    assert!(
        body["title"].is_string() && body["type"].is_string(),
        "{body}"
    );
}

pub fn config() -> Config {
    Config {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        seed_products: PRODUCTS,
        seed: 42,
        http: HttpArgs::default(),
        common: CommonArgs {
            log_format: LogFormat::Json,
            shutdown_grace: Duration::from_secs(10),
        },
        command: None,
    }
}

/// A real `catalog` server on 127.0.0.1:0 (the one testkit harness).
pub async fn start(config: Config) -> Server {
    Server::start(|listener, shutdown| catalog::run(config, listener, shutdown)).await
}
