//! A small real HTTP server for the runner tests: fixed statuses, and a route that stalls once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

/// Counters kept by the server itself, so tests check what really arrived.
#[derive(Debug, Default)]
pub struct Seen {
    pub requests: AtomicU64,
    pub traceparents: AtomicU64,
    stalled: AtomicBool,
}

pub async fn start() -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route("/boom", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        // The first request stalls for 1 s, like a GC pause or a lock convoy; later ones are instant.
        .route(
            "/stall",
            get(|State(seen): State<Arc<Seen>>| async move {
                if !seen.stalled.swap(true, Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                "ok"
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&seen),
            count,
        ))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

async fn count(
    State(seen): State<Arc<Seen>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    if req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(common::trace_context::trace_id)
        .is_some()
    {
        seen.traceparents.fetch_add(1, Ordering::SeqCst);
    }
    next.run(req).await
}
