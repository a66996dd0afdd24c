//! The HTTP surface of `catalog`: the routes, the OpenAPI document, and the handlers by concern.
//!
//! Every route is registered through `utoipa_axum::routes!` in [`api`], and `common::http::api` turns
//! that one list into both the router and the document, so a route cannot exist without its OpenAPI
//! description; OBI's `routes.patterns` is checked against the document's paths.

mod chaos;
mod products;
mod render;
mod search;

use std::sync::Arc;

use axum::Router;
use common::http::health::Health;
use common::http::layers::HttpArgs;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::store::Store;

pub use products::{ProductBody, ProductPage};

/// Handler state, shared by every request: the store and the rendered form of its products.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    rendered: Arc<render::Renderings>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "MOP catalog", description = "In-memory product catalog: MOP's HTTP reference service. \
        Every error body is application/problem+json (RFC 9457)."),
    components(schemas(common::http::Problem)),
    tags(
        (name = "products", description = "Create, read, update and delete products"),
        (name = "search", description = "Filtered, paginated product search"),
        (name = "chaos", description = "Troubleshooting scenarios: slow responses and server errors on demand"),
        (name = "health", description = "Kubernetes probes"),
        (name = "meta", description = "This API's own description"),
    )
)]
struct ApiDoc;

/// Builds the complete router: API routes, probes, `/openapi.json`, and the shared layers.
pub fn app(store: Arc<Store>, http: &HttpArgs, shutdown: CancellationToken) -> Router {
    let state = AppState {
        store,
        rendered: Arc::default(),
    };
    common::http::api::router(api(), state, Health::always_ready(shutdown), http)
}

/// The OpenAPI document, exactly as served on `/openapi.json` (and printed by `catalog openapi`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    common::http::api::document(api())
}

/// Every API route, with its description; the state is supplied by [`app`].
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(products::list, products::create))
        .routes(routes!(
            products::get_one,
            products::replace,
            products::delete
        ))
        .routes(routes!(search::search))
        .routes(routes!(chaos::slow))
        .routes(routes!(chaos::error))
}
