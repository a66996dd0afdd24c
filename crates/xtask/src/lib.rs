//! xtask: the maintainers' tools around MOP (rust-analyzer's convention) — run as `cargo xtask …` or
//! from `just`, never by the product. It may use the `lab` crate; `lab` never uses it (a tidy test
//! holds both directions).
//!
//! - [`soak`] — `cargo xtask soak` (`just soak`): the local lab under `mixed` for minutes, memory and
//!   fds sampled.
//! - [`wire`] — `cargo xtask wire` (`just wire`): a capture of the lab under `mixed`, read with
//!   Wireshark's dissectors.
//! - [`bench_obi`] — `cargo xtask bench-obi` (`just bench-obi`): the services' CPU and latency with
//!   and without OBI, on kind.
//! - [`scenario_local`] — `cargo xtask scenario-local` (`just scenario-local`): every scenario's
//!   trigger proven against a local lab of its own.
//! - [`mixed`] — the `mixed` profile shortened and run by loadgen beside a lab (soak and wire).
//! - [`tidy`] — the repository checks `cargo test -p xtask` runs: docs, dashboards, manifests'
//!   policy, footprint and containers, the scenario catalog, the dependency directions.

pub mod bench_obi;
pub mod mixed;
pub mod scenario_local;
pub mod soak;
pub mod tidy;
pub mod wire;

use std::path::PathBuf;

/// The checkout xtask belongs to (xtask always runs from its own checkout, so the build's path is it).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
}
