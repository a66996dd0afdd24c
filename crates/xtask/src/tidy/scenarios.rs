//! What a scenario must satisfy to be in the catalog, checked without a cluster: its PromQL parses
//! and reads only OBI v0.14.0's, the exporters' or Prometheus' names (the dashboards' own name check,
//! `dashboards::names`), its panel exists on a committed dashboard, its actions touch the lab's real
//! workloads and set only flags the binaries document, its load is a profile loadgen accepts, and
//! every action has its revert. Each function returns problems as readable lines; empty means fine.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::Result;

use crate::tidy::dashboards::model::Dashboard;
use crate::tidy::dashboards::names::Catalog;
use lab::scenarios::model::{Action, Assertion, Protocol, Scenario, WORKLOADS};

/// Ports of the backends a [`Action::Cut`] may cut.
const BACKEND_PORTS: &[(&str, u16)] = &[
    ("statefulset/postgres", 5432),
    ("deployment/redis", 6379),
    ("statefulset/kafka", 9092),
    ("deployment/catalog", 8081),
];

/// The longest a scenario may wait for a signal: `--all` must stay well under an hour.
const MAX_WAIT_SECONDS: u64 = 600;

/// The repository root (scenarios are checked against the sources they name).
use crate::project_root as repo;

/// Everything the catalog must satisfy as a whole, plus every scenario's own checks.
pub fn catalog(scenarios: &[Scenario]) -> Result<Vec<String>> {
    let names = Catalog::load()?;
    let dashboards = Dashboard::load_all()?;
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for s in scenarios {
        if !ids.insert(s.id.as_str()) {
            problems.push(format!("{}: id used twice", s.id));
        }
        problems.extend(scenario(s, &names, &dashboards));
    }
    if scenarios.len() < 12 {
        problems.push(format!(
            "only {} scenarios (the catalog promises at least 12)",
            scenarios.len()
        ));
    }
    for p in Protocol::ALL {
        if !scenarios.iter().any(|s| s.protocol == p) {
            problems.push(format!("no scenario for protocol {p:?}"));
        }
    }
    Ok(problems)
}

/// One scenario's checks.
pub fn scenario(s: &Scenario, names: &Catalog, dashboards: &[Dashboard]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut p = |m: String| problems.push(format!("{}: {m}", s.id));
    if s.id.is_empty()
        || !s
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        p(format!("id {:?} is not kebab-case", s.id));
    }
    for (what, a) in [("signal", &s.signal), ("recovery", &s.recovery)] {
        for m in assertion(a, names) {
            p(format!("{what}: {m}"));
        }
    }
    match dashboards.iter().find(|d| d.uid() == s.panel.dashboard) {
        None => p(format!("no dashboard with uid {}", s.panel.dashboard)),
        Some(d) => {
            if !d
                .panels()
                .iter()
                .any(|x| x["title"] == s.panel.title.as_str())
            {
                p(format!(
                    "{} has no panel {:?}",
                    s.panel.dashboard, s.panel.title
                ));
            }
        }
    }
    for m in trigger(s) {
        p(m);
    }
    for a in s.trigger.actions.iter().chain(&s.revert) {
        for m in action(a) {
            p(m);
        }
    }
    for m in reverts(&s.trigger.actions, &s.revert) {
        p(m);
    }
    if s.runbook.split_whitespace().count() < 40 {
        p("runbook: say cause, how to confirm and the fix (40 words at least)".into());
    }
    if s.model.is_empty() {
        p("model: how the fault changes OBI's output is needed for its test".into());
    }
    for m in crate::scenario_local::check::scenario(s) {
        p(m);
    }
    problems
}

/// The expression parses, reads only allowed names, has no Grafana variable, and waits boundedly.
fn assertion(a: &Assertion, names: &Catalog) -> Vec<String> {
    let mut out: Vec<String> = names.check(&a.promql);
    if a.promql.contains('$') {
        out.push("a Grafana variable cannot reach Prometheus from `lab scenario`".into());
    }
    if Catalog::metrics_of(&a.promql).is_empty() {
        out.push("reads no metric".into());
    }
    match a.within_seconds() {
        Ok(w) if w == 0 || w > MAX_WAIT_SECONDS => out.push(format!(
            "within {} is not in 1s..{MAX_WAIT_SECONDS}s",
            a.within
        )),
        Ok(_) => {}
        Err(e) => out.push(e.to_string()),
    }
    if !a.threshold.is_finite() {
        out.push("threshold is not a number".into());
    }
    out
}

