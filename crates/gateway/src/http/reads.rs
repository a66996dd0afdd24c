//! Cached reads: `/products/{id}`, `/products`, `/search` and `/products/batch`.
//!
//! Query strings are parsed with the same typed rules as `catalog` (a non-number is a 400 here
//! already) and re-encoded in a fixed order, so `?per_page=5&page=2` and `?page=2&per_page=5` share
//! one cache key. Range checks stay `catalog`'s job: its 400 is passed through and never cached.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use common::http::extract::{Path, Query};
use common::http::{Problem, conditional};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use crate::cache::Read;
use crate::entry::X_CACHE;
use crate::error::Error;

/// Most ids one batch request may ask for.
pub const BATCH_MAX: usize = 100;

/// Read one product (catalog's body and ETag, byte for byte).
#[utoipa::path(get, path = "/products/{id}", tag = "products",
    params(("id" = u64, Path, description = "Product id", maximum = 18446744073709551615_u64),
           ("If-None-Match" = Option<String>, Header, description = "ETag(s) the client already has")),
    responses(
        (status = 200, description = "The product; `X-Cache: HIT|MISS|BYPASS`"),
        (status = 304, description = "Not modified since the given ETag"),
        (status = 400, description = "The id is not a non-negative integer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product (cached briefly)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "catalog answered something unusable", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Not cached and catalog unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_one(
    State(cache): State<AppState>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let (entry, status) = cache.read(&Read::Item(id)).await?;
    // Revalidation is answered from the cache too: same rule as catalog (weak comparison).
    if entry.status == 200
        && let Some(etag) = entry.etag.as_deref()
        && conditional::if_none_match(&headers, etag)
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        let h = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(X_CACHE.clone(), HeaderValue::from_static(status.header()));
        return Ok(response);
    }
    Ok(entry.to_response(status))
}

/// Paging parameters, as `catalog` takes them.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<u64>,
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u64>,
}

/// List products (a page of catalog's `GET /products`).
#[utoipa::path(get, path = "/products", tag = "products", params(Paging),
    responses(
        (status = 200, description = "A page of products; `X-Cache: HIT|MISS|BYPASS`"),
        (status = 400, description = "Paging not a number", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Paging out of range (from catalog)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Not cached and catalog unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(cache): State<AppState>,
    Query(p): Query<Paging>,
) -> Result<Response, Error> {
    let mut q = QueryString::default();
    q.opt("page", p.page).opt("per_page", p.per_page);
    let (entry, status) = cache.read(&Read::List(q.0)).await?;
    Ok(entry.to_response(status))
}

/// Search filters, as `catalog` takes them.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Text in the name or description (at most 200 characters).
    #[param(max_length = 200)]
    q: Option<String>,
    /// Only this category (one of catalog's ten).
    #[param(
        pattern = "^(books|electronics|home|garden|toys|sports|clothing|beauty|grocery|automotive)$"
    )]
    category: Option<String>,
    /// Lowest price, inclusive.
    #[param(minimum = 0)]
    min_price: Option<f64>,
    /// Highest price, inclusive; must not be below `min_price`.
    #[param(minimum = 0)]
    max_price: Option<f64>,
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000)]
    page: Option<u64>,
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u64>,
}

/// Search products (catalog's `GET /search`, cached).
#[utoipa::path(get, path = "/search", tag = "search", params(SearchParams),
    responses(
        (status = 200, description = "A page of matches; `X-Cache: HIT|MISS|BYPASS`"),
        (status = 400, description = "A parameter is malformed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is out of range (from catalog)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Not cached and catalog unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn search(
    State(cache): State<AppState>,
    Query(p): Query<SearchParams>,
) -> Result<Response, Error> {
    let mut q = QueryString::default();
    q.opt("q", p.q)
        .opt("category", p.category)
        .opt("min_price", p.min_price)
        .opt("max_price", p.max_price)
        .opt("page", p.page)
        .opt("per_page", p.per_page);
    let (entry, status) = cache.read(&Read::Search(q.0)).await?;
    Ok(entry.to_response(status))
}

/// Batch parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchParams {
    /// Comma-separated product ids, 1 to 100 of them (duplicates are answered once).
    #[param(pattern = r"^\s*[0-9]{1,19}\s*(,\s*[0-9]{1,19}\s*){0,99}$")]
    ids: String,
}

