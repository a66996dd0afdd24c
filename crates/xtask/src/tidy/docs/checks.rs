//! One function per rule the docs must keep; each returns every finding as `file:line: problem`, so a
//! failing test lists all of them at once rather than the first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::markdown::{self, Block};
use super::{Doc, GUIDES, RUNS};
use crate::project_root as repo_root;
use crate::tidy::dashboards::names::Catalog;

/// Every relative link resolves to a file or folder of the repository, and every `#anchor` to a heading
/// of the Markdown file it points into (GitHub's slug rule, see [`markdown::slug`]).
pub fn links(docs: &[Doc]) -> Vec<String> {
    let root = repo_root();
    // The docs being checked come first (they may not be on disk, e.g. a probe), then the disk.
    let mut anchors: BTreeMap<PathBuf, Vec<String>> = docs
        .iter()
        .map(|d| {
            (
                normalize(Path::new(&d.rel)),
                markdown::anchors(&markdown::parse(&d.text)),
            )
        })
        .collect();
    let mut problems = Vec::new();
    for doc in docs {
        let parsed = markdown::parse(&doc.text);
        let here = normalize(&PathBuf::from(&doc.rel));
        for line in &parsed.prose {
            for link in markdown::links(line.text) {
                let t = link.target.trim_start_matches('<').trim_end_matches('>');
                if t.is_empty() || t.contains("://") || t.starts_with("mailto:") {
                    continue;
                }
                let (path, anchor) = t.split_once('#').unwrap_or((t, ""));
                let target = if path.is_empty() {
                    here.clone()
                } else {
                    normalize(&here.parent().unwrap_or(Path::new("")).join(path))
                };
                let at = format!("{}:{}", doc.rel, line.number);
                if !anchors.contains_key(&target) && !root.join(&target).exists() {
                    problems.push(format!("{at}: link `{t}`: no file {}", target.display()));
                    continue;
                }
                if anchor.is_empty() || target.extension().is_none_or(|e| e != "md") {
                    continue;
                }
                let known = anchors.entry(target.clone()).or_insert_with(|| {
                    std::fs::read_to_string(root.join(&target))
                        .map(|text| markdown::anchors(&markdown::parse(&text)))
                        .unwrap_or_default()
                });
                if !known.iter().any(|a| a == anchor) {
                    problems.push(format!(
                        "{at}: link `{t}`: {} has no heading with anchor #{anchor}",
                        target.display()
                    ));
                }
            }
        }
    }
    problems
}

/// `a/b/../c` → `a/c` without touching the file system (targets may be missing: that is the finding).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Name prefixes of OBI's Prometheus metrics and labels (and of the pre-v0.10 Beyla names): a word in a
/// doc starting with one of these is meant as an OBI name and must be one the pinned version emits.
const OBI_PREFIXES: [&str; 12] = [
    "http_server_",
    "http_client_",
    "rpc_server_",
    "rpc_client_",
    "rpc_grpc_",
    "db_client_",
    "messaging_",
    "traces_span_metrics",
    "traces_service_graph",
    "obi_",
    "sql_client_",
    "redis_client_",
];

/// Words on a line that mark an old name as old, so a doc may warn against it.
const OLD_MARKERS: [&str; 7] = [
    "removed",
    "pre-v0.10",
    "before v0.10",
    "do not use",
    "deprecated",
    "old name",
    "renamed",
];

