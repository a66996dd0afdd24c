//! The lab's memory footprint: the memory limits of every long-running container (× replicas), from the
//! rendered overlay — the figure docs/kubernetes.md states and the budget a user's machine must hold.

use anyhow::{anyhow, bail};
use serde_json::Value;

use lab::manifests::pod::{Lifetime, PodTemplate};

/// One container's resources, as a row of the footprint table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub owner: String,
    pub container: String,
    pub replicas: u64,
    pub lifetime: Lifetime,
    /// Bytes.
    pub memory_request: u64,
    pub memory_limit: u64,
    /// Millicores.
    pub cpu_request: u64,
    pub cpu_limit: u64,
}

/// A Kubernetes quantity in bytes: `64Mi`, `1Gi`, `512M`, `1e6`, `1000` …
pub fn bytes(quantity: &str) -> anyhow::Result<u64> {
    let q = quantity.trim();
    let split = q.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| anyhow!("not a quantity: {quantity:?}"))?;
    let factor: f64 = match suffix {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        _ => bail!("unknown memory suffix in {quantity:?}"),
    };
    Ok((number * factor).round() as u64)
}

/// A CPU quantity in millicores: `500m`, `1`, `0.25`.
pub fn millicores(quantity: &str) -> anyhow::Result<u64> {
    let q = quantity.trim();
    if let Some(m) = q.strip_suffix('m') {
        return m
            .parse()
            .map_err(|_| anyhow!("not a CPU quantity: {quantity:?}"));
    }
    let cores: f64 = q
        .parse()
        .map_err(|_| anyhow!("not a CPU quantity: {quantity:?}"))?;
    Ok((cores * 1000.0).round() as u64)
}

fn quantity(container: &Value, pointer: &str) -> Option<String> {
    match container.pointer(pointer)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The rows of every app container of `templates` (a missing value is an error: the security check
/// requires them all).
pub fn rows(templates: &[PodTemplate]) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for t in templates {
        for c in t
            .spec
            .get("containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned();
            let get = |p: &str| {
                quantity(c, p).ok_or_else(|| anyhow!("{} container {name}: no {p}", t.owner))
            };
            rows.push(Row {
                owner: t.owner.clone(),
                container: name.clone(),
                replicas: t.replicas,
                lifetime: t.lifetime,
                memory_request: bytes(&get("/resources/requests/memory")?)?,
                memory_limit: bytes(&get("/resources/limits/memory")?)?,
                cpu_request: millicores(&get("/resources/requests/cpu")?)?,
                cpu_limit: millicores(&get("/resources/limits/cpu")?)?,
            });
        }
    }
    Ok(rows)
}

/// Sum of memory limits × replicas of the long-running containers, in bytes.
pub fn long_running_limit(rows: &[Row]) -> u64 {
    rows.iter()
        .filter(|r| r.lifetime == Lifetime::LongRunning)
        .map(|r| r.memory_limit * r.replicas)
        .sum()
}

/// [`long_running_limit`] plus the run-to-completion workloads named in `always_on` (a CronJob that runs
/// nearly all the time, like the lab's background load, is long-running in all but name).
pub fn always_on_limit(rows: &[Row], always_on: &[&str]) -> u64 {
    long_running_limit(rows)
        + rows
            .iter()
            .filter(|r| {
                r.lifetime == Lifetime::RunToCompletion && always_on.contains(&r.owner.as_str())
            })
            .map(|r| r.memory_limit * r.replicas)
            .sum::<u64>()
}

/// The footprint table in Markdown (MiB), long-running first, with the sums: what docs/kubernetes.md
/// shows.
pub fn markdown(rows: &[Row], always_on: &[&str]) -> String {
    let mib = |b: u64| b / (1024 * 1024);
    let mut out = String::from(
        "| workload | container | replicas | memory request | memory limit | cpu request | cpu limit |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by_key(|r| (r.lifetime != Lifetime::LongRunning, r.owner.clone()));
    for r in sorted {
        out.push_str(&format!(
            "| {}{} | {} | {} | {} Mi | {} Mi | {}m | {}m |\n",
            r.owner,
            if r.lifetime == Lifetime::RunToCompletion {
                " (runs to completion)"
            } else {
                ""
            },
            r.container,
            r.replicas,
            mib(r.memory_request),
            mib(r.memory_limit),
            r.cpu_request,
            r.cpu_limit
        ));
    }
    out.push_str(&format!(
        "| **long-running sum** | | | | **{} Mi** | | |\n",
        mib(long_running_limit(rows))
    ));
    out.push_str(&format!(
        "| **with {}** | | | | **{} Mi** | | |\n",
        always_on.join(", "),
        mib(always_on_limit(rows, always_on))
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_in_kubernetes_units() {
        assert_eq!(bytes("64Mi").unwrap(), 64 << 20);
        assert_eq!(bytes("1Gi").unwrap(), 1 << 30);
        assert_eq!(bytes("512M").unwrap(), 512_000_000);
        assert_eq!(bytes("1000").unwrap(), 1000);
        assert!(bytes("12Qi").is_err());
        assert_eq!(millicores("500m").unwrap(), 500);
        assert_eq!(millicores("1").unwrap(), 1000);
        assert_eq!(millicores("0.25").unwrap(), 250);
    }
}
