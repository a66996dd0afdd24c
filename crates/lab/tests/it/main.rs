//! The lab's integration tests: the whole system started by the same supervisor as `just dev`, driven
//! by `loadgen`, checked from the outside (reports, topics, PostgreSQL's statistics, service stats and
//! logs; `e2e`, `faults` — they take turns, see `support::start`); the kind lab's plans, manifests and
//! dashboards checked with real tools; the dependency policy.

mod dashboards;
mod docs;
mod e2e;
mod faults;
mod kind_plan;
mod kube_api;
mod manifests;
mod manifests_run;
mod policy;
mod scenarios;
mod scenarios_local;
mod scenarios_run;
mod support;
mod verify;
mod vm;
mod wire;
