//! The kind lab's manifests as the lab's commands read them: the kustomize overlays rendered with the
//! real `kubectl kustomize` and parsed into objects.
//!
//! Reading order: [`render`] (kubectl → objects), [`pod`] (the pod templates inside workloads and what a
//! container would be started with), [`netpol`] (NetworkPolicy evaluation over every pod pair: a
//! scenario's cut is proven with it before it is applied), [`obi`] (OBI's config: keys, discovery,
//! routes — the local OBI config and verify derive from it). The policy checks over the same objects
//! (Pod Security, footprint, the kind cluster config, running the containers) are repository checks:
//! the xtask crate's `tidy::manifests`.

pub mod netpol;
pub mod obi;
pub mod pod;
pub mod render;

pub use render::{Object, Rendered, render};
