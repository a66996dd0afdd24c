//! The lab: MOP's own tooling around the services — a module folder per part, so the layout shows
//! what the crate does.
//!
//! - [`local`] — the local lab (`just dev`): a small supervisor rather than a pile of background
//!   shell jobs, so start-up is ordered and waited for, every process's output lands in its own log
//!   file, and Ctrl-C stops everything in the right order (services drain first, then backends).
//! - [`kind`] — the kind lab's lifecycle (`just up`, `down`, `status`, `logs`, `load`, `doctor`,
//!   `prefetch`): each command's plan as data, carried out with kind, kubectl and nix.
//! - [`obi`] — OBI on this machine: `lab obi build` (the binary from OBI's Go module, cached by
//!   version) and `lab up --obi` (the local lab watched by OBI, scraped by a local Prometheus).
//! - [`manifests`] — the kustomize overlays rendered and checked (Pod Security, footprint, network
//!   edges, OBI's config) without an API server.
//! - [`dashboards`] — checks of the Grafana dashboards (grafana/) that need no Grafana server.
//! - [`scenarios`] — the troubleshooting scenarios (`lab scenario`): faults as data, with the
//!   signal OBI must show and the panel that shows it.
//! - [`docs`] — checks that keep README.md and docs/ true: links, anchors, OBI names, recipes.
//! - [`verify`] — `just verify`: the kind lab's protocol × signal grid against the visibility matrix
//!   (crates/lab/visibility.yaml), and completeness of a measured loadgen run.
//! - [`bench_obi`] — `just bench-obi`: the services' CPU and latency with and without OBI, on kind.
//! - [`soak`] — `just soak`: the local lab under `mixed` for minutes, memory and fds sampled.
//! - [`wire`] — `just wire`: a capture of the lab under `mixed`, read with Wireshark's dissectors.
//! - [`vm`] — `lab vm`: a qemu guest (Debian 13's kernel, virtme-ng, TCG) for hosts whose kernel
//!   cannot run OBI (no kprobes or BTF).
//! - [`prom`] — the Prometheus HTTP API client (instant query → one value or series).
//! - [`cmd`] — the one way to run an external command and to wait for a condition.
//! - [`cli`] — the `lab` binary's commands.

pub mod bench_obi;
pub mod cli;
pub mod cmd;
pub mod dashboards;
pub mod docs;
pub mod kind;
pub mod local;
pub mod manifests;
pub mod obi;
pub mod prom;
pub mod scenarios;
pub mod soak;
pub mod verify;
pub mod vm;
pub mod wire;

pub use local::plan::{Plan, Ports};
pub use local::supervisor::{Lab, LabOptions};
