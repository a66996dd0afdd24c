//! The HTTP surface of `gateway`: the routes, readiness, and the handlers by concern.
//!
//! Every route is registered through `utoipa_axum::routes!` in [`api`]; `common::http::api` turns that
//! one list into the router and the OpenAPI document, whose paths are OBI's `routes.patterns`.
//! Describing the API needs no cache: [`openapi`] builds the document without Redis or `catalog`.

mod admin;
mod reads;
mod writes;

use std::sync::Arc;

use axum::Router;
use common::http::health::Health;
use common::http::layers::HttpArgs;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::cache::Cache;

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

/// The complete router: API routes, probes, `/openapi.json` and the shared layers.
pub fn app(cache: AppState, http: &HttpArgs, shutdown: CancellationToken) -> Router {
    let ready = Arc::clone(&cache);
    let health = Health::new(shutdown, move || {
        let cache = Arc::clone(&ready);
        async move { readiness(&cache).await }
    });
    common::http::api::router(api(), cache, health, http)
}

/// The OpenAPI document, exactly as served on `/openapi.json` (and printed by `gateway openapi`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    common::http::api::document(api())
}

/// Every API route, with its description; the state (the cache) is supplied by [`app`].
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(reads::list, writes::create))
        .routes(routes!(reads::batch))
        .routes(routes!(reads::get_one, writes::replace, writes::delete))
        .routes(routes!(reads::search))
        .routes(routes!(admin::warm))
        .routes(routes!(admin::invalidate))
        .routes(routes!(admin::stats))
}

/// Ready when *something* can be served: `catalog` (every read and write) or Redis (cached reads).
async fn readiness(cache: &Cache) -> Result<(), String> {
    let (catalog, redis) = tokio::join!(cache.upstream.ready(), cache.redis.ping());
    match (catalog, redis) {
        (Ok(()), _) | (_, Ok(())) => Ok(()),
        (Err(catalog), Err(_)) => Err(format!("{catalog}; redis unavailable")),
    }
}
