//! The consumer's admin HTTP server: `/health`, `/ready` (broker reachable, not shutting down) and
//! `/stats` (counters, owned partitions and, for analytics, the aggregates).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use common::http::extract::Json;
use common::http::health::{self, Health};
use common::http::layers::{self, HttpArgs};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::roles::Aggregates;
use super::{Shared, Stat};
use crate::kafka;

/// Route templates, for OBI's `routes.patterns`.
pub const ROUTES: &[&str] = &["/stats", "/health", "/ready"];

#[derive(Clone)]
struct AdminState {
    shared: Arc<Shared>,
    group: String,
}

/// The admin router.
pub fn app(shared: Arc<Shared>, group: String, shutdown: CancellationToken) -> Router {
    let producer = shared.producer.clone();
    let (api, _) = OpenApiRouter::new()
        .routes(routes!(stats))
        .with_state(AdminState { shared, group })
        .split_for_parts();
    let health = Health::new(shutdown, move || {
        let producer = producer.clone();
        async move { kafka::check_broker(&producer).await }
    });
    let (probes, _) = health::routes(health).split_for_parts();
    layers::apply(api, probes, &HttpArgs::default())
}

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
