//! `catalog`: an in-memory product catalog served over plain HTTP/1.1.
//!
//! It is the HTTP reference service of the lab: OBI observes it from the kernel as an HTTP server, so its
//! routes, status codes and latencies are exactly what the HTTP dashboard shows. It also sets the
//! pattern every other service follows: thin `main`, `run(config, listener, shutdown)`, `app(..)` for
//! tests, problem+json errors, and the shared layers from `common`.
//!
//! Reading order: [`config`] → [`domain`] (products and their validation rules) → [`store`] (the
//! in-memory store and its deterministic seed) → [`error`] (what becomes which 4xx) → [`http`]
//! (routes, handlers, OpenAPI).

pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod store;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use http::app;
pub use store::Store;

/// Seeds the store and serves the API on `listener` until `shutdown` is cancelled, then drains
/// in-flight requests for up to the configured grace period.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let store = Arc::new(Store::seeded(config.seed_products, config.seed));
    tracing::info!(
        products = config.seed_products,
        seed = config.seed,
        "catalog seeded"
    );
    let app = app(store, &config.http, shutdown.clone());
    common::http::serve::serve(listener, app, shutdown, config.common.shutdown_grace).await?;
    Ok(())
}
