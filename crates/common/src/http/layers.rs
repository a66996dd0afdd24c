//! The standard middleware stack of a MOP REST service, and the flags that tune it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use std::num::NonZeroU32;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use http::StatusCode;
use tower::ServiceBuilder;

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
    /// The flags' own defaults (see [`crate::args::defaults`]).
    fn default() -> Self {
        crate::args::defaults()
    }
}

/// Wraps a service's routes in the standard stack. Outermost first:
///
/// 1. [`super::observe`]: request id, trace id, access log — sees every response, 429s included;
/// 2. the per-client-IP rate limit → 429 problem+json with `Retry-After` (`api` routes only);
/// 3. the request timeout → 503 problem+json;
/// 4. the body limit → 413 (enforced by the body extractors).
///
/// `api` is rate limited; `probes` (health, readiness, the OpenAPI document) are not, so a busy
/// client can never make Kubernetes think the pod is dead.
///
/// Steps 1–3 run in *one* middleware. Every `Router::layer` call boxes each route once more and every
/// `from_fn` boxes the next service per request; measured with callgrind on `GET /products/{id}`, one
/// combined middleware costs about a third fewer instructions per request than one layer per concern.
pub fn apply(api: Router, probes: Router, args: &HttpArgs) -> Router {
    let policy = Arc::new(Policy {
        timeout: args.request_timeout,
        limiter: rate_limiter(args),
    });
    api.merge(probes)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(policy, standard))
                .layer(DefaultBodyLimit::max(args.body_limit)),
        )
}

/// The paths a `probes` router may serve — the same on every MOP service. They are exempt from the
/// rate limit; a probe router serving anything else would be rate limited like the API.
pub const PROBE_PATHS: &[&str] = &["/health", "/ready", "/openapi.json"];

struct Policy {
    timeout: Duration,
    limiter: Option<Arc<Limiter>>,
}

type Limiter = RateLimiter<Option<IpAddr>, DefaultKeyedStateStore<Option<IpAddr>>, DefaultClock>;

async fn standard(State(policy): State<Arc<Policy>>, req: Request, next: Next) -> Response {
    super::observe::around(req, |req| async move {
        if let Some(limiter) = &policy.limiter {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(MatchedPath::as_str);
            if !route.is_some_and(|r| PROBE_PATHS.contains(&r)) {
                let key = req
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ci| ci.0.ip());
                if let Err(not_until) = limiter.check_key(&key) {
                    let wait = not_until.wait_time_from(limiter.clock().now());
                    return rate_limited(wait);
                }
            }
        }
        match tokio::time::timeout(policy.timeout, next.run(req)).await {
            Ok(response) => response,
            Err(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the request did not complete within {}",
                    humantime::format_duration(policy.timeout)
                ),
            )
            .with_type(types::TIMEOUT)
            .with_retry_after(Duration::from_secs(1))
            .into_response(),
        }
    })
    .await
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

/// A keyed GCRA limiter (the `governor` crate): `per_second` sustained, `burst` at once, per client IP.
/// Requests without connection info (router tests using `oneshot`) share one bucket (`None`) instead
/// of failing. `X-Forwarded-For` is deliberately ignored: trusting it would let any client choose its
/// own bucket.
fn rate_limiter(args: &HttpArgs) -> Option<Arc<Limiter>> {
    let per_second =
        NonZeroU32::new(u32::try_from(args.rate_limit_per_second).unwrap_or(u32::MAX))?;
    let burst = NonZeroU32::new(args.rate_limit_burst).unwrap_or(NonZeroU32::MIN);
    let limiter = Arc::new(RateLimiter::keyed(
        Quota::per_second(per_second).allow_burst(burst),
    ));
    // Forget idle clients once a minute so the limiter's memory stays bounded; the task ends when the
    // router (and so the limiter) is dropped.
    let weak = Arc::downgrade(&limiter);
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(limiter) => limiter.retain_recent(),
                    None => break,
                }
            }
        });
    }
    Some(limiter)
}

fn rate_limited(wait: Duration) -> Response {
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("rate limit exceeded; retry in {} ms", wait.as_millis()),
    )
    .with_type(types::RATE_LIMITED)
    .with_retry_after(wait)
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_flags_defaults() {
        let args = HttpArgs::default();
        assert_eq!(args.request_timeout, Duration::from_secs(10));
        assert_eq!(args.body_limit, 64 * 1024);
        assert_eq!(
            (args.rate_limit_per_second, args.rate_limit_burst),
            (1000, 2000)
        );
    }
}
