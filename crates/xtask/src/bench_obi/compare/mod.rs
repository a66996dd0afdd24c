//! What bench-obi measures and compares: each workload's CPU from two snapshots of the kubelet's
//! Summary API (`/api/v1/nodes/<node>/proxy/stats/summary`: cumulative `usageCoreNanoSeconds` per
//! container, k8s.io/kubelet/pkg/apis/stats/v1alpha1), loadgen's latency and throughput from its JSON
//! report, and the table of a run without OBI next to one with it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The workloads whose cost is compared; a pod belongs to the longest name its own name starts with
/// (`events-notifications-6f7c9-x2k4p` → events-notifications).
pub const WORKLOADS: [&str; 8] = [
    "catalog",
    "auth",
    "orders",
    "gateway",
    "events-producer",
    "events-notifications",
    "events-analytics",
    "loadgen",
];

/// CPU (cumulative core-seconds) and memory (working set, bytes) per workload at one instant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub cpu_s: BTreeMap<String, f64>,
    pub memory: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
struct Summary {
    /// Always present in a kubelet's answer (empty on a node without pods): its absence means the
    /// proxy answered something else.
    pods: Vec<Pod>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pod {
    pod_ref: PodRef,
    #[serde(default)]
    containers: Vec<Container>,
}

#[derive(Debug, Deserialize)]
struct PodRef {
    name: String,
    namespace: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    #[serde(default)]
    cpu: Option<Cpu>,
    #[serde(default)]
    memory: Option<Memory>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cpu {
    usage_core_nano_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Memory {
    working_set_bytes: Option<u64>,
}

/// The workload a pod of the apps' namespace (or OBI's) belongs to.
pub fn workload(namespace: &str, pod: &str) -> Option<String> {
    match namespace {
        "obi" => Some("obi".to_owned()),
        "mop" => WORKLOADS
            .iter()
            .filter(|w| pod.starts_with(&format!("{w}-")))
            .max_by_key(|w| w.len())
            .map(|w| (*w).to_owned()),
        _ => None,
    }
}

impl Snapshot {
    /// Adds one node's Summary API answer.
    pub fn add_summary(&mut self, json: &str) -> anyhow::Result<()> {
        let summary: Summary = serde_json::from_str(json).context("not a kubelet stats summary")?;
        for pod in summary.pods {
            let Some(w) = workload(&pod.pod_ref.namespace, &pod.pod_ref.name) else {
                continue;
            };
            for c in pod.containers {
                #[allow(clippy::cast_precision_loss)]
                if let Some(ns) = c.cpu.and_then(|c| c.usage_core_nano_seconds) {
                    *self.cpu_s.entry(w.clone()).or_default() += ns as f64 / 1e9;
                }
                #[allow(clippy::cast_precision_loss)]
                if let Some(b) = c.memory.and_then(|m| m.working_set_bytes) {
                    *self.memory.entry(w.clone()).or_default() += b as f64;
                }
            }
        }
        Ok(())
    }
}

/// Cores each workload used between two snapshots `seconds` apart. A workload whose counter went
/// down restarted in between: the run cannot be compared, so that is an error.
pub fn cores(
    before: &Snapshot,
    after: &Snapshot,
    seconds: f64,
) -> anyhow::Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for (w, end) in &after.cpu_s {
        let start = before.cpu_s.get(w).copied().unwrap_or(0.0);
        if *end < start {
            bail!("{w}'s CPU counter went down: it restarted during the run");
        }
        out.insert(w.clone(), (end - start) / seconds);
    }
    Ok(out)
}

/// The part of loadgen's JSON report the comparison reads.
#[derive(Debug, Clone, Deserialize)]
pub struct LoadReport {
    pub elapsed_s: f64,
    pub total: Total,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Total {
    pub completed: u64,
    pub achieved_rate: f64,
    pub dropped: u64,
    pub latency_from_intended_ms: Latency,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
}

/// One run: its CPU per workload, OBI's memory (when it ran) and loadgen's report.
#[derive(Debug, Clone)]
pub struct Measured {
    pub cores: BTreeMap<String, f64>,
    pub memory: BTreeMap<String, f64>,
    pub report: LoadReport,
}

fn pct(without: f64, with: f64) -> String {
    if without > 0.0 {
        format!("{:+.1} %", (with - without) / without * 100.0)
    } else {
        "—".to_owned()
    }
}

/// The comparison as a Markdown table (it goes into docs/benchmarks.md as it is).
pub fn render(without: &Measured, with: &Measured) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| workload | CPU without OBI (millicores) | CPU with OBI | change |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    let mut total = (0.0, 0.0);
    for w in WORKLOADS {
        let (a, b) = (
            without.cores.get(w).copied().unwrap_or(0.0),
            with.cores.get(w).copied().unwrap_or(0.0),
        );
        if w != "loadgen" {
            total.0 += a;
            total.1 += b;
        }
        let _ = writeln!(
            out,
            "| {w} | {:.1} | {:.1} | {} |",
            a * 1e3,
            b * 1e3,
            pct(a, b)
        );
    }
    let _ = writeln!(
        out,
        "| **services** (all but loadgen) | {:.1} | {:.1} | {} |",
        total.0 * 1e3,
        total.1 * 1e3,
        pct(total.0, total.1)
    );
    let obi = with.cores.get("obi").copied().unwrap_or(0.0);
    let obi_mem = with.memory.get("obi").copied().unwrap_or(0.0) / (1024.0 * 1024.0);
    let _ = writeln!(
        out,
        "| OBI itself | — | {:.1} | working set {obi_mem:.0} MiB at the end |",
        obi * 1e3
    );
    let (a, b) = (&without.report.total, &with.report.total);
    let _ = writeln!(
        out,
        "\n| loadgen (latency from intended send) | without OBI | with OBI | change |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for (name, x, y) in [
        (
            "p50 (ms)",
            a.latency_from_intended_ms.p50,
            b.latency_from_intended_ms.p50,
        ),
        (
            "p99 (ms)",
            a.latency_from_intended_ms.p99,
            b.latency_from_intended_ms.p99,
        ),
        ("achieved rate (/s)", a.achieved_rate, b.achieved_rate),
    ] {
        let _ = writeln!(out, "| {name} | {x:.2} | {y:.2} | {} |", pct(x, y));
    }
    #[allow(clippy::cast_precision_loss)]
    let _ = writeln!(
        out,
        "| completed / dropped | {} / {} | {} / {} | |",
        a.completed, a.dropped, b.completed, b.dropped
    );
    out
}

#[cfg(test)]
mod tests;
