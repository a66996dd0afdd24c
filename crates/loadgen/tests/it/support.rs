//! Servers for loadgen's tests, all on the one testkit harness: a small real HTTP server (fixed
//! statuses, a route that stalls once) and the real auth service.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use testkit::server::{Bound, Server};

/// Counters kept by the server itself, so tests check what really arrived.
#[derive(Debug, Default)]
pub struct Seen {
    pub requests: AtomicU64,
    pub traceparents: AtomicU64,
    stalled: AtomicBool,
}

/// The HTTP server and what it counts; it stops when the [`Server`] is dropped.
pub async fn start() -> (Server, Arc<Seen>) {
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
    let server = Server::start(|listener, shutdown| {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .into_future()
    })
    .await;
    (server, seen)
}

/// The real auth service with `users` demo users and cheap hashing (loadgen talks to it only over
/// the wire, as in the lab). Its users are hashed before it serves.
pub async fn auth(users: u32) -> Server {
    let bound = Bound::new().await;
    let auth = auth::Auth::new(
        &auth::Config::for_tests(users),
        auth::Clock::default(),
        bound.shutdown(),
    )
    .await
    .unwrap();
    bound.serve(|listener, _| auth.serve(listener))
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
