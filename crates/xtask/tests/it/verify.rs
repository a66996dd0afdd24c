//! `lab verify`'s grid and completeness against a real Prometheus (testkit) loaded with OBI-shaped
//! data: the dashboards' model of OBI v0.14.0's series (xtask::tidy::dashboards::fixture — a model built from
//! OBI's source, not OBI's output) for the grid; for completeness, counters made from a real loadgen
//! report of a real run against a real catalog, as OBI would export them had it seen every request.
//! OBI, kind and Tempo cannot run here: the kind run is `just verify` (docs/verify.md).

// The grid and the completeness table are printed (`--nocapture`): docs/verify.md quotes that output.
#![allow(clippy::print_stdout)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab::verify::completeness::{self, Report, Verdict, Window};
use lab::verify::expected::{self, Sources};
use lab::verify::grid::{self, Backends, Status};
use lab::verify::{steps, visibility::Matrix};
use testkit::prometheus::Prometheus;
use xtask::tidy::dashboards::fixture::{Fixture, SPAN, STEP};

fn bin_dir() -> std::path::PathBuf {
    lab::local::plan::sibling_bin_dir(&std::env::current_exe().unwrap()).unwrap()
}

use xtask::project_root as repo;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The model of a healthy lab: the dashboards' fixture plus the one series verify expects that the
/// dashboards do not need (the analytics role dead-lettering a poison record, as the notifications
/// role does), added through the fixture's own `change` (a copy of a series with labels replaced,
/// given a rate for a window that spans the whole fixture).
fn healthy() -> Fixture {
    let end = (now() / STEP) * STEP - 120;
    let mut f = Fixture::lab(end).with_fault_window(0, SPAN + STEP);
    let l = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let added = f.change(
        "messaging_client_operation_duration_seconds",
        &[
            l("service_name", "events-notifications"),
            l("messaging_destination_name", "dlq"),
        ],
        &[
            l("service_name", "events-analytics"),
            l("k8s_deployment_name", "events-analytics"),
        ],
        Some(0.05),
        None,
    );
    assert_eq!(added, 1);
    f
}

/// The grid over `openmetrics`, with the mixed profile as the run (what `just verify` runs); the
/// Prometheus stays up for the caller.
async fn grid_over(openmetrics: &str) -> (Prometheus, Vec<grid::Row>) {
    let prom = Prometheus::start_with_openmetrics(openmetrics).unwrap();
    let sources = Sources::read(&bin_dir(), &repo()).unwrap();
    let scenario = loadgen::scenario::Scenario::load("mixed", &steps::variables()).unwrap();
    let mapped = steps::map(&scenario, &sources).unwrap();
    let exercised: BTreeSet<String> = mapped.iter().flat_map(|m| m.exercised.clone()).collect();
    let items = expected::items(&sources, expected::DEFAULT_WINDOW);
    let backends = Backends {
        prometheus: prom.url(),
        tempo: None,
        since: 0,
        until: now(),
    };
    let rows = grid::check(&items, &exercised, &Matrix::load().unwrap(), &backends)
        .await
        .unwrap();
    (prom, rows)
}

/// `lab verify --no-load` (the binary, as `just verify --no-load` runs it) against `prom`.
fn lab_verify(prom: &Prometheus) -> std::process::Output {
    Command::new(crate::support::lab_bin())
        .args([
            "verify",
            "--no-load",
            "--tempo",
            "",
            "--prometheus",
            &prom.url(),
        ])
        .env("LAB_BIN_DIR", bin_dir())
        .current_dir(repo())
        .output()
        .unwrap()
}

fn status_of<'a>(rows: &'a [grid::Row], subject: &str) -> &'a Status {
    &rows
        .iter()
        .find(|r| r.item.subject == subject)
        .unwrap_or_else(|| panic!("no row {subject}"))
        .status
}

#[tokio::test]
async fn a_healthy_lab_is_seen_everywhere_but_the_expected_gaps() {
    let (prom, rows) = grid_over(&healthy().openmetrics()).await;
    let rendered = grid::render(&rows);
    println!("{rendered}");
    assert!(grid::passed(&rows), "{rendered}");
    // Every exercised row and more were seen; the gaps are the matrix's.
    assert_eq!(
        status_of(&rows, "catalog GET /products/{id}"),
        &Status::Seen
    );
    assert_eq!(
        status_of(&rows, "auth /mop.auth.v1.AuthService/ValidateToken"),
        &Status::Seen
    );
    assert_eq!(status_of(&rows, "orders INSERT"), &Status::Seen);
    assert_eq!(status_of(&rows, "gateway GET"), &Status::Seen);
    assert_eq!(
        status_of(&rows, "events-analytics ← orders.created"),
        &Status::Seen
    );
    for r in rows
        .iter()
        .filter(|r| r.item.subject == "gateway → catalog")
    {
        assert_eq!(
            r.status,
            Status::Seen,
            "{} × {}",
            r.item.protocol,
            r.item.signal
        );
    }
    assert!(matches!(status_of(&rows, "gateway PUBLISH"), Status::Gap(r) if r.contains("pub/sub")));
    assert!(matches!(
        status_of(
            &rows,
            "gateway's call to catalog as a child of gateway's server span"
        ),
        Status::Gap(_)
    ));
    assert!(matches!(status_of(&rows, "catalog"), Status::Unchecked(_)));
    // Routes mixed never calls, with no series in the model, are not failures.
    assert_eq!(
        status_of(&rows, "gateway DELETE /cache/products/{id}"),
        &Status::NotExercised
    );
    for r in &rows {
        assert_ne!(r.status, Status::Missing, "{}", r.item.subject);
    }
    // The command says the same and exits 0.
    let out = lab_verify(&prom);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 missing ✘"), "{stdout}");
}

