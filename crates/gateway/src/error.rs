//! The boundary error of the gateway's handlers and its problem+json answer.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use common::http::Problem;
use http::StatusCode;

use crate::store::Unavailable;
use crate::upstream::UpstreamError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// An operation that needs Redis itself (warm-up, manual invalidation) while it is unusable.
    #[error("redis is unavailable")]
    Redis(#[from] Unavailable),
    #[error("{0}")]
    BadRequest(String),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let problem = match self {
            Self::Upstream(UpstreamError::Unavailable(detail)) => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail)
                    .with_retry_after(Duration::from_secs(1))
            }
            Self::Upstream(UpstreamError::BadGateway(detail)) => {
                Problem::new(StatusCode::BAD_GATEWAY, detail)
            }
            Self::Redis(_) => Problem::new(StatusCode::SERVICE_UNAVAILABLE, "redis is unavailable")
                .with_retry_after(Duration::from_secs(1)),
            Self::BadRequest(detail) => Problem::bad_request(detail),
        };
        problem.into_response()
    }
}
