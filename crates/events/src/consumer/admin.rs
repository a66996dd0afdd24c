//! The consumer's admin HTTP server: `/health`, `/ready` (broker reachable, not shutting down) and
//! `/stats` (counters, owned partitions and, for analytics, the aggregates), and `/openapi.json`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use common::http::extract::Json;
use common::http::health::Health;
use common::http::layers::HttpArgs;
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::roles::Aggregates;
use super::{Shared, Stat};
use crate::kafka;

#[derive(Clone)]
struct AdminState {
    shared: Arc<Shared>,
    group: String,
}

/// The admin router: `/stats`, probes, `/openapi.json` and the shared layers.
pub fn app(shared: Arc<Shared>, group: String, shutdown: CancellationToken) -> Router {
    let producer = shared.producer.clone();
    let health = Health::new(shutdown, move || {
        let producer = producer.clone();
        async move { kafka::check_broker(&producer).await }
    });
    let state = AdminState { shared, group };
    common::http::api::router(api(), state, health, &HttpArgs::default())
}

/// The OpenAPI document, exactly as served on `/openapi.json` (and printed by `events-consumer openapi`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    common::http::api::document(api())
}

/// The admin routes, with their description; the state is supplied by [`app`].
fn api() -> OpenApiRouter<AdminState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).routes(routes!(stats))
}

#[derive(OpenApi)]
#[openapi(info(
    title = "MOP events-consumer (admin)",
    description = "The admin port of a consumer-group member: probes and processing counters."
))]
struct ApiDoc;

/// What `/stats` returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsBody {
    pub group: String,
    /// Records taken from the broker (including redeliveries and poison).
    pub received: u64,
    /// Events whose effect was applied (notification acknowledged / aggregates updated).
    pub processed: u64,
    /// Events skipped because their `event_id` was already handled.
    pub duplicates: u64,
    /// Failed attempts that were retried.
    pub retries: u64,
    /// Records written to the DLQ.
    pub dead_lettered: u64,
    /// Partition revocations seen.
    pub rebalances: u64,
    /// Partitions owned now (`topic/partition`).
    pub partitions: Vec<String>,
    /// Analytics only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub aggregates: Option<Aggregates>,
}

/// Counters of this process and, for analytics, the aggregates.
#[utoipa::path(get, path = "/stats", tag = "admin",
    responses((status = 200, description = "Counters since start", body = StatsBody)))]
async fn stats(State(s): State<AdminState>) -> Json<StatsBody> {
    let st = &s.shared.stats;
    Json(StatsBody {
        group: s.group.clone(),
        received: st.get(Stat::Received),
        processed: st.get(Stat::Processed),
        duplicates: st.get(Stat::Duplicates),
        retries: st.get(Stat::Retries),
        dead_lettered: st.get(Stat::DeadLettered),
        rebalances: st.get(Stat::Rebalances),
        partitions: s.shared.assignment.partitions(),
        aggregates: s.shared.role.aggregates(),
    })
}
