//! `application/problem+json` errors (RFC 9457): the one error body every MOP REST endpoint returns.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

/// Media type of every error body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// Problem types we define ourselves. `about:blank` (RFC 9457 §4.2.1) is used for errors the status
/// code already explains; these URNs name the cases a client may want to branch on.
pub mod types {
    /// One or more fields of the request body are invalid; see `errors`.
    pub const VALIDATION: &str = "urn:mop:problem:validation";
    /// The client exceeded its request rate; see `Retry-After`.
    pub const RATE_LIMITED: &str = "urn:mop:problem:rate-limited";
    /// The server did not finish the request within its request timeout.
    pub const TIMEOUT: &str = "urn:mop:problem:timeout";
    /// `If-Match` did not match the resource's current ETag.
    pub const PRECONDITION_FAILED: &str = "urn:mop:problem:precondition-failed";
}

/// An RFC 9457 problem detail.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:mop:problem:validation",
    "title": "Unprocessable Entity",
    "status": 422,
    "detail": "2 invalid fields",
    "errors": [{"field": "name", "message": "must be 1 to 200 characters"},
               {"field": "price", "message": "must have at most 2 decimals"}]
}))]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` when the status code says it all.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short, human-readable summary of the problem type.
    pub title: String,
    /// The HTTP status code, repeated for convenience.
    pub status: u16,
    /// Explanation specific to this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For validation problems: every invalid field, not just the first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    pub errors: Vec<FieldError>,
    /// Sent as the `Retry-After` header (seconds), never in the body.
    #[serde(skip)]
    #[schema(ignore)]
    pub retry_after: Option<Duration>,
}

/// One invalid field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's name as it appears in the JSON body.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Problem {
    /// A problem of type `about:blank`: the title is the status code's reason phrase.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            type_uri: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: Some(detail.into()),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// 422 listing every invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => "1 invalid field".to_owned(),
            n => format!("{n} invalid fields"),
        };
        Self {
            errors,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail).with_type(types::VALIDATION)
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// Replaces `about:blank` with one of [`types`].
    pub fn with_type(mut self, type_uri: &str) -> Self {
        type_uri.clone_into(&mut self.type_uri);
        self
    }

    /// Adds a `Retry-After` header (whole seconds, rounded up, at least 1).
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The `Problem` schema and the schemas it references, for documents whose handlers never name it.
pub(crate) fn schemas() -> Vec<(
    String,
    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
)> {
    use utoipa::PartialSchema;
    let mut out = vec![(Problem::name().into_owned(), Problem::schema())];
    <Problem as ToSchema>::schemas(&mut out);
    out
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

/// So a service's error enum can carry an extractor's problem (`#[error(transparent)]`).
impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let retry_after = self.retry_after;
        // Serializing a struct of strings and integers cannot fail; fall back to an empty object anyway
        // rather than panic, because error paths must never crash the service.
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(after) = retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_lists_every_field_and_uses_its_type() {
        let p = Problem::validation(vec![FieldError::new("a", "x"), FieldError::new("b", "y")]);
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["status"], 422);
        assert_eq!(json["type"], types::VALIDATION);
        assert_eq!(json["errors"].as_array().unwrap().len(), 2);
        assert_eq!(json["detail"], "2 invalid fields");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let r = Problem::new(StatusCode::TOO_MANY_REQUESTS, "slow down")
            .with_retry_after(Duration::from_millis(1200))
            .into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        assert_eq!(r.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
    }
}
