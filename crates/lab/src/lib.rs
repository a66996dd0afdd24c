//! The lab: MOP's own tooling around the services — a module folder per part, so the layout shows
//! what the crate does.
//!
//! - [`local`] — the local lab (`just dev`): a small supervisor rather than a pile of background
//!   shell jobs, so start-up is ordered and waited for, every process's output lands in its own log
//!   file, and Ctrl-C stops everything in the right order (services drain first, then backends).
//! - [`soak`] — `just soak`: the local lab under `mixed` for minutes, memory and fds sampled.
//! - [`cli`] — the `lab` binary's commands.
//! - [`dashboards`] — checks of the Grafana dashboards (grafana/) that need no Grafana server.
//!
//! The kind lab's lifecycle, the manifests' checks, the troubleshooting scenarios and `verify` get
//! module folders of their own beside `local`.

pub mod cli;
pub mod dashboards;
pub mod local;
pub mod manifests;
pub mod soak;

pub use local::plan::{Plan, Ports};
pub use local::supervisor::{Lab, LabOptions};
