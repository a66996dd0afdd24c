//! The troubleshooting scenarios (`lab scenario ID`): a catalog of faults as data —
//! crates/lab/scenarios/*.yaml, embedded in the binary like loadgen's profiles — each with its
//! trigger, the signal OBI must show, the dashboard panel that shows it, its revert and its recovery.
//!
//! Reading order: [`model`] (one scenario file), [`check`] (what a scenario must satisfy to be in
//! the catalog: names OBI v0.14.0 really publishes, panels that exist, documented service flags,
//! loadgen steps loadgen accepts, a revert for every action), [`plan`] (the run a scenario makes on
//! the kind lab, as printable steps), [`ops`] (its kubectl operations as data), [`run`] (carrying
//! them out: bounded Prometheus polls, the revert that always runs), [`netpol`] (a cut as NetworkPolicy
//! changes, proven with the evaluator), [`report`] (what a person reads). The proof that every
//! signal fires under the fault and clears after it runs against a real Prometheus in
//! tests/it/scenarios.rs; the runner's polls and reports against one in tests/it/scenarios_run/.

pub mod cli;
pub mod model;
pub mod netpol;
pub mod ops;
pub mod plan;
pub mod report;
pub mod run;

use anyhow::{Context, Result};

pub use model::{Protocol, Scenario};

/// The catalog, by file name (= id).
pub const CATALOG: &[(&str, &str)] = &[
    (
        "http-slow-endpoint",
        include_str!("../../scenarios/http-slow-endpoint.yaml"),
    ),
    (
        "http-error-burst",
        include_str!("../../scenarios/http-error-burst.yaml"),
    ),
    (
        "http-rate-limit-storm",
        include_str!("../../scenarios/http-rate-limit-storm.yaml"),
    ),
    (
        "grpc-brute-force-login",
        include_str!("../../scenarios/grpc-brute-force-login.yaml"),
    ),
    (
        "grpc-slow-login",
        include_str!("../../scenarios/grpc-slow-login.yaml"),
    ),
    (
        "grpc-auth-outage",
        include_str!("../../scenarios/grpc-auth-outage.yaml"),
    ),
    (
        "sql-n-plus-one",
        include_str!("../../scenarios/sql-n-plus-one.yaml"),
    ),
    (
        "sql-slow-search",
        include_str!("../../scenarios/sql-slow-search.yaml"),
    ),
    (
        "sql-postgres-outage",
        include_str!("../../scenarios/sql-postgres-outage.yaml"),
    ),
    (
        "redis-outage-bypass",
        include_str!("../../scenarios/redis-outage-bypass.yaml"),
    ),
    (
        "redis-cold-cache",
        include_str!("../../scenarios/redis-cold-cache.yaml"),
    ),
    (
        "kafka-poison-dlq",
        include_str!("../../scenarios/kafka-poison-dlq.yaml"),
    ),
    (
        "kafka-consumer-stopped",
        include_str!("../../scenarios/kafka-consumer-stopped.yaml"),
    ),
    (
        "kafka-slow-consumer",
        include_str!("../../scenarios/kafka-slow-consumer.yaml"),
    ),
    (
        "kafka-broker-outage",
        include_str!("../../scenarios/kafka-broker-outage.yaml"),
    ),
];

/// Every scenario of the catalog, parsed (not yet checked: see [`check::catalog`]).
pub fn load_all() -> Result<Vec<Scenario>> {
    CATALOG
        .iter()
        .map(|(name, text)| {
            Scenario::parse(text).with_context(|| format!("crates/lab/scenarios/{name}.yaml"))
        })
        .collect()
}

/// One scenario by id; an unknown id lists the known ones.
pub fn find(id: &str) -> Result<Scenario> {
    match CATALOG.iter().find(|(name, _)| *name == id) {
        Some((name, text)) => {
            Scenario::parse(text).with_context(|| format!("crates/lab/scenarios/{name}.yaml"))
        }
        None => {
            let ids: Vec<&str> = CATALOG.iter().map(|(n, _)| *n).collect();
            anyhow::bail!("no scenario {id:?}; known: {}", ids.join(", "))
        }
    }
}
