//! Conditional requests (RFC 9110 §13): `If-Match` for safe updates, `If-None-Match` for cheap re-reads.
//!
//! Order matters (RFC 9110 §13.2.1): a server evaluates the preconditions *before* it processes the
//! request content. So a handler that honours `If-Match` takes its body as
//! `Result<Json<_>, Problem>` and looks at it only after [`require_if_match`] passed: a stale ETag
//! with an invalid body is a 412 (your copy is stale), not a 422 about a body that would be refused
//! anyway. A missing resource still comes first (404): there is no ETag to compare with.

use http::header::{IF_MATCH, IF_NONE_MATCH};
use http::{HeaderMap, StatusCode};

use super::Problem;
use super::problem::types;

/// `Ok` when `If-Match` allows changing a resource whose ETag is `current`; otherwise the 412.
pub fn require_if_match(headers: &HeaderMap, current: &str) -> Result<(), Problem> {
    if if_match(headers, current) {
        Ok(())
    } else {
        Err(precondition_failed(current))
    }
}

/// The 412 answer: `If-Match` named another version than `current`.
pub fn precondition_failed(current: &str) -> Problem {
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        format!("If-Match does not match the current ETag {current}"),
    )
    .with_type(types::PRECONDITION_FAILED)
}

/// `If-Match` passes when absent, `*`, or listing the current ETag. Comparison is *strong*: a weak tag
/// (`W/"…"`) never matches, as the RFC requires for `If-Match`.
pub fn if_match(headers: &HeaderMap, current: &str) -> bool {
    let mut values = headers.get_all(IF_MATCH).iter().peekable();
    if values.peek().is_none() {
        return true;
    }
    tags(values).any(|tag| tag == "*" || tag == current)
}

/// `If-None-Match` matches (→ 304) when `*` or listing the current ETag, compared *weakly*.
pub fn if_none_match(headers: &HeaderMap, current: &str) -> bool {
    tags(headers.get_all(IF_NONE_MATCH).iter())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == current)
}

fn tags<'a>(values: impl Iterator<Item = &'a http::HeaderValue>) -> impl Iterator<Item = &'a str> {
    // A header that is not valid UTF-8 lists no tag we could have issued, so it simply matches nothing.
    values
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: http::HeaderName, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, http::HeaderValue::from_static(value));
        h
    }

    #[test]
    fn if_match_is_strong() {
        let cur = "\"1-2\"";
        assert!(if_match(&HeaderMap::new(), cur));
        assert!(if_match(&headers(IF_MATCH, "*"), cur));
        assert!(if_match(&headers(IF_MATCH, "\"1-1\", \"1-2\""), cur));
        assert!(!if_match(&headers(IF_MATCH, "\"1-1\""), cur));
        assert!(!if_match(&headers(IF_MATCH, "W/\"1-2\""), cur));
    }

    #[test]
    fn if_none_match_is_weak() {
        let cur = "\"1-2\"";
        assert!(if_none_match(&headers(IF_NONE_MATCH, "W/\"1-2\""), cur));
        assert!(!if_none_match(&headers(IF_NONE_MATCH, "\"1-1\""), cur));
        assert!(!if_none_match(&HeaderMap::new(), cur));
    }
}
