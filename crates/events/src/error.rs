//! The intake's one boundary error type, and how each case becomes a problem+json response.
//!
//! A client mistake is a 4xx (the extractors' 400/413/415, or a 422 listing every invalid field);
//! a broker that did not acknowledge is a 503 with `Retry-After` and the `event-id` to retry with —
//! the client may retry safely, because consumers dedupe on it.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use common::http::{FieldError, Problem};
use http::{HeaderValue, StatusCode};

use crate::producer::SendError;

/// Everything an intake handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body parses but breaks rules; every one is listed. Nothing was produced.
    #[error("{} invalid fields", .0.len())]
    Validation(Vec<FieldError>),
    /// The broker did not acknowledge the event in time.
    #[error("the broker did not acknowledge event {event_id}: {source}")]
    NotAcknowledged { event_id: String, source: SendError },
}

impl Error {
    /// One invalid field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Self::Validation(errors) => Problem::validation(errors).into_response(),
            Self::NotAcknowledged { event_id, source } => {
                tracing::warn!(%event_id, error = %source, "broker did not acknowledge the event");
                let mut response = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "the broker did not acknowledge event {event_id} ({source}); retry with the same event_id"
                    ),
                )
                .with_retry_after(Duration::from_secs(1))
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&event_id) {
                    response.headers_mut().insert("event-id", v);
                }
                response
            }
        }
    }
}
