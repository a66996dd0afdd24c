//! From a scenario file to a report: variables, thresholds, JSON.

use std::sync::Arc;

use clap::Parser;
use loadgen::cli::Cli;
use loadgen::driver::Drivers;
use loadgen::run_cli::Live;
use tokio_util::sync::CancellationToken;

use crate::support;

const SCENARIO: &str = r#"
name: mini
schedule:
  start_rate: 50
  stages:
    - { target: 50, duration: 2s }
steps:
  - name: ok
    weight: 3
    http: { url: "${CATALOG_URL}/ok" }
  - name: planned 404
    weight: 1
    http: { url: "${CATALOG_URL}/missing" }
    expect: ["404"]
thresholds:
  - "p99 < 5s"
  - "unexpected_errors < 1%"
  - "dropped <= 0%"
"#;

async fn run(args: &[&str]) -> loadgen::report::Report {
    run_live(args, Live::Lines).await
}

async fn run_live(args: &[&str], live: Live) -> loadgen::report::Report {
    let cli = Cli::try_parse_from(args).unwrap();
    let prepared = cli.command.prepare().unwrap();
    loadgen::run_cli::run(
        &prepared,
        &Drivers::new().unwrap(),
        Arc::new(CancellationToken::new()),
        live,
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_file_runs_to_a_passing_report() {
    let (server, seen) = support::start().await;
    let addr = server.addr;
    let dir = std::env::temp_dir().join(format!("loadgen-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mini.yaml");
    std::fs::write(&file, SCENARIO).unwrap();
    let url = format!("http://{addr}");
    let report = run(&[
        "loadgen",
        "run",
        file.to_str().unwrap(),
        "--catalog-url",
        &url,
    ])
    .await;
    assert_eq!(report.total.planned, 100);
    assert_eq!(report.total.completed, 100);
    assert_eq!(seen.requests.load(std::sync::atomic::Ordering::SeqCst), 100);
    assert_eq!(
        report.steps[1].expected_errors.get("http:404").copied(),
        Some(report.steps[1].planned)
    );
    assert!(report.passed(), "{:#?}", report.thresholds);
    let json = serde_json::to_value(&report).unwrap();
    assert!(
        json["steps"][0]["histogram_intended"]
            .as_str()
            .unwrap()
            .len()
            > 10,
        "histograms are serialised"
    );
    assert!(report.table().contains("planned 404"));

    // The timeline covers the run second by second and the plot draws it.
    assert!(report.timeline.len() >= 2, "{:?}", report.timeline);
    assert_eq!(
        report.timeline.iter().map(|p| p.completed).sum::<u64>(),
        100
    );
    assert_eq!(report.percentile_curve.last().unwrap().percentile, 100.0);
    let svg = loadgen::plot::svg(&report);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(
        svg.matches("<polyline").count(),
        5,
        "p50, p99, max over time; two percentile curves"
    );
    let first = svg
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(
        first.split(' ').count(),
        report.timeline.len(),
        "one point per second"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breached_threshold_fails_the_report() {
    let (server, _) = support::start().await;
    let addr = server.addr;
    let dir = std::env::temp_dir().join(format!("loadgen-cli-b-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("boom.yaml");
    std::fs::write(&file, SCENARIO.replace("/missing", "/boom")).unwrap();
    let url = format!("http://{addr}");
    // `--rate` rescales the peak; `--duration` stretches the stages.
    let report = run(&[
        "loadgen",
        "run",
        file.to_str().unwrap(),
        "--catalog-url",
        &url,
        "--rate",
        "20",
        "--duration",
        "1s",
    ])
    .await;
    assert_eq!(report.total.planned, 20);
    let unexpected = report
        .thresholds
        .iter()
        .find(|t| t.threshold.starts_with("unexpected"))
        .unwrap();
    assert!(!unexpected.passed, "500s were not planned: {unexpected:?}");
    assert!(!report.passed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bar_path_runs_to_the_same_report() {
    let (server, seen) = support::start().await;
    let addr = server.addr;
    let url = format!("http://{addr}/ok");
    let args = [
        "loadgen",
        "http",
        "--url",
        &url,
        "--rate",
        "50",
        "--duration",
        "1s",
    ];
    // Under `cargo test` stderr is not a terminal, so indicatif draws nothing; the bar's updates
    // still run against the live recorder.
    let report = run_live(&args, Live::Bar).await;
    assert_eq!(report.total.planned, 50);
    assert_eq!(report.total.completed, 50);
    assert_eq!(seen.requests.load(std::sync::atomic::Ordering::SeqCst), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_the_binary_logs_plain_progress_lines() {
    let (server, _) = support::start().await;
    let addr = server.addr;
    let url = format!("http://{addr}/ok");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(["http", "--url", &url, "--rate", "40", "--duration", "2s"])
            .args(["--progress-every", "300ms"])
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let progress: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "progress")
        .collect();
    assert!(!progress.is_empty(), "{stdout}\n{stderr}");
    for field in [
        "completed",
        "rate",
        "in_flight",
        "unexpected",
        "dropped",
        "p99_ms",
    ] {
        assert!(
            progress[0].get(field).is_some(),
            "{field} missing in {}",
            progress[0]
        );
    }
    // Plain lines only: no carriage returns or escape sequences of a bar anywhere.
    for text in [&stdout, &stderr] {
        assert!(!text.contains('\r') && !text.contains('\u{1b}'), "{text}");
    }
    assert!(
        stdout.contains("generator lateness"),
        "the report table follows"
    );
}
