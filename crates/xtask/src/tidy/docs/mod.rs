//! Checks that keep README.md and docs/*.md true as the code moves:
//! links and anchors resolve, OBI metric and label names are the pinned version's, `just` recipes
//! exist, command blocks say where they run.
//!
//! Reading order: [`markdown`] (the subset of Markdown the checks parse), [`checks`] (one function per
//! rule, each returning its findings as `file:line: problem` so a failing test lists them all),
//! [`kubectl`] (kubectl commands against the rendered kind overlay), [`cronjobs`] (load-testing.md's
//! CronJob table against the same render), [`troubleshooting`] (docs/troubleshooting.md against the
//! scenario catalog, both ways).
//! The tests live in `tests/it/docs.rs`.
//!
//! ## The command-block convention
//!
//! A fenced block whose info string carries `runs=<where>` is a command block:
//! - `runs=here` — runnable on a build machine from the repository root with nothing started; the doc
//!   test runs it with `bash -euo pipefail` (bounded in time) and fails on a non-zero exit;
//! - `runs=local-lab` — needs `just dev` running (the local lab);
//! - `runs=kind` — needs `just up` (the kind lab; nothing of it runs on the build machines).
//!
//! Every shell block (`sh`, `bash`, `shell`, `console`) of the guides ([`GUIDES`]) must carry one;
//! other docs may opt in.

pub mod checks;
pub mod cronjobs;
pub mod kubectl;
pub mod markdown;
pub mod troubleshooting;

use std::path::Path;

use anyhow::{Context, Result};

/// Guides whose shell blocks must all say where they run.
pub const GUIDES: [&str; 8] = [
    "docs/http-instrumentation.md",
    "docs/grpc-instrumentation.md",
    "docs/sql-instrumentation.md",
    "docs/redis-instrumentation.md",
    "docs/kafka-instrumentation.md",
    "docs/best-practices.md",
    "docs/troubleshooting.md",
    "docs/load-testing.md",
];

/// Where a command block may run (see the module docs).
pub const RUNS: [&str; 3] = ["here", "local-lab", "kind"];

/// One Markdown file: its path relative to the repository root, and its text.
#[derive(Debug, Clone)]
pub struct Doc {
    pub rel: String,
    pub text: String,
}

/// README.md, CONTRIBUTING.md and every docs/*.md, sorted by path.
pub fn load_all() -> Result<Vec<Doc>> {
    let root = crate::project_root();
    let mut rels = vec!["README.md".to_owned(), "CONTRIBUTING.md".to_owned()];
    let dir = root.join("docs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md"))
        .collect();
    names.sort();
    rels.extend(names.into_iter().map(|n| format!("docs/{n}")));
    rels.into_iter().map(|rel| load(&root, &rel)).collect()
}

fn load(root: &Path, rel: &str) -> Result<Doc> {
    let p = root.join(rel);
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    Ok(Doc {
        rel: rel.to_owned(),
        text,
    })
}
