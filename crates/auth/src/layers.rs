//! The tower layer around every gRPC service on the server: request id, trace id, deadline, and one
//! access-log line per call with the final gRPC code — no telemetry SDK (OBI makes the spans).
//!
//! The log line is written when the response *body* ends, not when the headers leave: a unary call's
//! status travels in the trailers, and a stream's status is only known when the stream ends, so that
//! is when the line has its real code and the call's real duration.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use tonic::{Code, Status};

/// Metadata key carrying the request id, accepted from the client or generated, always echoed back
/// (the rule is common's, shared with every HTTP service).
pub const X_REQUEST_ID: &str = common::request_id::NAME;

/// Adds [`Observe`] to a service.
#[derive(Debug, Clone, Copy, Default)]
pub struct ObserveLayer;

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe { inner }
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
}

/// The client's deadline from `grpc-timeout` metadata (`<up to 8 digits><H|M|S|m|u|n>`), if any
/// and well-formed; a malformed value is ignored as the gRPC spec's "no deadline".
pub fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for Observe<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Body + Default + Unpin + Send + 'static,
{
    type Response = Response<ObservedBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let start = Instant::now();
        let headers = request.headers();
        let request_id = common::request_id::accept_or_generate(headers);
        let trace_id = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(common::trace_context::trace_id)
            .unwrap_or_default()
            .to_owned();
        // The deadline is fixed *now*, before tonic's own `grpc-timeout` timer (which answers
        // CANCELLED) starts, so ours always fires first and the client gets DEADLINE_EXCEEDED.
        let deadline = grpc_timeout(headers).map(|t| tokio::time::Instant::now() + t);
        let path = request.uri().path().to_owned();
        request
            .headers_mut()
            .insert(X_REQUEST_ID, request_id.clone());
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = match deadline {
                None => call.await?,
                Some(at) => match tokio::time::timeout_at(at, call).await {
                    Ok(response) => response?,
                    Err(_) => {
                        Status::deadline_exceeded("deadline exceeded before the call completed")
                            .into_http()
                    }
                },
            };
            let (mut parts, body) = response.into_parts();
            parts.headers.insert(X_REQUEST_ID, request_id.clone());
            let log = AccessLog {
                path,
                request_id: request_id.to_str().unwrap_or_default().to_owned(),
                trace_id,
                start,
                // A trailers-only response (every error tonic returns) has the status in the headers.
                code: status_code(&parts.headers),
                http_status: parts.status.as_u16(),
            };
            Ok(Response::from_parts(
                parts,
                ObservedBody {
                    inner: body,
                    log: Some(log),
                },
            ))
        })
    }
}

fn status_code(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    Some(Code::from_i32(value.parse().ok()?))
}

/// What the access-log line needs, carried until the response body ends.
#[derive(Debug)]
struct AccessLog {
    path: String,
    request_id: String,
    trace_id: String,
    start: Instant,
    code: Option<Code>,
    http_status: u16,
}

impl AccessLog {
    fn write(self, finished: bool) {
        let (service, method) = self
            .path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or(("", self.path.as_str()));
        // No status by the time the body is dropped unfinished means the client went away (or the
        // connection died): gRPC calls that CANCELLED. A non-gRPC request has no code at all.
        let code = match (self.code, finished) {
            (Some(code), _) => code,
            (None, false) => Code::Cancelled,
            (None, true) if self.http_status == 200 => Code::Ok,
            (None, true) => Code::Unknown,
        };
        tracing::info!(
            target: "access",
            request_id = %self.request_id,
            trace_id = %self.trace_id,
            route = %self.path,
            service,
            method,
            status = code as i32,
            grpc_code = code_name(code),
            latency_ms = self.start.elapsed().as_secs_f64() * 1000.0,
            "rpc completed"
        );
    }
}

pub use proto::code_name;

/// The response body, passed through unchanged; it notes the `grpc-status` trailer and writes the
/// access log when the body ends or is dropped.
#[derive(Debug)]
pub struct ObservedBody<B> {
    inner: B,
    log: Option<AccessLog>,
}

impl<B> Default for ObservedBody<B>
where
    B: Default,
{
    fn default() -> Self {
        Self {
            inner: B::default(),
            log: None,
        }
    }
}

impl<B: Body + Unpin> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(trailers), Some(log)) = (frame.trailers_ref(), self.log.as_mut()) {
                    log.code = status_code(trailers).or(log.code);
                }
            }
            Poll::Ready(None) => {
                if let Some(log) = self.log.take() {
                    log.write(true);
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for ObservedBody<B> {
    fn drop(&mut self) {
        if let Some(log) = self.log.take() {
            // Trailers-only responses are complete without ever being polled to the end.
            let finished = log.code.is_some();
            log.write(finished);
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn timeout(v: &'static str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-timeout", HeaderValue::from_static(v));
        grpc_timeout(&headers)
    }

    /// Collects everything the JSON formatter writes, for asserting on log lines.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_access_log_carries_request_id_trace_id_route_and_final_code() {
        use tower::{Layer, ServiceExt};
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        // A handler answering trailers-only UNAUTHENTICATED, as tonic does for errors.
        let handler = tower::service_fn(|_req: Request<()>| async {
            Ok::<_, std::convert::Infallible>(
                Status::unauthenticated("no").into_http::<tonic::body::Body>(),
            )
        });
        let request = Request::post("/mop.auth.v1.AuthService/Logout")
            .header(X_REQUEST_ID, "req-7")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(())
            .unwrap();
        let response = ObserveLayer.layer(handler).oneshot(request).await.unwrap();
        assert_eq!(response.headers()[X_REQUEST_ID], "req-7");
        drop(response);

        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = logs
            .lines()
            .find_map(|l| serde_json::from_str(l).ok())
            .expect("one access log line");
        assert_eq!(line["target"], "access");
        assert_eq!(line["request_id"], "req-7");
        assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(line["route"], "/mop.auth.v1.AuthService/Logout");
        assert_eq!(line["method"], "Logout");
        assert_eq!(line["grpc_code"], "UNAUTHENTICATED");
        assert_eq!(line["status"], 16);
        assert!(line["latency_ms"].is_f64());
    }

    #[test]
    fn grpc_timeouts_parse_per_spec() {
        assert_eq!(timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(timeout("9n"), Some(Duration::from_nanos(9)));
        for bad in ["", "S", "123456789S", "1x", "-1S", "1.5S"] {
            assert_eq!(timeout(bad), None, "{bad:?}");
        }
        assert_eq!(grpc_timeout(&HeaderMap::new()), None);
    }
}