/// The trigger does something, and its load is one loadgen accepts.
fn trigger(s: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    let t = &s.trigger;
    if t.profile.is_none() && t.load.is_none() && t.actions.is_empty() {
        out.push("trigger: neither a profile, a load nor an action".into());
    }
    if let Some(p) = &t.profile
        && !loadgen::scenario::PROFILES.iter().any(|(n, _)| n == p)
    {
        out.push(format!("trigger: loadgen has no built-in profile {p:?}"));
    }
    if let Some(load) = &t.load {
        let vars: BTreeMap<String, String> = loadgen::cli::VARIABLES
            .iter()
            .map(|k| ((*k).to_owned(), "http://127.0.0.1:1".to_owned()))
            .collect();
        let parsed = serde_yaml::to_string(load)
            .map_err(anyhow::Error::from)
            .and_then(|text| loadgen::scenario::Scenario::parse(&text, &vars));
        match parsed.and_then(|l| l.steps().map(|_| l)) {
            Ok(l) if l.name != format!("scenario-{}", s.id) => out.push(format!(
                "trigger.load: name it scenario-{} (loadgen's report carries it)",
                s.id
            )),
            Ok(_) => {}
            Err(e) => out.push(format!("trigger.load: loadgen refuses it: {e:#}")),
        }
    }
    out
}

/// Targets are lab workloads; env flags are documented by the binary; cuts name a backend's port.
fn action(a: &Action) -> Vec<String> {
    let mut out = Vec::new();
    for t in a.targets() {
        if !WORKLOADS.iter().any(|(w, _)| *w == t) {
            out.push(format!("{t} is not a workload of the lab (kind/name)"));
        }
    }
    if let Action::Cut { to, port, .. } = a {
        match BACKEND_PORTS.iter().find(|(b, _)| b == to) {
            Some((_, p)) if p == port => {}
            Some((_, p)) => out.push(format!("{to} listens on {p}, not {port}")),
            None => out.push(format!("{to} is not a backend a cut applies to")),
        }
    }
    if let Action::Env { target, set, unset } = a {
        let dirs = WORKLOADS
            .iter()
            .find(|(w, _)| w == target)
            .map_or(&[][..], |(_, d)| *d);
        let sources = sources_of(dirs);
        for flag in set.keys().chain(unset) {
            if !sources.contains(&format!("env = \"{flag}\"")) {
                out.push(format!(
                    "{target}: {flag} is not a documented flag of the binary (no `env = \"{flag}\"` in {dirs:?})"
                ));
            }
        }
    }
    out
}

/// Every Rust source under `dirs`, concatenated (small: the services' config and layers).
fn sources_of(dirs: &[&str]) -> String {
    let mut text = String::new();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| repo().join(d)).collect();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else if p.extension().is_some_and(|e| e == "rs") {
            text.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
        }
    }
    text
}