#[tokio::test]
async fn a_route_without_series_is_missing() {
    // OBI exported nothing for catalog's GET /products/{id}: its series removed from the model.
    let text: String = healthy()
        .openmetrics()
        .lines()
        .filter(|l| {
            !(l.starts_with("http_server_request_duration_seconds")
                && l.contains("service_name=\"catalog\"")
                && l.contains("http_route=\"/products/{id}\""))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let (prom, rows) = grid_over(&text).await;
    assert_eq!(
        status_of(&rows, "catalog GET /products/{id}"),
        &Status::Missing
    );
    assert!(!grid::passed(&rows));
    let missing: Vec<&str> = rows
        .iter()
        .filter(|r| r.status == Status::Missing)
        .map(|r| r.item.subject.as_str())
        .collect();
    assert_eq!(missing, ["catalog GET /products/{id}"]);
    assert!(grid::render(&rows).contains("✘   catalog GET /products/{id}"));
    let out = lab_verify(&prom);
    assert!(
        !out.status.success(),
        "lab verify passed with a route missing"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("verify failed"));
}

/// A real report: catalog from target/debug on a free port, loadgen's `constant` profile against it.
fn real_report() -> String {
    let port = testkit::process::free_port().unwrap();
    let mut catalog = Command::new(bin_dir().join("catalog"))
        .args(["--listen-addr", &format!("127.0.0.1:{port}")])
        .args(["--rate-limit-per-second", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("target/debug/catalog — build it with `cargo build --workspace --bins`");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "catalog did not listen within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // As in the cluster (verify::kind): JSON logs, the report written to stdout after the table, and
    // cut out of that output the way it is cut out of the Job's log.
    let out = Command::new(bin_dir().join("loadgen"))
        .args(["run", "constant", "--duration", "3s", "--rate", "40"])
        .args(["--out", "/dev/stdout"])
        .env("CATALOG_URL", format!("http://127.0.0.1:{port}"))
        .env("LOG_FORMAT", "json")
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let _ = catalog.kill();
    let _ = catalog.wait();
    assert!(out.status.success(), "loadgen failed");
    let log = String::from_utf8(out.stdout).unwrap();
    assert!(
        log.contains("catalog get product"),
        "the table comes first: {log}"
    );
    lab::verify::kind::report_from_log(&log).expect("no JSON report in loadgen's output")
}

/// OBI-shaped counters for the report's requests: per route and status (from each step's classes),
/// `base` before `t0`, rising linearly to `base + n` at `t1`, then by `second` × n until `t2`
/// (a second run OBI saw only a share of).
fn counters(report: &Report, json: &serde_json::Value, t: [u64; 3], second: f64) -> String {
    let sources = Sources::read(&bin_dir(), &repo()).unwrap();
    let scenario = loadgen::scenario::Scenario::load("constant", &steps::variables()).unwrap();
    let mapped = steps::map(&scenario, &sources).unwrap();
    let mut series: std::collections::BTreeMap<(String, String), f64> = Default::default();
    for (m, step) in mapped.iter().zip(json["steps"].as_array().unwrap()) {
        assert_eq!(step["name"], m.step.as_str());
        for classes in ["ok_classes", "expected_errors", "unexpected_errors"] {
            for (class, n) in step[classes].as_object().unwrap() {
                let labels = m
                    .counter
                    .selector
                    .split_once('{')
                    .unwrap()
                    .1
                    .trim_end_matches('}')
                    .to_owned();
                let labels = format!(
                    "{labels},http_response_status_code=\"{class}\",service_namespace=\"mop\",job=\"mop/catalog\",instance=\"catalog-0:catalog\""
                );
                *series.entry((labels, class.clone())).or_default() += n.as_f64().unwrap();
            }
        }
    }
    assert!(!report.steps.is_empty());
    let name = "http_server_request_duration_seconds";
    let mut out = format!("# TYPE {name} histogram\n");
    for ((labels, _), n) in &series {
        let base = 1000.0;
        for ts in (t[0] - 300..=t[2] + 60).step_by(STEP as usize) {
            let ramp = |a: u64, b: u64| ((ts.clamp(a, b) - a) as f64) / ((b - a) as f64);
            let v = (base + n * ramp(t[0], t[1]) + second * n * ramp(t[1], t[2])).round();
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {v} {ts}");
            let _ = writeln!(out, "{name}_count{{{labels}}} {v} {ts}");
            let _ = writeln!(out, "{name}_sum{{{labels}}} {} {ts}", v * 0.004);
        }
    }
    out.push_str("# EOF\n");
    out
}

#[tokio::test]
async fn completeness_divides_obis_counts_by_loadgens_report_and_fails_when_they_disagree() {
    let json = real_report();
    let report = Report::parse(&json).unwrap();
    let raw: serde_json::Value = serde_json::from_str(&json).unwrap();
    let t1 = (now() / STEP) * STEP - 600;
    let t = [t1 - 300, t1, t1 + 300];
    let prom = Prometheus::start_with_openmetrics(&counters(&report, &raw, t, 0.97)).unwrap();
    let sources = Sources::read(&bin_dir(), &repo()).unwrap();
    let scenario = loadgen::scenario::Scenario::load("constant", &steps::variables()).unwrap();
    let mapped = steps::map(&scenario, &sources).unwrap();

    // The first window: OBI saw every request.
    let first = Window {
        start: t[0] as f64,
        end: t[1] as f64,
    };
    let rows = completeness::check(&prom.url(), &report, &mapped, first, 0.01)
        .await
        .unwrap();
    let rendered = completeness::render(&rows, &report, first);
    println!("{rendered}");
    assert!(completeness::passed(&rows), "{rendered}");
    let product = rows
        .iter()
        .find(|r| r.label == "catalog GET /products/{id}")
        .unwrap();
    // Two steps share the route (a product, a missing product): their completed requests add up.
    let by_name = |n: &str| report.steps.iter().find(|s| s.name == n).unwrap().completed;
    assert_eq!(
        product.loadgen,
        by_name("catalog get product") + by_name("catalog missing product")
    );
    assert!(product.loadgen > 50, "{}", product.loadgen);
    assert_eq!(product.obi, product.loadgen as f64);
    assert!(rendered.contains("100.0 %"));

    // `lab verify --report` computes the same figures (its grid fails here: this Prometheus holds
    // only catalog's counters, no service graph).
    let file = testkit::process::temp_dir("verify-cli")
        .unwrap()
        .join("report.json");
    std::fs::write(&file, &json).unwrap();
    let out = Command::new(crate::support::lab_bin())
        .args([
            "verify",
            "--profile",
            "constant",
            "--tempo",
            "",
            "--prometheus",
            &prom.url(),
        ])
        .arg("--report")
        .arg(&file)
        .args(["--from", &t[0].to_string(), "--to", &t[1].to_string()])
        .env("LAB_BIN_DIR", bin_dir())
        .current_dir(repo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("catalog GET /products/{id}") && l.contains('%'))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("✔") && line.contains("100.0 %"), "{line}");

    // The second window: OBI counted 97 % of a run of the same size → ✘ on every route.
    let second = Window {
        start: t[1] as f64,
        end: t[2] as f64,
    };
    let rows = completeness::check(&prom.url(), &report, &mapped, second, 0.01)
        .await
        .unwrap();
    println!("{}", completeness::render(&rows, &report, second));
    assert!(!completeness::passed(&rows));
    assert!(rows.iter().all(|r| r.verdict == Verdict::Fail), "{rows:#?}");
    let product = rows
        .iter()
        .find(|r| r.label == "catalog GET /products/{id}")
        .unwrap();
    let ratio = product.ratio.unwrap();
    assert!((ratio - 0.97).abs() < 0.01, "{ratio}");
    // With a looser tolerance the same counts pass: the threshold is what decides (10 %: a count
    // of 17 × 0.97 rounds to 16, 94 %).
    let rows = completeness::check(&prom.url(), &report, &mapped, second, 0.1)
        .await
        .unwrap();
    assert!(completeness::passed(&rows));
}

#[test]
fn the_docs_matrix_is_the_data_file() {
    // docs/visibility.md's table row for row: protocol, signal, status, reason, source.
    let doc = std::fs::read_to_string(repo().join("docs/visibility.md")).unwrap();
    let start = doc
        .find("| protocol | signal | status | why | source |")
        .expect("docs/visibility.md has no matrix table");
    let rows: Vec<Vec<String>> = doc[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect();
    let matrix = Matrix::load().unwrap();
    let expected: Vec<Vec<String>> = matrix
        .matrix
        .iter()
        .map(|e| {
            let status = match e.status {
                lab::verify::visibility::Status::Seen => "seen",
                lab::verify::visibility::Status::Gap => "gap",
            };
            vec![
                e.protocol.clone(),
                e.signal.clone(),
                status.to_owned(),
                e.reason.clone(),
                e.source.clone(),
            ]
        })
        .collect();
    assert_eq!(
        rows, expected,
        "docs/visibility.md's matrix differs from crates/lab/visibility.yaml"
    );
}
