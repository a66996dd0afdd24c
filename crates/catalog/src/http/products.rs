//! `/products` and `/products/{id}`: list, read, create, replace and delete, with ETags.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use common::http::extract::{Json, Path, Query};
use common::http::{FieldError, Problem, conditional};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::render::Rendered;
use crate::domain::{Category, NewProduct};
use crate::error::Error;

/// Largest page a client may ask for.
pub const PER_PAGE_MAX: u64 = 100;
/// Highest page number accepted (far beyond any real catalog; bounds the arithmetic).
pub const PAGE_MAX: u64 = 1_000_000;

/// A product as returned by the API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProductBody {
    #[schema(example = 42)]
    pub id: u64,
    #[schema(example = "Sturdy Lamp")]
    pub name: String,
    pub description: String,
    /// Price in currency units, at most 2 decimals.
    #[schema(example = 19.99)]
    pub price: f64,
    pub stock: u64,
    pub category: Category,
}

/// The body of `POST /products` and `PUT /products/{id}`. Every rule is checked and *all* violations
/// are reported in one 422. (Documentation type: the handler validates a raw JSON value so it can
/// report every bad field at once.) The gateway documents the same body with a deliberate twin,
/// `ProductInput` in crates/gateway/src/http/writes.rs (services never depend on each other): change
/// both together.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ProductInput {
    /// 1–200 characters, not only whitespace.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"\S",
        example = "Sturdy Lamp"
    )]
    name: String,
    /// Optional, at most 2000 characters.
    #[schema(max_length = 2000)]
    description: Option<String>,
    /// 0 to 1 000 000, at most 2 decimals.
    #[schema(minimum = 0, maximum = 1000000, multiple_of = 0.01, example = 19.99)]
    price: f64,
    /// 0 to 1 000 000 000.
    #[schema(minimum = 0, maximum = 1000000000)]
    stock: u64,
    category: Category,
}

/// One page of products.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProductPage {
    pub items: Vec<ProductBody>,
    pub page: u64,
    pub per_page: u64,
    /// Number of matching products over all pages.
    pub total: u64,
}

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000, default = 1)]
    pub page: Option<u64>,
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub per_page: Option<u64>,
}

/// Resolves paging parameters to `(page, per_page, offset)`, or a 422 naming every bad one — the
/// paging convention of every MOP service (docs/architecture.md).
pub fn paging(page: Option<u64>, per_page: Option<u64>) -> Result<(u64, u64, u64), Error> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(20);
    let mut errors = Vec::new();
    if !(1..=PAGE_MAX).contains(&page) {
        errors.push(FieldError::new(
            "page",
            format!("must be between 1 and {PAGE_MAX}"),
        ));
    }
    if !(1..=PER_PAGE_MAX).contains(&per_page) {
        errors.push(FieldError::new(
            "per_page",
            format!("must be between 1 and {PER_PAGE_MAX}"),
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok((page, per_page, (page - 1) * per_page))
}

/// List products in id order.
#[utoipa::path(get, path = "/products", tag = "products", params(Paging),
    responses(
        (status = 200, description = "A page of products", body = ProductPage),
        (status = 400, description = "Paging is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Paging out of range, every bad parameter listed in `errors`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Query(p): Query<Paging>,
) -> Result<Json<ProductPage>, Error> {
    let (page, per_page, offset) = paging(p.page, p.per_page)?;
    let result = state.store.list(offset, per_page);
    let items = result
        .items
        .iter()
        .map(|p| ProductBody::from(&**p))
        .collect();
    Ok(Json(ProductPage {
        items,
        page,
        per_page,
        total: result.total,
    }))
}

/// Read one product. Send `If-None-Match` with a previous `ETag` to get a 304 when it has not changed.
#[utoipa::path(get, path = "/products/{id}", tag = "products",
    params(("id" = u64, Path, description = "Product id", maximum = 18446744073709551615_u64),
           ("If-None-Match" = Option<String>, Header, description = "ETag(s) the client already has")),
    responses(
        (status = 200, description = "The product", body = ProductBody,
         headers(("ETag" = String, description = "Entity tag of this version"))),
        (status = 304, description = "Not modified since the given ETag",
         headers(("ETag" = String, description = "Entity tag of this version"))),
        (status = 400, description = "The id is not a non-negative integer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let product = state.store.get(id).ok_or(Error::NotFound(id))?;
    let rendered = state.rendered.get(&product);
    if conditional::if_none_match(&headers, rendered.etag_str()) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, rendered.etag)]).into_response());
    }
    Ok(respond(StatusCode::OK, rendered, None))
}

/// Create a product.
#[utoipa::path(post, path = "/products", tag = "products",
    request_body(content = ProductInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = ProductBody,
         headers(("Location" = String, description = "URL of the new product"),
                 ("ETag" = String, description = "Entity tag of this version"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than the limit (64 KiB)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all listed in `errors`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, Error> {
    let new = NewProduct::from_json(&body).map_err(Error::Validation)?;
    let product = state.store.create(new);
    tracing::info!(product_id = product.id, "product created");
    let location = format!("/products/{}", product.id);
    Ok(respond(
        StatusCode::CREATED,
        state.rendered.get(&product),
        Some(location),
    ))
}

/// Replace a product. Send `If-Match` with the `ETag` you read to avoid overwriting someone else's change.
/// A stale `If-Match` is a 412 whatever the body (preconditions come first, RFC 9110 §13.2.1).
#[utoipa::path(put, path = "/products/{id}", tag = "products",
    params(("id" = u64, Path, description = "Product id", maximum = 18446744073709551615_u64),
           ("If-Match" = Option<String>, Header, description = "Only update if the current ETag is one of these (or `*`)")),
    request_body(content = ProductInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced", body = ProductBody,
         headers(("ETag" = String, description = "Entity tag of the new version"))),
        (status = 400, description = "Malformed JSON or id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` does not match the current ETag", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than the limit (64 KiB)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Content-Type is not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, all listed in `errors`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn replace(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    headers: HeaderMap,
    body: Result<Json<serde_json::Value>, Problem>,
) -> Result<Response, Error> {
    // RFC 9110 §13.2.1: 404, then the precondition, and only then the content.
    let current = state.store.get(id).ok_or(Error::NotFound(id))?;
    conditional::require_if_match(&headers, &current.etag())?;
    let Json(body) = body?;
    let new = NewProduct::from_json(&body).map_err(Error::Validation)?;
    // Checked again under the store's lock: the product may have changed since the first look.
    let product = state
        .store
        .replace(id, new, |p| conditional::if_match(&headers, &p.etag()))?;
    tracing::info!(
        product_id = id,
        version = product.version,
        "product replaced"
    );
    Ok(respond(StatusCode::OK, state.rendered.get(&product), None))
}

/// Delete a product. Honours `If-Match` like `PUT`.
#[utoipa::path(delete, path = "/products/{id}", tag = "products",
    params(("id" = u64, Path, description = "Product id", maximum = 18446744073709551615_u64),
           ("If-Match" = Option<String>, Header, description = "Only delete if the current ETag is one of these (or `*`)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a non-negative integer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` does not match the current ETag", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Result<StatusCode, Error> {
    state
        .store
        .delete(id, |p| conditional::if_match(&headers, &p.etag()))?;
    state.rendered.forget(id);
    tracing::info!(product_id = id, "product deleted");
    Ok(StatusCode::NO_CONTENT)
}

fn respond(status: StatusCode, rendered: Rendered, location: Option<String>) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        rendered.body,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::ETAG, rendered.etag);
    // Locations are built from digits and ASCII only, so they are always valid header values.
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, v);
    }
    response
}
