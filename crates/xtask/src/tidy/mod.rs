//! Repository checks that keep MOP's files true as the code moves; `cargo test -p xtask` runs them
//! (tests/it/), each with a test that feeds it a broken input.
//!
//! - [`docs`] — README.md and docs/: links, anchors, OBI names, recipes, command blocks.
//! - [`dashboards`] — grafana/: names OBI really publishes, layout, queries against a real Prometheus.
//! - [`manifests`] — kustomize/: Pod Security and the lab's rules, memory footprint, the kind cluster
//!   config, the containers run as the manifests start them.
//! - [`scenarios`] — the scenario catalog (crates/lab/scenarios): what a scenario must satisfy.
//! - [`deps`] — the workspace's dependency directions (services never on each other, `lab` never on
//!   xtask, `lab` linking no test-only crate).

pub mod dashboards;
pub mod deps;
pub mod docs;
pub mod manifests;
pub mod scenarios;
