//! Checks of MOP's Grafana dashboards (grafana/): what can be proven about them without a Grafana
//! server, which cannot run on the build machines.
//!
//! Reading order: [`model`] (the committed dashboard JSON and every query in it), [`substitute`]
//! (Grafana's variables replaced by what a viewer would send), [`names`] (every PromQL expression
//! parses and uses only OBI v0.14.0's names, the exporters' or Prometheus' own), [`layout`] (no
//! overlapping panels, datasources resolve to provisioned uids, every panel teaches), [`fixture`] (a
//! small model of OBI's and the exporters' output for this lab, with the values derived panels must
//! show), [`coverage`] (the share of PromQL targets that return data from a Prometheus holding
//! fixture or recorded data, with an allowlist of the ones that cannot) and [`toolchain`] (the TypeScript side: the Foundation SDK generator, `tsc` against
//! `@grafana/schema`, Grafana's Lezer grammars for TraceQL and LogQL).
//!
//! The tests live in `tests/it/dashboards*.rs`; the real Prometheus they query is
//! `testkit::prometheus`.

pub mod coverage;
pub mod fixture;
pub mod layout;
pub mod model;
pub mod names;
pub mod substitute;
pub mod toolchain;

use std::path::PathBuf;

/// The dashboards, by file name (grafana/dashboards/<name>.json, ConfigMap grafana-dashboard-<name>).
pub const DASHBOARDS: [&str; 7] = ["overview", "http", "grpc", "sql", "redis", "kafka", "load"];

/// The repository's grafana/ folder.
pub fn grafana_dir() -> PathBuf {
    crate::project_root().join("grafana")
}
