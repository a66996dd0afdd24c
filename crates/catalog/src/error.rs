//! The service's one boundary error type, and how each case becomes a problem+json response.
//!
//! Every handler returns `Result<_, Error>`; the mapping below is the whole contract: a request that
//! cannot be read is the extractor's 400/413/415, one that breaks a rule is a 422 listing every
//! broken rule (body fields and query parameters alike), a missing product is a 404, a stale
//! `If-Match` a 412. Nothing a client sends can make it a 5xx — only `/error`, on request.

use axum::response::{IntoResponse, Response};
use common::http::conditional::precondition_failed;
use common::http::{FieldError, Problem};
use http::StatusCode;

use crate::store::StoreError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No product has this id.
    #[error("product {0} does not exist")]
    NotFound(u64),
    /// `If-Match` named another version than the current one (its ETag).
    #[error("If-Match does not match the current ETag {current}")]
    PreconditionFailed { current: String },
    /// The request parses but breaks rules; every one is listed.
    #[error("{} invalid fields", .0.len())]
    Validation(Vec<FieldError>),
    /// The request could not be read at all (malformed JSON, wrong content type, too large): the
    /// shared extractors' own answer, passed on once the preconditions have been checked.
    #[error(transparent)]
    Unreadable(#[from] Problem),
    /// `/error` was asked for this server error.
    #[error("error requested via /error")]
    Requested(StatusCode),
}

impl Error {
    /// One invalid field (or query parameter).
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => Self::NotFound(id),
            StoreError::PreconditionFailed { current } => Self::PreconditionFailed { current },
        }
    }
}

impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound(id) => Problem::not_found(Error::NotFound(id).to_string()),
            Error::PreconditionFailed { current } => precondition_failed(&current),
            Error::Validation(errors) => Problem::validation(errors),
            Error::Unreadable(problem) => problem,
            Error::Requested(status) => Problem::new(status, "error requested via /error"),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}
