//! The lab's integration tests: the whole system started by the same supervisor as `just dev`, driven
//! by `loadgen`, checked from the outside (reports, topics, PostgreSQL's statistics, service stats and
//! logs). One test binary; the two tests take turns (see `support::start`).

mod dashboards;
mod e2e;
mod faults;
mod manifests;
mod manifests_run;
mod policy;
mod support;