/// Every OBI-looking metric or label name (see [`OBI_PREFIXES`], plus `rpc_system`) is in
/// grafana/obi-v0.14.0-metrics.yaml — a metric (or its `_bucket`/`_count`/`_sum`) or a label of one —
/// unless it is one of the list's `removed_names` on a line that says so ([`OLD_MARKERS`]).
pub fn metric_names(docs: &[Doc], catalog: &Catalog) -> Vec<String> {
    let mut known: BTreeSet<String> = BTreeSet::new();
    for (name, m) in catalog
        .metrics
        .iter()
        .filter(|(_, m)| m.source.starts_with("OBI"))
    {
        known.insert(name.clone());
        for suffix in ["_bucket", "_count", "_sum"] {
            if let Some(base) = name.strip_suffix(suffix) {
                known.insert(base.to_owned());
            }
        }
        known.extend(m.labels.iter().cloned());
    }
    let mut problems = Vec::new();
    for doc in docs {
        for (i, line) in doc.text.lines().enumerate() {
            let lower = line.to_lowercase();
            for word in words(line) {
                if !obi_like(word) || known.contains(word) {
                    continue;
                }
                // `http_client_…`, `http_client_*`: a family by its prefix, fine if it has members.
                if word.ends_with('_') && known.iter().any(|k| k.starts_with(word)) {
                    continue;
                }
                let at = format!("{}:{}", doc.rel, i + 1);
                if catalog.removed.contains(word) {
                    if !OLD_MARKERS.iter().any(|m| lower.contains(m)) {
                        problems.push(format!(
                            "{at}: `{word}` is a pre-v0.10 name OBI v0.14.0 no longer emits; \
                             mark the line as an old name or use the current one"
                        ));
                    }
                } else {
                    problems.push(format!(
                        "{at}: `{word}` is not in grafana/obi-v0.14.0-metrics.yaml (metric or label)"
                    ));
                }
            }
        }
    }
    problems
}

/// Whether a word is meant as an OBI name. `obi_` also starts Rust test names in the docs'
/// tables (`obi_routes_cover_…`), so for it only words ending like a metric count.
fn obi_like(word: &str) -> bool {
    if word.starts_with("obi_") {
        return [
            "_total",
            "_seconds",
            "_bytes",
            "_info",
            "_bucket",
            "_count",
            "_sum",
            "_processes",
        ]
        .iter()
        .any(|s| word.ends_with(s));
    }
    word == "rpc_system" || OBI_PREFIXES.iter().any(|p| word.starts_with(p))
}

