//! Benchmark baseline for `just bench-catalog`: a bare axum handler that answers `GET /products/{id}`
//! with the same JSON as `catalog`, but with no store lookup, layers, logging or rate limiting.
//! The ratio catalog ÷ bare is what our middleware and store cost.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::response::IntoResponse;
use axum::routing::get;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:8091".into());
    // The same bytes catalog returns for product 42 with the default seed.
    let store = catalog::Store::seeded(1000, 42);
    let product = store
        .get(42)
        .ok_or_else(|| anyhow::anyhow!("seeded store lacks product 42"))?;
    let body: Arc<str> = serde_json::to_string(&catalog::http::ProductBody::from(product))?.into();
    let app = Router::new().route(
        "/products/{id}",
        get(move |Path(_id): Path<u64>| {
            let body = Arc::clone(&body);
            async move { ([("content-type", "application/json")], body.to_string()).into_response() }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
