//! `GET /health` (liveness) and `GET /ready` (readiness), the same on every REST service.
//!
//! Liveness answers "is the process able to serve at all" and never looks at backends, so Kubernetes
//! does not restart a healthy pod because its database is down. Readiness asks the service's own
//! check (are the backends reachable?) and turns 503 as soon as shutdown starts, so the pod leaves
//! the Service's endpoints before its listener closes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Problem;
use super::extract::Json;

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// What the probes need: the shutdown token and the service's readiness check.
#[derive(Clone)]
pub struct Health {
    shutdown: CancellationToken,
    check: Arc<dyn Fn() -> CheckFuture + Send + Sync>,
}

impl Health {
    /// `check` returns an error (its message becomes the 503's detail) when a backend the service
    /// needs is unreachable.
    pub fn new<F, Fut, E>(shutdown: CancellationToken, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        Self {
            shutdown,
            check: Arc::new(move || {
                let check = check();
                Box::pin(async move { check.await.map_err(|e| e.to_string()) })
            }),
        }
    }

    /// For services without backends: ready until shutdown starts.
    pub fn always_ready(shutdown: CancellationToken) -> Self {
        Self::new(shutdown, || async {
            Ok::<(), std::convert::Infallible>(())
        })
    }
}

/// Body of a successful probe. (Named `Probe` in the document: a service's own `Status` schema — orders'
/// order status — must not be shadowed by, or shadow, this one when the documents are merged.)
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Probe)]
pub struct Status {
    /// `ok` for liveness, `ready` for readiness.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The probe routes, ready to merge into any service's router.
pub fn routes<S: Clone + Send + Sync + 'static>(health: Health) -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
        .with_state(health)
}

/// Liveness: the process is up and serving HTTP.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "The process is alive", body = Status)))]
async fn live() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Readiness: the service can do useful work (its backends are reachable and it is not shutting down).
#[utoipa::path(get, path = "/ready", tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Status),
        (status = 503, description = "Not ready: shutting down or a backend is unreachable",
         body = Problem, content_type = "application/problem+json"),
    ))]
async fn ready(State(health): State<Health>) -> Response {
    if health.shutdown.is_cancelled() {
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    match (health.check)().await {
        Ok(()) => Json(Status { status: "ready" }).into_response(),
        Err(reason) => Problem::new(StatusCode::SERVICE_UNAVAILABLE, reason).into_response(),
    }
}
