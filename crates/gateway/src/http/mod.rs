//! The HTTP surface of `gateway`: the router, readiness, and the handlers by concern.
//!
//! Every route is registered through `utoipa_axum::routes!` so it is documented; [`ROUTES`] lists
//! the same templates for OBI's `routes.patterns`.

mod admin;
mod reads;
mod writes;

use std::sync::Arc;

use axum::Router;
use common::http::health::{self, Health};
use common::http::layers::{self, HttpArgs};
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cache::Cache;

/// Every route template the service serves (for OBI's `routes.patterns`). Probes last.
pub const ROUTES: &[&str] = &[
    "/products",
    "/products/batch",
    "/products/{id}",
    "/search",
    "/cache/warm",
    "/cache/products/{id}",
    "/cache/stats",
    "/health",
    "/ready",
];

/// Handler state: the cache, shared by every request.
pub type AppState = Arc<Cache>;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "MOP gateway",
        description = "Cache-aside gateway in front of catalog (Redis + in-process L1, \
        pub/sub invalidation). Read bodies are catalog's, byte for byte; `X-Cache` says HIT, MISS or BYPASS."
    ),
    components(schemas(common::http::Problem))
)]
struct ApiDoc;

/// The complete router: API routes, probes and the shared layers.
pub fn app(cache: AppState, http: &HttpArgs, shutdown: CancellationToken) -> Router {
    let (api, probes, _) = parts(cache, shutdown);
    layers::apply(api, probes, http)
}

/// The OpenAPI document of the gateway.
pub fn openapi(cache: AppState) -> utoipa::openapi::OpenApi {
    parts(cache, CancellationToken::new()).2
}

fn parts(
    cache: AppState,
    shutdown: CancellationToken,
) -> (Router, Router, utoipa::openapi::OpenApi) {
    let (api, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(reads::list, writes::create))
        .routes(routes!(reads::batch))
        .routes(routes!(reads::get_one, writes::replace, writes::delete))
        .routes(routes!(reads::search))
        .routes(routes!(admin::warm))
        .routes(routes!(admin::invalidate))
        .routes(routes!(admin::stats))
        .with_state(Arc::clone(&cache))
        .split_for_parts();
    let ready = Arc::clone(&cache);
    let (probes, probe_doc) = health::routes(Health::new(shutdown, move || {
        let cache = Arc::clone(&ready);
        async move { readiness(&cache).await }
    }))
    .split_for_parts();
    doc.merge(probe_doc);
    (api, probes, doc)
}

/// Ready when *something* can be served: `catalog` (every read and write) or Redis (cached reads).
async fn readiness(cache: &Cache) -> Result<(), String> {
    let (catalog, redis) = tokio::join!(cache.upstream.ready(), cache.redis.ping());
    match (catalog, redis) {
        (Ok(()), _) | (_, Ok(())) => Ok(()),
        (Err(catalog), Err(_)) => Err(format!("{catalog}; redis unavailable")),
    }
}
