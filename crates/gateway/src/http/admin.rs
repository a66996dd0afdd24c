//! Cache administration: warm-up, manual invalidation and the counters.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use common::http::Problem;
use common::http::extract::{Json, Path, Query};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::error::Error;
use crate::stats::StatsBody;

/// Largest id range one warm-up may cover.
pub const WARM_MAX: u64 = 1000;

/// The id range to warm, inclusive.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WarmParams {
    /// First id.
    #[param(maximum = 18446744073709551615_u64)]
    from: u64,
    /// Last id (inclusive); at most 1000 ids per call.
    #[param(maximum = 18446744073709551615_u64)]
    to: u64,
}

/// Result of a warm-up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Warmed {
    /// Products fetched and stored.
    pub stored: u64,
    /// Ids catalog does not have (not stored).
    pub not_found: u64,
}

/// Fetch products `from..=to` from catalog (bounded concurrency) and store them in one pipeline.
#[utoipa::path(post, path = "/cache/warm", tag = "cache", params(WarmParams),
    responses(
        (status = 200, description = "Stored", body = Warmed),
        (status = 400, description = "Missing or non-numeric bounds", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "from > to, or more than 1000 ids", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "catalog or redis unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn warm(
    State(cache): State<AppState>,
    Query(p): Query<WarmParams>,
) -> Result<Json<Warmed>, Error> {
    if p.from > p.to || p.to - p.from >= WARM_MAX {
        return Err(Error::invalid(
            "to",
            format!("must be from `from` to `from` + {}", WARM_MAX - 1),
        ));
    }
    let (stored, not_found) = cache.warm(p.from, p.to).await?;
    Ok(Json(Warmed { stored, not_found }))
}

/// Drop one product from every cache level on every replica (`DEL` + `PUBLISH`).
#[utoipa::path(delete, path = "/cache/products/{id}", tag = "cache",
    params(("id" = u64, Path, description = "Product id", maximum = 18446744073709551615_u64)),
    responses(
        (status = 204, description = "Invalidated"),
        (status = 400, description = "The id is not a non-negative integer", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "redis unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn invalidate(
    State(cache): State<AppState>,
    Path(id): Path<u64>,
) -> Result<Response, Error> {
    cache.invalidate(id, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Counters since start.
#[utoipa::path(get, path = "/cache/stats", tag = "cache",
    responses((status = 200, description = "Counters since start", body = StatsBody)))]
pub async fn stats(State(cache): State<AppState>) -> Json<StatsBody> {
    Json(cache.stats.snapshot())
}