/// Every trigger action is undone by the revert: a cut restored, a scale scaled back, every flag set
/// unset (or set again). Deleting a pod needs none: its controller replaces it.
fn reverts(trigger: &[Action], revert: &[Action]) -> Vec<String> {
    let mut out = Vec::new();
    for a in trigger {
        let undone = match a {
            Action::Cut { from, to, .. } => revert
                .iter()
                .any(|r| matches!(r, Action::Restore { from: f, to: t } if f == from && t == to)),
            Action::Scale { target, .. } => revert
                .iter()
                .any(|r| matches!(r, Action::Scale { target: t, .. } if t == target)),
            Action::Env { target, set, .. } => set.keys().all(|k| {
                revert.iter().any(|r| {
                    matches!(r, Action::Env { target: t, set: s, unset: u }
                        if t == target && (u.contains(k) || s.contains_key(k)))
                })
            }),
            Action::DeletePod { .. } | Action::Restore { .. } => true,
        };
        if !undone {
            out.push(format!("revert does not undo `{}`", a.describe()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab::scenarios::load_all;
    use serde::Deserialize as _;

    #[test]
    fn the_catalog_passes_its_checks() {
        let all = load_all().unwrap();
        let problems = catalog(&all).unwrap();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        for (name, _) in lab::scenarios::CATALOG {
            assert!(
                all.iter().any(|s| s.id == *name),
                "{name}.yaml has id {name}"
            );
        }
    }

    #[test]
    fn the_workloads_are_the_manifests_deployments_and_statefulsets() {
        // Every kind/name an action may target is an object of kustomize/ (base or backends), so a
        // renamed workload fails here rather than on a cluster.
        let mut objects = BTreeSet::new();
        let mut stack = vec![
            repo().join("kustomize/base"),
            repo().join("kustomize/components/backends"),
        ];
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
            } else if p.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&p).unwrap();
                for doc in serde_yaml::Deserializer::from_str(&text) {
                    let Ok(v) = serde_yaml::Value::deserialize(doc) else {
                        continue;
                    };
                    if let (Some(kind), Some(name)) =
                        (v["kind"].as_str(), v["metadata"]["name"].as_str())
                    {
                        objects.insert(format!("{}/{name}", kind.to_lowercase()));
                    }
                }
            }
        }
        for (w, _) in WORKLOADS {
            assert!(
                objects.contains(*w),
                "{w} is not in kustomize/: {objects:?}"
            );
        }
    }

    #[test]
    fn each_check_catches_what_it_is_for() {
        let names = Catalog::load().unwrap();
        let dashboards = Dashboard::load_all().unwrap();
        let good = load_all()
            .unwrap()
            .into_iter()
            .find(|s| s.id == "sql-postgres-outage")
            .unwrap();
        assert!(scenario(&good, &names, &dashboards).is_empty());
        let mut cases: Vec<(&str, Scenario)> = Vec::new();
        let mut s = good.clone();
        s.signal.promql = "sum(rate(sql_client_duration_seconds_count[1m]))".into();
        cases.push(("pre-v0.10", s));
        let mut s = good.clone();
        s.recovery.promql =
            r#"sum(rate(http_server_request_duration_seconds_count{http_status="503"}[1m]))"#
                .into();
        cases.push(("no label http_status", s));
        let mut s = good.clone();
        s.signal.promql = "sum(rate(http_server_request_duration_seconds_count))".into();
        cases.push(("does not parse", s));
        let mut s = good.clone();
        s.panel.title = "Errors".into();
        cases.push(("has no panel", s));
        let mut s = good.clone();
        s.revert.clear();
        cases.push(("revert does not undo", s));
        let mut s = good.clone();
        s.trigger.actions.push(Action::Env {
            target: "deployment/orders".into(),
            set: [("SLOW_MODE".to_owned(), "1".to_owned())].into(),
            unset: vec![],
        });
        cases.push(("SLOW_MODE is not a documented flag", s));
        let mut s = good.clone();
        s.trigger.actions[0] = Action::Cut {
            from: "deployment/orders".into(),
            to: "statefulset/postgres".into(),
            port: 5433,
        };
        cases.push(("listens on 5432", s));
        let mut s = good.clone();
        s.trigger.actions.push(Action::Scale {
            target: "deployment/billing".into(),
            replicas: 0,
        });
        cases.push(("not a workload", s));
        let mut s = good.clone();
        s.trigger.profile = Some("burst".into());
        cases.push(("no built-in profile", s));
        let mut s = good.clone();
        s.trigger.load =
            Some(serde_yaml::from_str("name: scenario-sql-postgres-outage\nsteps: []").unwrap());
        cases.push(("loadgen refuses it", s));
        let mut s = good.clone();
        s.signal.within = "2h".into();
        cases.push(("expected e.g. 90s", s));
        for (expected, s) in cases {
            let problems = scenario(&s, &names, &dashboards).join("\n");
            assert!(
                problems.contains(expected),
                "expected {expected:?}, got: {problems}"
            );
        }
        let twice = vec![good.clone(), good];
        let problems = catalog(&twice).unwrap().join("\n");
        assert!(problems.contains("id used twice") && problems.contains("only 2 scenarios"));
        assert!(problems.contains("no scenario for protocol Kafka"));
    }
}
