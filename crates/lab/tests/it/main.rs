//! The lab's integration tests: the whole system started by the same supervisor as `just dev`, driven
//! by `loadgen`, checked from the outside (reports, topics, PostgreSQL's statistics, service stats and
//! logs; `e2e`, `faults` — they take turns, see `support::start`); the kind lab's plans and the real
//! `lab` binary's dry runs; the kind overlay applied to a real kube-apiserver; the OBI VM. The
//! repository checks and the measurements are xtask's tests.

mod e2e;
mod faults;
mod kind_plan;
mod kube_api;
mod support;
mod vm;
