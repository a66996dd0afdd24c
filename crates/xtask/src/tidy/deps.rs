//! The workspace's dependency directions, read from `cargo metadata`: services never depend on each
//! other (each must build and run alone; a dev-dependency is allowed — gateway's tests start the real
//! catalog), the product crate `lab` never on `xtask`, and `lab`'s normal dependency tree holds none
//! of the crates only the maintainers' tools need.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// The service crates: none may depend on another.
pub const SERVICES: [&str; 5] = ["catalog", "auth", "orders", "gateway", "events"];
/// Crates that must never be reachable from `lab` through normal dependencies: xtask itself, and
/// what only its tools use (PromQL parsing for the dashboards' checks; rdkafka for scenario-local's
/// lag probe — `just up` must not compile librdkafka to run kubectl).
pub const NOT_IN_LAB: [&str; 3] = ["xtask", "promql-parser", "rdkafka"];

/// `cargo metadata --format-version 1` of the workspace at `root` (locked).
pub fn metadata(root: &Path) -> Result<Value> {
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root)
        .output()
        .context("run cargo metadata")?;
    anyhow::ensure!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).context("parse cargo metadata")
}

/// Every breach of the directions, as readable lines (empty when the workspace keeps them).
pub fn violations(meta: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let members: BTreeSet<&str> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| is_member(meta, p))
        .filter_map(|p| p["name"].as_str())
        .collect();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let Some(name) = p["name"].as_str() else {
            continue;
        };
        if !members.contains(name) {
            continue;
        }
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let Some(dep) = d["name"].as_str() else {
                continue;
            };
            let kind = d["kind"].as_str().unwrap_or("normal");
            if SERVICES.contains(&name) && SERVICES.contains(&dep) && dep != name && kind != "dev" {
                out.push(format!(
                    "service {name} depends on service {dep} ({kind}): services never depend on each other"
                ));
            }
            if name == "lab" && dep == "xtask" {
                out.push(format!(
                    "lab depends on xtask ({kind}): the product never uses the maintainers' tools"
                ));
            }
        }
    }
    out
}

fn is_member(meta: &Value, package: &Value) -> bool {
    let id = &package["id"];
    meta["workspace_members"]
        .as_array()
        .is_some_and(|m| m.contains(id))
}

/// `cargo tree -p PACKAGE -e normal --prefix depth`: what `cargo build -p PACKAGE` links, with its
/// own feature resolution (`cargo metadata`'s graph unifies features across the whole workspace, so
/// a dev-dependency elsewhere would show up there as if `lab` linked it).
pub fn normal_tree(root: &Path, package: &str) -> Result<String> {
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "tree", "-p", package, "-e", "normal", "--prefix", "depth", "--locked",
        ])
        .current_dir(root)
        .output()
        .context("run cargo tree")?;
    anyhow::ensure!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The [`NOT_IN_LAB`] crates in a `cargo tree --prefix depth` listing, each with the path that
/// reaches it (`lab → loadgen → rdkafka`).
pub fn tools_only_crates(tree: &str) -> Vec<String> {
    let mut path: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for line in tree.lines() {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        let (Ok(depth), Some(name)) = (
            line[..digits].parse::<usize>(),
            line[digits..].split_whitespace().next(),
        ) else {
            continue;
        };
        path.truncate(depth);
        path.push(name);
        if NOT_IN_LAB.contains(&name) {
            out.push(format!(
                "{} links {name} through normal dependencies ({}): only xtask may",
                path[0],
                path.join(" → ")
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}
