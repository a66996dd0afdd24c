//! Per-request observability without an SDK: request id, trace id, and one access-log line.
//!
//! OBI produces the spans and metrics from the kernel; what a service adds is the *log* side of the
//! story: a `request_id` echoed to the client, the `trace_id` of an incoming `traceparent` (the trace OBI
//! will report for this request) and the route template, so a log line, a trace and a dashboard panel
//! can be joined by hand.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderName, HeaderValue};
use tracing::Instrument;

use crate::trace_context;

/// Header carrying the request id, accepted from the client or generated, and always echoed back.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of the current request, for handlers that want to log or return it.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

/// Middleware (use with `axum::middleware::from_fn`): assigns the request id, opens a span carrying
/// `request_id` and `trace_id` for everything logged while handling the request, and logs one
/// `access` line with method, route template, status and latency when the response is ready.
pub async fn observe(mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let request_id = req
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|v| acceptable_request_id(v))
        .cloned()
        .unwrap_or_else(|| {
            let id = uuid::Uuid::new_v4().simple().to_string();
            HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("invalid"))
        });
    let trace_id = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(trace_context::trace_id)
        .map(str::to_owned);
    // The route *template* (`/products/{id}`), never the raw path: it is what OBI's `routes.patterns`
    // reports as `http.route`, and raw paths would make log cardinality unbounded.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = req.method().clone();
    let rid = request_id.to_str().unwrap_or_default().to_owned();
    req.extensions_mut().insert(RequestId(request_id.clone()));

    let span = tracing::info_span!(
        "request",
        request_id = %rid,
        trace_id = trace_id.as_deref(),
    );
    let mut response = next.run(req).instrument(span).await;
    response
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), request_id);

    let status = response.status().as_u16();
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        target: "access",
        request_id = %rid,
        method = %method,
        route = %route,
        status,
        latency_ms,
        trace_id = trace_id.as_deref(),
        "request completed"
    );
    response
}

/// A client-supplied id is kept if it is short printable ASCII; anything else (empty, huge, control
/// characters) is replaced, so a hostile header cannot bloat or corrupt our logs.
fn acceptable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_bounded_printable_ascii() {
        assert!(acceptable_request_id(&HeaderValue::from_static("abc-123")));
        assert!(!acceptable_request_id(&HeaderValue::from_static("")));
        assert!(!acceptable_request_id(&HeaderValue::from_static(
            "has space"
        )));
        assert!(!acceptable_request_id(
            &HeaderValue::from_str(&"x".repeat(129)).unwrap()
        ));
    }
}
