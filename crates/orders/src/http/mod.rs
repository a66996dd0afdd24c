//! The REST API: the router, the OpenAPI document, and what the handlers share (state, paging).
//!
//! Routes are listed once, here, in [`api`], as templates (`/orders/{id}`); `common::http::api` turns
//! that list into the router and the document, whose paths are the strings OBI's `routes.patterns`
//! must contain to report `http.route` (see docs/orders.md).

mod customers;
mod orders;
mod reports;

use std::ops::RangeInclusive;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use common::http::FieldError;
use common::http::health::Health;
use common::http::layers::HttpArgs;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::Db;
use crate::error::{Error, Result};
use crate::store::Page;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "MOP orders",
        description = "Customers, orders and reports over PostgreSQL. Includes an N+1 scenario \
                       (`/customers/{id}/orders?include=items&strategy=`) and a slow-query scenario \
                       (`/customers/search` vs `/customers/lookup`) for OBI to observe."
    ),
    tags(
        (name = "customers", description = "Customers and email searches"),
        (name = "orders", description = "Orders, their items and their life cycle"),
        (name = "reports", description = "Aggregations over orders"),
        (name = "health", description = "Liveness and readiness probes"),
    )
)]
struct ApiDoc;

/// The API routes with their OpenAPI description (state still to be supplied).
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(customers::create))
        .routes(routes!(customers::get))
        .routes(routes!(customers::orders))
        .routes(routes!(customers::search))
        .routes(routes!(customers::lookup))
        .routes(routes!(orders::create, orders::list))
        .routes(routes!(orders::get, orders::patch, orders::delete))
        .routes(routes!(reports::top_customers))
        .routes(routes!(reports::daily_revenue))
}

/// The complete service: API, probes, `/openapi.json`, wrapped in the standard layers.
pub fn app(state: AppState, health: Health, http: &HttpArgs) -> Router {
    let api = api().route_layer(middleware::from_fn_with_state(
        state.db.clone(),
        require_schema,
    ));
    common::http::api::router(api, state, health, http)
}

/// The OpenAPI document, exactly as served on `/openapi.json` (and printed by `orders openapi`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    common::http::api::document(api())
}

/// Until migrations have run every API request is a fast 503 — not a 500 about a missing table.
async fn require_schema(State(db): State<Db>, req: Request, next: Next) -> Response {
    match db.check_schema() {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// A whole-number parameter within `range`, `default` when absent; a value outside adds a field error.
/// Every paging and limit parameter of the API is one of these.
pub fn bounded(
    name: &str,
    value: Option<u32>,
    default: u32,
    range: RangeInclusive<u32>,
    errors: &mut Vec<FieldError>,
) -> u32 {
    let value = value.unwrap_or(default);
    if !range.contains(&value) {
        let (low, high) = range.into_inner();
        errors.push(FieldError::new(
            name,
            format!("must be between {low} and {high}"),
        ));
    }
    value
}

/// `?page=&per_page=` of every paginated endpoint: page 1 to 10000 (default 1), per_page 1 to 100
/// (default 20). The query structs document the same bounds for the OpenAPI document.
pub fn paging(page: Option<u32>, per_page: Option<u32>, errors: &mut Vec<FieldError>) -> Page {
    Page {
        page: bounded("page", page, 1, 1..=10_000, errors),
        per_page: bounded("per_page", per_page, 20, 1..=100, errors),
    }
}

/// A page of results; `has_more` says whether the next page has any (no `count(*)` needed).
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub page: u32,
    pub per_page: u32,
    pub has_more: bool,
    /// The results (named `data`, not `items`, so it never collides with an order's `items`).
    pub data: Vec<T>,
}

impl<T> Paged<T> {
    /// Builds the page from `rows` fetched with `LIMIT per_page + 1`.
    pub fn from_rows<R>(page: Page, mut rows: Vec<R>, map: impl FnMut(R) -> T) -> Self {
        let has_more = rows.len() > page.per_page as usize;
        rows.truncate(page.per_page as usize);
        Self {
            page: page.page,
            per_page: page.per_page,
            has_more,
            data: rows.into_iter().map(map).collect(),
        }
    }
}

/// Returns the collected field errors as one 422, or `Ok` when there are none.
pub fn check(errors: Vec<FieldError>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}