/// Maximal runs of `[a-z0-9_]` in a line.
fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// The recipes of the repository's justfile, from `just --summary`.
pub fn just_recipes() -> Result<BTreeSet<String>> {
    let out = Command::new("just")
        .arg("--summary")
        .current_dir(repo_root())
        .output()
        .context(
            "running `just --summary` (install just: `cargo install just` or apt-get install just)",
        )?;
    if !out.status.success() {
        bail!(
            "`just --summary` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}

/// Every `just <recipe>` written as a command — in an inline code span, or a line of a code block —
/// names a recipe the justfile has. (Prose "just" is an English word, so only code counts.)
pub fn recipes(docs: &[Doc], recipes: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |at: String, command: &str| {
        let command = command.trim().trim_start_matches("$ ");
        let mut w = command.split_whitespace();
        if w.next() != Some("just") {
            return;
        }
        // `just` alone runs the default recipe; a flag (`just --summary`) is not a recipe.
        // Placeholders (`just <recipe>`) are not recipes either.
        if let Some(r) = w.next().filter(|r| !r.starts_with(['-', '<', '{']))
            && !recipes.contains(r)
        {
            problems.push(format!(
                "{at}: `just {r}`: the justfile has no recipe `{r}`"
            ));
        }
    };
    for doc in docs {
        let parsed = markdown::parse(&doc.text);
        for line in &parsed.prose {
            for span in markdown::code_spans(line.text) {
                check(format!("{}:{}", doc.rel, line.number), span);
            }
        }
        for b in &parsed.blocks {
            for (i, l) in b.body.lines().enumerate() {
                // `cmd && just x`, `cmd; just x` name recipes too.
                for part in l.split(['&', ';', '|']) {
                    check(format!("{}:{}", doc.rel, b.line + 1 + i), part);
                }
            }
        }
    }
    problems
}

/// Command blocks: every `runs=` value is one of [`RUNS`], and every shell block of the [`GUIDES`]
/// carries one. Returns the problems and the `runs=here` blocks (file, block) for [`run_here`].
pub fn command_blocks(docs: &[Doc]) -> (Vec<String>, Vec<(String, Block)>) {
    let mut problems = Vec::new();
    let mut here = Vec::new();
    for doc in docs {
        for b in markdown::parse(&doc.text).blocks {
            let at = format!("{}:{}", doc.rel, b.line);
            match b.attr("runs") {
                Some("here") => here.push((doc.rel.clone(), b)),
                Some(r) if RUNS.contains(&r) => {}
                Some(r) => problems.push(format!(
                    "{at}: runs={r}: say where the block runs, one of {}",
                    RUNS.join(", ")
                )),
                None if GUIDES.contains(&doc.rel.as_str())
                    && matches!(b.lang(), "sh" | "bash" | "shell" | "console") =>
                {
                    problems.push(format!(
                        "{at}: a shell block without runs=here|local-lab|kind (see lab::docs)"
                    ));
                }
                None => {}
            }
        }
    }
    (problems, here)
}

/// Runs a `runs=here` block with `bash -euo pipefail` from the repository root, for at most `limit`;
/// returns its stdout, or an error with its output.
pub fn run_here(block: &Block, limit: Duration) -> Result<String> {
    let mut child = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &block.body])
        .current_dir(repo_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting bash")?;
    let started = Instant::now();
    // Bounded: poll until it exits or the limit passes, then kill it.
    while child.try_wait()?.is_none() {
        if started.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            bail!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "exit {}: {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// In the [`GUIDES`], a **bold** phrase in a table row names a dashboard panel: it must be the title of
/// a panel (or row) of grafana/dashboards/*.json, so a renamed panel fails here, not in a reader's hands.
pub fn panel_titles(docs: &[Doc], titles: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    for doc in docs.iter().filter(|d| GUIDES.contains(&d.rel.as_str())) {
        for line in &markdown::parse(&doc.text).prose {
            if !line.text.trim_start().starts_with('|') {
                continue;
            }
            for phrase in bold(line.text) {
                if !titles.contains(phrase) {
                    problems.push(format!(
                        "{}:{}: **{phrase}** is not the title of any panel in grafana/dashboards/",
                        doc.rel, line.number
                    ));
                }
            }
        }
    }
    problems
}

/// The `**…**` phrases of a line.
fn bold(line: &str) -> Vec<&str> {
    line.split("**").skip(1).step_by(2).collect()
}

/// A fenced YAML block with `from=<path>` quotes that file: every key it has must be in the file with
/// the same scalar value, and every item of a quoted list must be an item of the file's list (a quote
/// may leave items out, never add or change one).
pub fn config_quotes(docs: &[Doc]) -> Vec<String> {
    let mut problems = Vec::new();
    for doc in docs {
        for b in markdown::parse(&doc.text).blocks {
            let Some(from) = b.attr("from") else { continue };
            let at = format!("{}:{}", doc.rel, b.line);
            let file = match std::fs::read_to_string(repo_root().join(from)) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(format!("{at}: from={from}: {e}"));
                    continue;
                }
            };
            let parse = |t: &str| serde_yaml::from_str::<serde_yaml::Value>(t);
            match (parse(&b.body), parse(&file)) {
                (Ok(quote), Ok(whole)) => {
                    if let Some(path) = not_contained(&quote, &whole, String::new()) {
                        problems.push(format!("{at}: quotes {from}, which differs at `{path}`"));
                    }
                }
                (Err(e), _) | (_, Err(e)) => problems.push(format!("{at}: YAML: {e}")),
            }
        }
    }
    problems
}

/// The first path at which `part` is not contained in `whole`, if any.
fn not_contained(
    part: &serde_yaml::Value,
    whole: &serde_yaml::Value,
    path: String,
) -> Option<String> {
    use serde_yaml::Value;
    match (part, whole) {
        (Value::Mapping(p), Value::Mapping(w)) => p.iter().find_map(|(k, v)| {
            let key = format!("{path}.{}", k.as_str().unwrap_or("?"));
            match w.get(k) {
                Some(wv) => not_contained(v, wv, key),
                None => Some(key),
            }
        }),
        (Value::Sequence(p), Value::Sequence(w)) => p.iter().enumerate().find_map(|(i, v)| {
            (!w.iter()
                .any(|wv| not_contained(v, wv, String::new()).is_none()))
            .then(|| format!("{path}[{i}]"))
        }),
        (p, w) if p == w => None,
        _ => Some(path),
    }
}

/// Every ```` ```promql ```` block parses and uses only names the dashboards may use, each label on a
/// metric that carries it — the same check as the dashboards' queries ([`Catalog::check`]).
pub fn promql_blocks(docs: &[Doc], catalog: &Catalog) -> Vec<String> {
    let mut problems = Vec::new();
    for doc in docs {
        for b in markdown::parse(&doc.text).blocks {
            if b.lang() != "promql" {
                continue;
            }
            for p in catalog.check(&b.body) {
                problems.push(format!("{}:{}: {p}", doc.rel, b.line));
            }
        }
    }
    problems
}
