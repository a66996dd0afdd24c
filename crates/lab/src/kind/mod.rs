//! The kind lab (`just up`, `down`, `status`, `logs`, `load`, `doctor`, `prefetch`): a kind cluster
//! running OBI, Prometheus, Tempo, Grafana and the services from `kustomize/overlays/kind`.
//!
//! Reading order: [`exec`] (the commands, each turned into its plan), [`plan`] (each command as an ordered list of steps — data, unit-tested, printed by
//! `--dry-run`), [`kube`] (kubectl on the lab's context: server-side apply and the waits, one copy),
//! [`objects`] (the rendered overlay split into apply phases, and what to wait for),
//! [`run`] (carries out a plan's steps with [`crate::cmd`]), then the commands with logic of their
//! own: [`doctor`] (host prerequisites), [`images`] (prefetched images, pinned by digest), [`status`], [`load`] (the loadgen Job's objects) and [`job`]
//! (running one).
//!
//! Why the order matters: OBI only sees gRPC methods and Postgres statement text on connections it
//! watched from their start, so the apps are applied only once the OBI DaemonSet is Ready; images are
//! loaded into the node before anything refers to them (the kind overlay uses IfNotPresent and there
//! is no registry).

pub mod doctor;
pub mod exec;
pub mod images;
pub mod job;
pub mod kube;
pub mod load;
pub mod objects;
pub mod plan;
pub mod run;
pub mod status;

use std::path::{Path, PathBuf};

/// The kind cluster's name (kubectl context `kind-mop`).
pub const CLUSTER: &str = "mop";
/// The kubectl context every command passes explicitly, so a user's current context is never used.
pub const CONTEXT: &str = "kind-mop";
/// Where the apps run; loadgen Jobs run here too.
pub const APPS_NAMESPACE: &str = "mop";

/// One image per pod binary, built by the flake as `packages.image-<bin>` and tagged `mop/<bin>:lab`.
pub const POD_BINARIES: [&str; 7] = [
    "catalog",
    "auth",
    "orders",
    "gateway",
    "events-producer",
    "events-consumer",
    "loadgen",
];

/// What `just up` publishes on the host (kind extraPortMappings → NodePorts).
pub const HOST_PORTS: [(&str, u16, &str); 8] = [
    ("Grafana", 3000, "http://127.0.0.1:3000"),
    ("Prometheus", 9090, "http://127.0.0.1:9090"),
    ("Tempo", 3200, "http://127.0.0.1:3200"),
    ("catalog", 8081, "http://127.0.0.1:8081"),
    ("orders", 8083, "http://127.0.0.1:8083"),
    ("gateway", 8084, "http://127.0.0.1:8084"),
    ("events-producer", 8085, "http://127.0.0.1:8085"),
    ("auth (gRPC h2c)", 50051, "127.0.0.1:50051"),
];

/// The repository's paths the kind lab reads and writes.
#[derive(Debug, Clone)]
pub struct Paths {
    pub repo: PathBuf,
    /// Image archives `just up` builds (docker-archive streams of the flake's images).
    pub images: PathBuf,
    /// Third-party image archives `just prefetch` saves, loaded by `just up` when present.
    pub prefetched: PathBuf,
}

impl Paths {
    pub fn new(repo: &Path, cache: &Path) -> Self {
        Self {
            repo: repo.to_path_buf(),
            images: repo.join("target/images"),
            prefetched: cache.join("mop/images"),
        }
    }

    /// `$XDG_CACHE_HOME` or `~/.cache`: prefetched images outlive `cargo clean`.
    pub fn from_env(repo: &Path) -> Self {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(|| repo.join("target"));
        Self::new(repo, &cache)
    }

    pub fn overlay(&self) -> PathBuf {
        self.repo.join("kustomize/overlays/kind")
    }

    pub fn cluster_config(&self) -> PathBuf {
        self.overlay().join("kind-cluster.yaml")
    }

    pub fn load_template(&self) -> PathBuf {
        self.repo.join("kustomize/components/load/loadgen-job.yaml")
    }
}

pub use kube::kubectl;
