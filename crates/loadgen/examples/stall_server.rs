//! Benchmark target for `just bench-loadgen` (coordinated omission): an HTTP server that answers
//! instantly, except that it stalls *every* request for the first second of every ten — like a stop-the-
//! world pause. Under a steady open load of r req/s, 10 % of arrivals then wait a uniform 0–1 s, so the
//! honest p99 from intended time is ≈ 0.9 s; a closed-loop tool that stops sending during the stall
//! reports far less.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:18099".into());
    let start = Instant::now();
    let app = Router::new().route(
        "/",
        get(move || async move {
            let into_cycle = start.elapsed().as_millis() % 10_000;
            if into_cycle < 1000 {
                let rest = u64::try_from(1000 - into_cycle).unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(rest)).await;
            }
            "ok"
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
