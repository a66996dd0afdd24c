//! The standard middleware stack of a MOP REST service, and the flags that tune it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use governor::clock::QuantaInstant;
use governor::middleware::NoOpMiddleware;
use http::StatusCode;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

use super::problem::{Problem, types};
use crate::args::parse_duration;

/// Flags for the standard HTTP layers; flattened into a service's `Config`.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Requests still running after this long are answered 503 (e.g. `10s`).
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Largest accepted request body in bytes; larger bodies get 413.
    #[arg(long, env = "BODY_LIMIT", default_value_t = 64 * 1024)]
    pub body_limit: usize,

    /// Sustained requests per second allowed per client IP (0 disables rate limiting).
    #[arg(long, env = "RATE_LIMIT_PER_SECOND", default_value_t = 1000)]
    pub rate_limit_per_second: u64,

    /// Requests a client IP may send in a burst above the sustained rate.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 2000)]
    pub rate_limit_burst: u32,
}

impl Default for HttpArgs {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            body_limit: 64 * 1024,
            rate_limit_per_second: 1000,
            rate_limit_burst: 2000,
        }
    }
}

/// Wraps a service's routes in the standard stack. Outermost first:
///
/// 1. [`super::observe::observe`]: request id, trace id, access log — sees every response, 429s included;
/// 2. the request timeout → 503 problem+json;
/// 3. the per-client-IP rate limit → 429 problem+json with `Retry-After` (`api` routes only);
/// 4. the body limit → 413 (enforced by the body extractors).
///
/// `api` is rate limited; `probes` (health, readiness, the OpenAPI document) are not, so a busy
/// client can never make Kubernetes think the pod is dead.
pub fn apply(api: Router, probes: Router, args: &HttpArgs) -> Router {
    let api = match rate_limit(args) {
        Some(governor) => api.layer(governor),
        None => api,
    };
    api.merge(probes)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(args.body_limit))
        .layer(middleware::from_fn_with_state(
            args.request_timeout,
            timeout,
        ))
        .layer(middleware::from_fn(super::observe::observe))
}

async fn not_found(uri: http::Uri) -> Problem {
    Problem::not_found(format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: http::Method, uri: http::Uri) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not supported on {}", uri.path()),
    )
}

async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request did not complete within {}",
                humantime::format_duration(limit)
            ),
        )
        .with_type(types::TIMEOUT)
        .with_retry_after(Duration::from_secs(1))
        .into_response(),
    }
}

type Governor = GovernorLayer<ClientIp, NoOpMiddleware<QuantaInstant>, axum::body::Body>;

fn rate_limit(args: &HttpArgs) -> Option<Governor> {
    if args.rate_limit_per_second == 0 {
        return None;
    }
    // governor's "period" is the time to replenish one request: 1 s / rate.
    let period = Duration::from_nanos((1_000_000_000 / args.rate_limit_per_second).max(1));
    let config = GovernorConfigBuilder::default()
        .key_extractor(ClientIp)
        .period(period)
        .burst_size(args.rate_limit_burst.max(1))
        .finish()?;
    let limiter = Arc::downgrade(config.limiter());
    // Forget idle clients once a minute so the limiter's memory stays bounded; the task ends when the
    // router (and so the limiter) is dropped.
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                match limiter.upgrade() {
                    Some(limiter) => limiter.retain_recent(),
                    None => break,
                }
            }
        });
    }
    Some(GovernorLayer::new(config).error_handler(rate_limit_problem))
}

fn rate_limit_problem(error: GovernorError) -> Response {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("rate limit exceeded; retry in {wait_time} s"),
        )
        .with_type(types::RATE_LIMITED)
        .with_retry_after(Duration::from_secs(wait_time))
        .into_response(),
        // Our key extractor never fails; keep a non-5xx answer for completeness.
        other => Problem::new(StatusCode::TOO_MANY_REQUESTS, other.to_string()).into_response(),
    }
}

/// Keys the limiter by the peer's IP. Requests without connection info (router tests using
/// `oneshot`) share one bucket instead of failing — the limiter must never turn into a 500.
/// `X-Forwarded-For` is deliberately ignored: trusting it would let any client pick its own bucket.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp;

impl KeyExtractor for ClientIp {
    type Key = Option<IpAddr>;

    fn extract<T>(&self, req: &http::Request<T>) -> Result<Self::Key, GovernorError> {
        Ok(req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ci| ci.0.ip()))
    }
}
