//! Troubleshooting endpoints: `/slow` and `/error` create latency and 5xx on demand, so the lab can
//! show what OBI reports for them (and what the request timeout does to a request that is too slow).

use std::time::Duration;

use common::http::Problem;
use common::http::extract::{Json, Query};

use crate::error::Error;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Longest delay `/slow` accepts: beyond the default request timeout on purpose, so the timeout path
/// can be demonstrated (`/slow?ms=20000` → 503).
const SLOW_MAX_MS: u64 = 30_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlowParams {
    /// Delay in milliseconds, 0–30000 (default 1500).
    #[param(minimum = 0, maximum = 30000, default = 1500)]
    ms: Option<u64>,
}

/// Body of a `/slow` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Slept {
    /// How long the server waited before answering.
    pub slept_ms: u64,
}

/// Answer after a delay. Delays longer than the server's request timeout end in 503.
#[utoipa::path(get, path = "/slow", tag = "chaos", params(SlowParams),
    responses(
        (status = 200, description = "Answered after the delay", body = Slept),
        (status = 400, description = "ms is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "ms is beyond 30000", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn slow(Query(p): Query<SlowParams>) -> Result<Json<Slept>, Error> {
    let ms = p.ms.unwrap_or(1500);
    if ms > SLOW_MAX_MS {
        return Err(Error::invalid(
            "ms",
            format!("must be between 0 and {SLOW_MAX_MS}"),
        ));
    }
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(Json(Slept { slept_ms: ms }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ErrorParams {
    /// The 5xx status to answer with (default 500).
    #[param(minimum = 500, maximum = 599, default = 500)]
    status: Option<u16>,
}

/// Answer with the requested server error, as problem+json.
#[utoipa::path(get, path = "/error", tag = "chaos", params(ErrorParams),
    responses(
        (status = "5XX", description = "The requested server error", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "status is not a number", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "status is not from 500 to 599", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn error(Query(p): Query<ErrorParams>) -> Error {
    let requested = p.status.unwrap_or(500);
    match StatusCode::from_u16(requested) {
        Ok(status) if status.is_server_error() => Error::Requested(status),
        _ => Error::invalid("status", "must be between 500 and 599"),
    }
}
