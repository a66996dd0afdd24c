//! Every scenario's assertion proven in both directions against a real Prometheus:
//! loaded with a model of OBI's output (xtask::tidy::dashboards::fixture, the dashboards' own model — not
//! OBI) that runs healthy for 5 minutes, then with the scenario's `model` changes for 5 minutes (the
//! fault), then healthy again. The expected signal must hold during the fault and not before or
//! after; the recovery signal the other way round. Each query must give exactly one value, as
//! `lab scenario --assert` will need on the kind lab.

use std::collections::BTreeSet;
use std::time::Instant;

use lab::scenarios::{Scenario, load_all};
use testkit::prometheus::Prometheus;
use xtask::tidy::dashboards::fixture::{Fixture, SPAN, STEP};
use xtask::tidy::dashboards::names::Catalog;

/// The fault window, in seconds after the fixture's start.
const FAULT: (u64, u64) = (300, 600);

/// The fixture of one scenario: healthy, fault, healthy; only the families its queries read.
fn fixture(s: &Scenario, end: u64) -> Fixture {
    let mut f = Fixture::lab(end).with_fault_window(FAULT.0, FAULT.1);
    for c in &s.model {
        let pairs = |m: &std::collections::BTreeMap<String, String>| -> Vec<(String, String)> {
            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        let n = f.change(
            &c.metric,
            &pairs(&c.matches),
            &pairs(&c.set),
            c.rate,
            c.typical,
        );
        assert!(
            n > 0,
            "{}: model change of {} matches no series of the fixture: {c:?}",
            s.id,
            c.metric
        );
    }
    let mut metrics: BTreeSet<String> = Catalog::metrics_of(&s.signal.promql);
    metrics.extend(Catalog::metrics_of(&s.recovery.promql));
    f.retain(&metrics);
    f
}

/// The one value of `expr` at `t`; more or fewer series is a problem of the scenario.
fn value(prom: &Prometheus, expr: &str, t: u64) -> Result<f64, String> {
    let r = prom.query(expr, t as f64).map_err(|e| e.to_string())?;
    match r.as_slice() {
        [one] => Ok(one.value),
        _ => Err(format!("{} series instead of one: {r:?}", r.len())),
    }
}

#[test]
fn every_scenario_signal_fires_during_its_fault_only_and_its_recovery_signal_after_it() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let end = (now / STEP) * STEP - 120;
    let start = end - SPAN;
    // Before the fault (the last healthy sample), at the fault's last sample (every range up to 4m
    // then lies inside it), and at the end: 5 minutes after the revert.
    let times = [
        ("before", start + FAULT.0 - STEP, false),
        ("fault", start + FAULT.1 - STEP, true),
        ("after", end, false),
    ];
    let scenarios = load_all().unwrap();
    let mut problems = Vec::new();
    let mut report = Vec::new();
    let t0 = Instant::now();
    for s in &scenarios {
        let prom = Prometheus::start_with_openmetrics(&fixture(s, end).openmetrics()).unwrap();
        let mut line = format!("{:<24}", s.id);
        for (name, t, faulty) in times {
            for (what, a, should_hold) in [
                ("signal", &s.signal, faulty),
                ("recovery", &s.recovery, !faulty),
            ] {
                match value(&prom, &a.promql, t) {
                    Err(e) => problems.push(format!("{} {what} at {name}: {e}", s.id)),
                    Ok(v) => {
                        if what == "signal" {
                            line.push_str(&format!(" {name}={v:.3}"));
                        }
                        if a.holds(v) != should_hold {
                            problems.push(format!(
                                "{} {what} at {name}: {v} {} — expected it to {}hold",
                                s.id,
                                a.describe().replace('\n', " "),
                                if should_hold { "" } else { "not " }
                            ));
                        }
                    }
                }
            }
        }
        report.push(line);
    }
    eprintln!(
        "{} scenarios against a real Prometheus in {:.1}s (signal values):\n{}",
        scenarios.len(),
        t0.elapsed().as_secs_f64(),
        report.join("\n")
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_scenario_whose_model_misses_its_signal_is_caught() {
    // The check can fail: the error burst's fault modelled on the wrong route leaves the 5xx ratio
    // where it was, so its signal never fires.
    let mut s = lab::scenarios::find("http-error-burst").unwrap();
    s.model[0]
        .matches
        .insert("http_route".into(), "/products".into());
    s.model[0].matches.remove("http_response_status_code");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let end = (now / STEP) * STEP - 120;
    let prom = Prometheus::start_with_openmetrics(&fixture(&s, end).openmetrics()).unwrap();
    let v = value(&prom, &s.signal.promql, end - SPAN + FAULT.1 - STEP).unwrap();
    assert!(
        !s.signal.holds(v),
        "a 200-only burst must not look like 5xx: {v}"
    );
}

/// Runs the `lab` binary with `args`: (success, stdout, stderr).
fn lab(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(crate::support::lab_bin())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn lab_scenario_lists_prints_plans_and_needs_a_kind_lab_to_run() {
    let (ok, list, _) = lab(&["scenario", "--list"]);
    assert!(ok);
    assert_eq!(
        list.lines().count(),
        lab::scenarios::CATALOG.len(),
        "{list}"
    );
    assert!(
        list.contains("kafka-poison-dlq") && list.contains(" kafka "),
        "{list}"
    );

    let (ok, plan, err) = lab(&["scenario", "redis-outage-bypass", "--assert", "--dry-run"]);
    assert!(ok, "{err}");
    for expected in [
        "2. inject: cut deployment/gateway → deployment/redis:6379",
        "then assert signal",
        "revert: restore deployment/gateway → deployment/redis",
        "then assert recovery",
        "panel \"Hit ratio — derived from OBI (HTTP)\"",
    ] {
        assert!(plan.contains(expected), "{expected:?} in:\n{plan}");
    }
    let (ok, all, _) = lab(&["scenario", "--all", "--dry-run"]);
    assert!(ok);
    assert_eq!(
        all.matches("\nscenario ").count() + 1,
        lab::scenarios::CATALOG.len()
    );

    let (ok, _, err) = lab(&["scenario", "nope", "--dry-run"]);
    assert!(
        !ok && err.contains("no scenario \"nope\"") && err.contains("sql-n-plus-one"),
        "{err}"
    );
    // Without --dry-run it needs a kind cluster (none here): it says so before changing anything.
    let (ok, _, err) = lab(&["scenario", "http-error-burst", "--assert"]);
    assert!(
        !ok && err.contains("no kind lab") && err.contains("just up"),
        "{err}"
    );
}

#[test]
fn every_scenario_traceql_parses_with_grafanas_grammar() {
    // Tempo cannot run here: the queries are checked with @grafana/lezer-traceql (syntax only).
    let mut queries: Vec<(&str, String)> = Vec::new();
    for s in load_all().unwrap() {
        for a in [&s.signal, &s.recovery] {
            queries.extend(a.traceql.iter().map(|q| ("traceql", q.clone())));
        }
    }
    let ours = queries.len();
    assert!(
        ours >= 8,
        "only {ours} scenarios say where traces show them"
    );
    // The check can fail: one broken expression rides along.
    queries.push(("traceql", "{ span.http.route = }".into()));
    let errors = xtask::tidy::dashboards::toolchain::syntax_errors(&queries).unwrap();
    let broken: Vec<&str> = errors.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(broken, ["{ span.http.route = }"], "{errors:#?}");
}
