//! The HTTP surface of `catalog`: the router, the OpenAPI document, and the handlers by concern.
//!
//! Every route is registered through `utoipa_axum::routes!`, so a route cannot exist without its
//! OpenAPI description; [`ROUTES`] lists the same templates for OBI's `routes.patterns` (a test checks
//! that both agree).

mod chaos;
mod conditional;
mod products;
mod render;
mod search;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use common::http::health::{self, Health};
use common::http::layers::{self, HttpArgs};
use http::header;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::store::Store;

pub use products::{ProductBody, ProductPage};

/// Every route template the service serves — what OBI's `routes.patterns` must list so spans and
/// metrics carry `http.route="/products/{id}"` rather than a raw path. Probes last: OBI ignores them.
pub const ROUTES: &[&str] = &[
    "/products",
    "/products/{id}",
    "/search",
    "/slow",
    "/error",
    "/openapi.json",
    "/health",
    "/ready",
];

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
    let (api, probes, doc) = parts(store, shutdown);
    // Serialised once: the document cannot change while the process runs.
    let doc: Arc<str> = doc.to_pretty_json().unwrap_or_default().into();
    layers::apply(api, probes.with_state(doc), http)
}

/// The OpenAPI document, exactly as served on `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts(Arc::new(Store::default()), CancellationToken::new()).2
}

/// The API router, the probe router (still waiting for the serialised document as its state) and
/// the OpenAPI document describing both.
fn parts(
    store: Arc<Store>,
    shutdown: CancellationToken,
) -> (Router, Router<Arc<str>>, utoipa::openapi::OpenApi) {
    let (api, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(products::list, products::create))
        .routes(routes!(
            products::get_one,
            products::replace,
            products::delete
        ))
        .routes(routes!(search::search))
        .routes(routes!(chaos::slow))
        .routes(routes!(chaos::error))
        .with_state(AppState {
            store,
            rendered: Arc::default(),
        })
        .split_for_parts();
    let (probes, probe_doc) = health::routes(Health::always_ready(shutdown))
        .routes(routes!(openapi_json))
        .split_for_parts();
    doc.merge(probe_doc);
    common::http::openapi::add_layer_responses(&mut doc, layers::PROBE_PATHS);
    (api, probes, doc)
}

/// This OpenAPI 3.1 document, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
async fn openapi_json(State(doc): State<Arc<str>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.to_string(),
    )
        .into_response()
}
