//! Writes: forwarded to `catalog` unchanged, then invalidated on success.
//!
//! The answer (status, body, `Content-Type`, `Location`, `ETag`) is catalog's, exactly. On a 2xx the
//! product's key is deleted — for `POST` too, in case a 404 for the new id was negatively cached —
//! the list/search generation is bumped and every replica is told over pub/sub.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::response::Response;
use common::http::Problem;
use common::http::extract::Path;
use http::{HeaderMap, HeaderValue, Method, header};
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use crate::error::Error;
use crate::upstream::WriteAnswer;

/// catalog's product input, which the gateway forwards unchanged (documentation type: catalog
/// validates it; the gateway documents it so its own document is complete). A deliberate twin of
/// `ProductInput` in crates/catalog/src/http/products.rs — services never depend on each other — so a
/// rule changed there is changed here too.
#[derive(Deserialize, ToSchema)]
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
    /// One of catalog's ten categories.
    #[schema(
        pattern = "^(books|electronics|home|garden|toys|sports|clothing|beauty|grocery|automotive)$",
        example = "books"
    )]
    category: String,
}

/// Create a product (forwarded to catalog).
#[utoipa::path(post, path = "/products", tag = "products",
    request_body(content = ProductInput, content_type = "application/json", description = "catalog's product input, forwarded unchanged"),
    responses(
        (status = 201, description = "Created: catalog's body, `Location` and `ETag`"),
        (status = 400, description = "Malformed JSON (from catalog)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json (from catalog)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (from catalog)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "catalog unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(cache): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, Error> {
    let answer = cache
        .upstream
        .write(Method::POST, "/products", &headers, body)
        .await?;
    if answer.entry.status == 201 {
        let id = answer
            .location
            .as_deref()
            .and_then(|l| l.rsplit('/').next())
            .and_then(|id| id.parse().ok());
        match id {
            Some(id) => {
                let _ = cache.invalidate(id, true).await;
            }
            None => tracing::warn!("catalog created a product without a usable Location"),
        }
    }
    Ok(relay(answer))
}

/// Replace a product (forwarded to catalog with `If-Match`).
#[utoipa::path(put, path = "/products/{id}", tag = "products",
    params(("id" = u64, Path, description = "Product id", maximum = 18446744073709551615_u64),
           ("If-Match" = Option<String>, Header, description = "Forwarded to catalog")),
    request_body(content = ProductInput, content_type = "application/json", description = "catalog's product input, forwarded unchanged"),
    responses(
        (status = 200, description = "Replaced: catalog's body and new `ETag`"),
        (status = 400, description = "Malformed JSON or id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` does not match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "catalog unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn replace(
    State(cache): State<AppState>,
    Path(id): Path<u64>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, Error> {
    write(cache, Method::PUT, id, headers, body).await
}

/// Delete a product (forwarded to catalog with `If-Match`).
#[utoipa::path(delete, path = "/products/{id}", tag = "products",
    params(("id" = u64, Path, description = "Product id", maximum = 18446744073709551615_u64)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a non-negative integer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`If-Match` does not match", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "catalog unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(cache): State<AppState>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    write(cache, Method::DELETE, id, headers, Bytes::new()).await
}

async fn write(
    cache: AppState,
    method: Method,
    id: u64,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let answer = cache
        .upstream
        .write(method, &format!("/products/{id}"), &headers, body)
        .await?;
    if (200..300).contains(&answer.entry.status) {
        let _ = cache.invalidate(id, true).await;
    }
    Ok(relay(answer))
}

/// The raw request body, forwarded as is. Its only rejection (body over `BODY_LIMIT` → 413, or a
/// broken upload → 400) is problem+json like every other error.
pub struct RawBody(Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|r| Problem::new(r.status(), r.body_text()))
    }
}

/// catalog's answer, unchanged (plus `Location` for creations).
fn relay(answer: WriteAnswer) -> Response {
    let mut response = answer.entry.to_response(crate::entry::CacheStatus::Bypass);
    let headers = response.headers_mut();
    headers.remove(&crate::entry::X_CACHE);
    if let Some(v) = answer.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, v);
    }
    response
}