/// Read many products at once: one Redis `MGET`, misses fetched from catalog concurrently and
/// written back in one `MULTI`/`EXEC`. Body: `{"items":[<catalog bodies, in request order>],
/// "not_found":[ids]}`.
#[utoipa::path(get, path = "/products/batch", tag = "products", params(BatchParams),
    responses(
        (status = 200, description = "`{items: [product…], not_found: [id…]}`; `X-Cache: HIT` when every id was cached"),
        (status = 400, description = "Missing, empty or non-numeric ids", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than 100 ids", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "catalog answered something unusable", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A missing id could not be fetched: catalog unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn batch(
    State(cache): State<AppState>,
    Query(p): Query<BatchParams>,
) -> Result<Response, Error> {
    let ids = parse_ids(&p.ids)?;
    let (entries, status) = cache.batch(&ids).await?;
    // Built by hand so each item is catalog's body byte for byte (no re-serialisation).
    let mut body = Vec::from(&b"{\"items\":["[..]);
    let mut not_found = Vec::new();
    let mut first = true;
    for (id, entry) in &entries {
        match entry.status {
            200 => {
                if !first {
                    body.push(b',');
                }
                first = false;
                body.extend_from_slice(&entry.body);
            }
            404 => not_found.push(*id),
            other => {
                return Err(crate::upstream::UpstreamError::BadGateway(format!(
                    "catalog answered {other} for product {id}"
                ))
                .into());
            }
        }
    }
    body.extend_from_slice(b"],\"not_found\":");
    body.extend_from_slice(
        serde_json::to_string(&not_found)
            .unwrap_or_default()
            .as_bytes(),
    );
    body.push(b'}');
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(X_CACHE.clone(), HeaderValue::from_static(status.header()));
    Ok(response)
}

/// `1,2,3` → `[1, 2, 3]` (duplicates dropped, order kept); 400 when empty or not numbers, 422 when
/// too many.
fn parse_ids(raw: &str) -> Result<Vec<u64>, Error> {
    let mut ids = Vec::new();
    for part in raw.split(',') {
        let id: u64 = part.trim().parse().map_err(|_| {
            Error::BadRequest(format!(
                "ids must be comma-separated non-negative integers; got {part:?}"
            ))
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
        if ids.len() > BATCH_MAX {
            return Err(Error::invalid(
                "ids",
                format!("at most {BATCH_MAX} ids per batch"),
            ));
        }
    }
    Ok(ids)
}

/// A query string built in a fixed parameter order.
#[derive(Default)]
struct QueryString(String);

impl QueryString {
    fn opt(&mut self, name: &str, value: Option<impl ToString>) -> &mut Self {
        if let Some(value) = value {
            if !self.0.is_empty() {
                self.0.push('&');
            }
            self.0.push_str(name);
            self.0.push('=');
            encode(&value.to_string(), &mut self.0);
        }
        self
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(value: &str, out: &mut String) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_dedupe_and_reject_garbage() {
        assert_eq!(parse_ids("1,2, 3,2").unwrap(), vec![1, 2, 3]);
        assert!(parse_ids("").is_err());
        assert!(parse_ids("1,x").is_err());
        assert!(parse_ids("1,,2").is_err());
        assert!(parse_ids("-1").is_err());
        let many: Vec<String> = (0..=100).map(|i| i.to_string()).collect();
        assert!(parse_ids(&many.join(",")).is_err());
        assert_eq!(parse_ids(&many[..100].join(",")).unwrap().len(), 100);
    }

    #[test]
    fn query_strings_are_canonical_and_encoded() {
        let mut q = QueryString::default();
        q.opt("q", Some("a b&c"))
            .opt("page", None::<u64>)
            .opt("per_page", Some(5));
        assert_eq!(q.0, "q=a%20b%26c&per_page=5");
    }
}
