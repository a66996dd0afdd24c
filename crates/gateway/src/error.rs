//! The boundary error of the gateway's handlers and its problem+json answer.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use common::http::{FieldError, Problem};
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
    /// The request cannot be parsed (a non-number where a number belongs).
    #[error("{0}")]
    BadRequest(String),
    /// The request parses but breaks rules (too many ids, an empty range); every one is listed.
    #[error("{} invalid fields", .0.len())]
    Validation(Vec<FieldError>),
}

impl Error {
    /// One invalid query parameter.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
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
            Self::Validation(errors) => Problem::validation(errors),
        };
        problem.into_response()
    }
}
