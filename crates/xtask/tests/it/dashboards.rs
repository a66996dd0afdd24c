//! The Grafana dashboards (grafana/), checked without a Grafana server (none can run here): the
//! committed JSON is the Foundation SDK generator's output, type-checks against Grafana's own schema,
//! has no overlapping panels and only provisioned datasources; every PromQL parses and uses only OBI
//! v0.14.0's, the exporters' or Prometheus' names; every TraceQL/LogQL parses; and every PromQL query
//! returns data from a real Prometheus loaded with a model of OBI's output, derived panels the values
//! that model implies (see xtask::tidy::dashboards::fixture).

use std::collections::BTreeSet;

use testkit::prometheus::Prometheus;
use xtask::tidy::dashboards::coverage::{self, Allowlist, Outcome};
use xtask::tidy::dashboards::fixture::{Fixture, STEP, expectations};
use xtask::tidy::dashboards::layout::{datasources, overlaps, provisioned_datasources, teaching};
use xtask::tidy::dashboards::model::{Dashboard, Lang, split_label_values};
use xtask::tidy::dashboards::names::Catalog;
use xtask::tidy::dashboards::substitute::{defaults, substitute};
use xtask::tidy::dashboards::{DASHBOARDS, grafana_dir, toolchain};

fn dashboards() -> Vec<Dashboard> {
    Dashboard::load_all().unwrap()
}

/// Every query of `lang`, variables substituted: (dashboard, owner, expression).
fn substituted(lang: Lang) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for d in dashboards() {
        let vars = defaults(&d);
        for q in d.queries().into_iter().filter(|q| q.lang == lang) {
            let expr = substitute(&q.expr, &vars)
                .unwrap_or_else(|e| panic!("{}: {}: {e}", q.dashboard, q.owner));
            out.push((q.dashboard, q.owner, expr));
        }
    }
    out
}

