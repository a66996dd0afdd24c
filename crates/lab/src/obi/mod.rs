//! OBI on this machine rather than in kind: `lab obi build` (the binary, built from OBI's Go module and
//! cached by version) and `lab dev --obi` (the local lab watched by OBI, with a local Prometheus).
//!
//! Reading order: [`build`] (version → source → eBPF objects → Go binary → cache), [`config`] (the
//! local OBI config, derived from the kind lab's `obi-config` so the two cannot drift), [`host`] (what
//! the kernel must offer: root, kprobes, BTF), then [`run`] (OBI and Prometheus beside the lab; the
//! apps start only once OBI's tracer is loaded).

pub mod build;
pub mod config;
pub mod exec;
pub mod host;
pub mod run;
