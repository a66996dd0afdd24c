//! The kind lab's manifests held to policy without a cluster, over the objects `lab::manifests`
//! renders: what an API server, an admission controller and the kubelet would otherwise only tell us
//! in a live cluster.
//!
//! Reading order: [`security`] (Pod Security "restricted" and the lab's own rules), [`footprint`]
//! (memory limits), [`kind`] (the kind cluster config against the NodePorts), then [`run`] (each
//! container started from the real binary as its manifest would start it).

pub mod footprint;
pub mod kind;
pub mod run;
pub mod security;
