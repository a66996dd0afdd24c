//! The kind lab's manifests, checked without a cluster: render the kustomize overlays with the real
//! `kubectl kustomize`, parse the objects, and check what an API server, an admission controller, a CNI
//! and OBI would otherwise only tell us in a live cluster.
//!
//! Reading order: [`render`] (kubectl → objects), [`pod`] (the pod templates inside workloads and what a
//! container would be started with), [`security`] (Pod Security "restricted" and the lab's own rules),
//! [`footprint`] (memory limits), [`netpol`] (NetworkPolicy evaluation over every pod pair), [`obi`]
//! (OBI's config: keys, discovery, routes), [`kind`] (the kind cluster config against the NodePorts).
//! Running the manifests' containers against the real binaries is in [`run`].

pub mod footprint;
pub mod kind;
pub mod netpol;
pub mod obi;
pub mod pod;
pub mod render;
pub mod run;
pub mod security;

pub use render::{Object, Rendered, render};
