//! xtask's tests: the repository checks (docs, dashboards, manifests, the scenario catalog, the
//! dependency policy and directions) on the real files with real tools, each fed a broken input
//! too; the measurements (scenario-local, wire) on a real local lab; the product's verify and
//! scenario runner judged against a real Prometheus loaded with the dashboards' fixture.

mod dashboards;
mod deps;
mod docs;
mod manifests;
mod manifests_run;
mod policy;
mod scenarios;
mod scenarios_local;
mod scenarios_run;
mod support;
mod verify;
mod wire;
