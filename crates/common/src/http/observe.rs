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
use http::HeaderValue;
use tracing::Instrument;

use crate::trace_context;

/// Header carrying the request id, accepted from the client or generated, and always echoed back.
pub use crate::request_id::HEADER as X_REQUEST_ID;

/// The request id of the current request, for handlers that want to log or return it.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

/// Middleware (use with `axum::middleware::from_fn`): assigns the request id, opens a span carrying
/// `request_id` and `trace_id` for everything logged while handling the request, and logs one
/// `access` line with method, route template, status and latency when the response is ready.
pub async fn observe(req: Request, next: Next) -> Response {
    around(req, |req| next.run(req)).await
}

/// The body of [`observe`], around any inner handling — so [`super::layers`] can run the rest of the
/// standard stack inside the same middleware instead of paying for one more boxed layer per request.
pub async fn around<F, Fut>(mut req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let start = Instant::now();
    let request_id = crate::request_id::accept_or_generate(req.headers());
    let trace_id = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(trace_context::trace_id)
        .map(str::to_owned);
    // The route *template* (`/products/{id}`), never the raw path: it is what OBI's `routes.patterns`
    // reports as `http.route`, and raw paths would make log cardinality unbounded.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    req.extensions_mut().insert(RequestId(request_id.clone()));

    let rid = request_id.to_str().unwrap_or_default();
    let span = tracing::info_span!("request", request_id = rid, trace_id = trace_id.as_deref());
    let mut response = inner(req).instrument(span).await;

    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        target: "access",
        request_id = request_id.to_str().unwrap_or_default(),
        method = method.as_str(),
        // The route *template* (`/products/{id}`), never the raw path: it is what OBI's
        // `routes.patterns` reports as `http.route`, and raw paths would make log cardinality unbounded.
        route = route.as_ref().map_or("unmatched", MatchedPath::as_str),
        status = response.status().as_u16(),
        latency_ms,
        trace_id = trace_id.as_deref(),
        "request completed"
    );
    response
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), request_id);
    response
}