#[test]
fn committed_json_is_what_the_generator_produces() {
    let out = std::env::temp_dir().join(format!("mop-dashboards-{}", std::process::id()));
    toolchain::generate_into(&out).unwrap();
    let mut generated: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    generated.sort();
    let mut expected: Vec<String> = DASHBOARDS.iter().map(|n| format!("{n}.json")).collect();
    expected.sort();
    assert_eq!(
        generated, expected,
        "the generator writes exactly the dashboards kustomization.yaml lists"
    );
    for name in &expected {
        let fresh = std::fs::read_to_string(out.join(name)).unwrap();
        let committed =
            std::fs::read_to_string(grafana_dir().join("dashboards").join(name)).unwrap();
        assert!(
            fresh == committed,
            "grafana/dashboards/{name} is not the generator's output: run `npm run generate` in grafana/ and commit"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn definitions_and_dashboards_type_check_against_grafana_schema() {
    toolchain::typecheck_sources().unwrap();
    let all: Vec<(String, String)> = dashboards()
        .iter()
        .map(|d| (d.name.clone(), d.json.to_string()))
        .collect();
    toolchain::typecheck_against_schema(&all).unwrap();
    // The check can fail: an unknown key, a string gridPos and a legacy string datasource are each refused.
    let broken = [
        ("unknown_key", r#"{"title": "x", "refreshh": "5s"}"#),
        (
            "string_gridpos",
            r#"{"title": "x", "panels": [{"type": "timeseries", "gridPos": {"x": "0", "y": 0, "w": 1, "h": 1}}]}"#,
        ),
        (
            "string_datasource",
            r#"{"title": "x", "panels": [{"type": "timeseries", "datasource": "Prometheus"}]}"#,
        ),
    ];
    let broken: Vec<(String, String)> = broken
        .iter()
        .map(|(n, j)| ((*n).to_owned(), (*j).to_owned()))
        .collect();
    let err = toolchain::typecheck_against_schema(&broken)
        .unwrap_err()
        .to_string();
    for (name, _) in &broken {
        assert!(
            err.contains(&format!("{name}.ts(")),
            "tsc should reject {name}: {err}"
        );
    }
}

#[test]
fn panels_do_not_overlap_use_provisioned_datasources_and_teach() {
    let provisioned = provisioned_datasources().unwrap();
    assert_eq!(
        provisioned.keys().map(String::as_str).collect::<Vec<_>>(),
        ["loki", "prometheus", "tempo"],
        "fixed datasource uids"
    );
    let mut problems = Vec::new();
    for d in dashboards() {
        problems.extend(overlaps(&d));
        problems.extend(datasources(&d, &provisioned));
        problems.extend(teaching(&d));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_promql_parses_and_uses_only_obi_exporter_or_prometheus_names() {
    let catalog = Catalog::load().unwrap();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (dashboard, owner, expr) in substituted(Lang::PromQL) {
        checked += 1;
        problems.extend(
            catalog
                .check(&expr)
                .into_iter()
                .map(|p| format!("{dashboard} / {owner}: {p}\n  {expr}")),
        );
    }
    for (dashboard, owner, expr) in substituted(Lang::LabelValues) {
        checked += 1;
        let Some((selector, label)) = split_label_values(&expr) else {
            problems.push(format!(
                "{dashboard} / {owner}: not label_values(selector, label): {expr}"
            ));
            continue;
        };
        problems.extend(
            catalog
                .check(selector)
                .into_iter()
                .map(|p| format!("{dashboard} / {owner}: {p}")),
        );
        let metrics = Catalog::metrics_of(selector);
        for m in metrics {
            if !catalog.metrics[&m].labels.contains(label) {
                problems.push(format!("{dashboard} / {owner}: {m} has no label {label}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        checked >= 100,
        "only {checked} PromQL expressions found: did the model lose panels?"
    );
    eprintln!("checked {checked} PromQL expressions");
}

#[test]
fn every_traceql_and_logql_parses() {
    let mut queries: Vec<(&str, String)> = Vec::new();
    for (_, _, expr) in substituted(Lang::TraceQL) {
        queries.push(("traceql", expr));
    }
    for (_, _, expr) in substituted(Lang::LogQL) {
        queries.push(("logql", expr));
    }
    let (traceql, logql) = (
        queries.iter().filter(|q| q.0 == "traceql").count(),
        queries.iter().filter(|q| q.0 == "logql").count(),
    );
    assert!(
        traceql >= 3 && logql >= 8,
        "{traceql} TraceQL, {logql} LogQL"
    );
    // The check can fail: one broken expression of each language rides along.
    queries.push(("traceql", "{ span.http.route = }".into()));
    queries.push(("logql", r#"{app="loadgen"} | json | unwrap rate"#.into()));
    let errors = toolchain::syntax_errors(&queries).unwrap();
    let broken: BTreeSet<&str> = errors.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        broken,
        BTreeSet::from([
            "{ span.http.route = }",
            r#"{app="loadgen"} | json | unwrap rate"#
        ]),
        "only the two deliberately broken expressions may fail: {errors:#?}"
    );
    eprintln!("parsed {traceql} TraceQL and {logql} LogQL expressions");
}

#[test]
fn the_fixture_uses_only_names_and_labels_of_the_obi_and_exporter_lists() {
    // The model must not invent what OBI does not publish: every series name and label is in the lists.
    let catalog = Catalog::load().unwrap();
    let mut problems = BTreeSet::new();
    for (name, labels) in Fixture::lab(1_800_000_000).shapes() {
        match catalog.metrics.get(&name) {
            None => {
                problems.insert(format!("{name} is in no list"));
            }
            Some(m) => problems.extend(
                labels
                    .iter()
                    .filter(|l| !m.labels.contains(*l))
                    .map(|l| format!("{name} has no label {l}")),
            ),
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_query_returns_data_from_a_real_prometheus_and_derived_panels_show_what_the_fixture_implies()
 {
    // 2 minutes in the past, on the sample grid: a fixed, recent window.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let end = (now / STEP) * STEP - 120;
    let fixture = Fixture::lab(end);
    let prom = Prometheus::start_with_openmetrics(&fixture.openmetrics()).unwrap();
    let at = end as f64;
    let mut problems = Vec::new();
    // Every PromQL target through the same coverage machinery a recording goes through; the fixture
    // models every series, so its allowlist is empty and every target must return finite data.
    let targets = coverage::targets(&dashboards(), &Catalog::load().unwrap()).unwrap();
    let ran = targets.len();
    let report = coverage::evaluate(targets, &[at], |expr, t| {
        Ok(prom.query(expr, t)?.iter().map(|s| s.value).collect())
    });
    let allow = Allowlist::none("the fixture (xtask::tidy::dashboards::fixture)");
    problems.extend(report.problems(&allow));
    problems.extend(
        report
            .rows
            .iter()
            .filter(|(_, o)| *o == Outcome::DataWithNaN)
            .map(|(t, _)| format!("{}: NaN/Inf beside data\n  {}", t.key(), t.expr)),
    );
    eprint!("{}", report.summary(&allow));
    for (dashboard, owner, expr) in substituted(Lang::LabelValues) {
        let (selector, label) = split_label_values(&expr).unwrap();
        match prom.label_values(label, selector, fixture.start as f64, at) {
            Ok(v) if v.is_empty() => {
                problems.push(format!("{dashboard} / {owner}: no values for {expr}"))
            }
            Err(e) => problems.push(format!("{dashboard} / {owner}: {e}")),
            Ok(_) => {}
        }
    }
    // Derived panels: the value the fixture implies, within floating-point noise.
    let all = dashboards();
    for x in expectations() {
        let d = all
            .iter()
            .find(|d| d.uid() == x.dashboard)
            .unwrap_or_else(|| panic!("no dashboard {}", x.dashboard));
        let panel = d
            .panels()
            .into_iter()
            .find(|p| p["title"] == x.panel)
            .unwrap_or_else(|| panic!("{}: no panel {:?}", x.dashboard, x.panel));
        let target = panel["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["refId"] == x.ref_id)
            .unwrap();
        let expr = substitute(target["expr"].as_str().unwrap(), &defaults(d)).unwrap();
        let result = prom.query(&expr, at).unwrap();
        let matching: Vec<_> = result
            .iter()
            .filter(|s| x.labels.iter().all(|(k, v)| s.label(k) == *v))
            .collect();
        match matching.as_slice() {
            [one] if (one.value - x.value).abs() <= 1e-6 * x.value.abs().max(1.0) => {}
            _ => problems.push(format!(
                "{} / {} {:?}: expected {} — got {matching:?}\n  {expr}",
                x.dashboard, x.panel, x.labels, x.value
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    eprintln!(
        "{ran} PromQL queries returned data; {} derived values matched",
        expectations().len()
    );
}

#[test]
fn the_overview_links_to_every_protocol_dashboard_and_every_dashboard_to_the_others() {
    let all = dashboards();
    let overview = all.iter().find(|d| d.name == "overview").unwrap();
    let urls: BTreeSet<String> = overview
        .panels()
        .iter()
        .flat_map(|p| p["links"].as_array().cloned().unwrap_or_default())
        .filter_map(|l| {
            l["url"]
                .as_str()
                .map(|u| u.split('?').next().unwrap_or_default().to_owned())
        })
        .collect();
    for uid in ["mop-http", "mop-grpc", "mop-sql", "mop-redis", "mop-kafka"] {
        assert!(
            urls.contains(&format!("/d/{uid}")),
            "overview links to {uid}: {urls:?}"
        );
        assert!(all.iter().any(|d| d.uid() == uid), "{uid} exists");
    }
    for d in &all {
        assert!(
            d.json["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "mop"),
            "{} is tagged mop",
            d.name
        );
        assert!(
            d.json["links"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["type"] == "dashboards" && l["tags"][0] == "mop"),
            "{} links to the mop dashboards",
            d.name
        );
    }
}

#[test]
fn provisioning_links_metrics_traces_and_logs_and_kustomize_generates_the_contracts_configmaps() {
    let read = |p: &str| -> serde_yaml::Value {
        serde_yaml::from_str(&std::fs::read_to_string(grafana_dir().join(p)).unwrap()).unwrap()
    };
    let ds = read("provisioning/datasources/datasources.yaml");
    let by_uid = |uid: &str| {
        ds["datasources"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|d| d["uid"] == uid)
            .unwrap()
            .clone()
    };
    let (prom, tempo, loki) = (by_uid("prometheus"), by_uid("tempo"), by_uid("loki"));
    assert_eq!(
        prom["jsonData"]["exemplarTraceIdDestinations"][0]["datasourceUid"],
        "tempo"
    );
    assert_eq!(
        tempo["jsonData"]["serviceMap"]["datasourceUid"],
        "prometheus"
    );
    assert_eq!(tempo["jsonData"]["nodeGraph"]["enabled"], true);
    assert_eq!(tempo["jsonData"]["tracesToLogsV2"]["datasourceUid"], "loki");
    assert_eq!(
        loki["jsonData"]["derivedFields"][0]["datasourceUid"],
        "tempo"
    );
    // The derived field's regex must find the trace id in a real log line of our services.
    let line = r#"{"timestamp":"2026-12-01T10:00:00Z","level":"INFO","message":"request","route":"/products/{id}","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#;
    let re = loki["jsonData"]["derivedFields"][0]["matcherRegex"]
        .as_str()
        .unwrap();
    assert_eq!(
        re, r#""trace_id":"([0-9a-f]{32})""#,
        "keep the regex and this check in step"
    );
    assert!(line.contains(r#""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736""#));
    let providers = read("provisioning/dashboards/providers.yaml");
    assert_eq!(
        providers["providers"][0]["options"]["path"],
        "/var/lib/grafana/dashboards"
    );

    let k = read("kustomization.yaml");
    assert_eq!(k["namespace"], "observability");
    let generated: Vec<(String, Vec<String>)> = k["configMapGenerator"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|g| {
            let files = g["files"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_owned())
                .collect();
            (g["name"].as_str().unwrap().to_owned(), files)
        })
        .collect();
    let mut expected = vec![
        (
            "grafana-datasources".to_owned(),
            vec!["provisioning/datasources/datasources.yaml".to_owned()],
        ),
        (
            "grafana-dashboard-providers".to_owned(),
            vec!["provisioning/dashboards/providers.yaml".to_owned()],
        ),
    ];
    expected.extend(DASHBOARDS.iter().map(|n| {
        (
            format!("grafana-dashboard-{n}"),
            vec![format!("dashboards/{n}.json")],
        )
    }));
    assert_eq!(generated, expected);
    for (_, files) in &generated {
        for f in files {
            assert!(grafana_dir().join(f).is_file(), "{f} exists");
        }
    }
}
