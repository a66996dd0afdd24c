//! `lab scenario ID --assert` without a cluster: the runner's polls, assertions,
//! reverts and reports against a real Prometheus (testkit) loaded with xtask::tidy::dashboards::fixture —
//! a model of OBI's output built from OBI's source, not OBI — and the kubectl operations it issues,
//! checked as data: every object with kubernetes-validate, every cut with the NetworkPolicy
//! evaluator, every Job's arguments with loadgen's own parser. Operations are recorded by `Recorder`
//! (it runs nothing and answers nothing but "done"); the operations against a real API server are
//! kube_api.rs' test, and the run against a real kind lab is not verified by these tests.
//!
//! This file: the runs against Prometheus; [`operations`]: the operations as data.

mod operations;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use lab::prom::{self, Poll};
use lab::scenarios::model::Op;
use lab::scenarios::ops::{self, KubeOp, Lab};
use lab::scenarios::report::Status;
use lab::scenarios::run::{self, Exec, Options};
use lab::scenarios::{Scenario, find};
use testkit::prometheus::Prometheus;
use tokio_util::sync::CancellationToken;
use xtask::tidy::dashboards::fixture::{Fixture, SPAN, STEP};
use xtask::tidy::dashboards::names::Catalog;

/// The fault window, in seconds after the fixture's start (as in tests/it/scenarios.rs).
const FAULT: (u64, u64) = (300, 600);

fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        Lab::from_repo(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")).unwrap()
    })
}

/// The fixture's end: the last whole step two minutes ago (backfilled blocks lie in the past).
fn end() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (now / STEP) * STEP - 120
}

/// A Prometheus holding `s`'s fixture: healthy, the scenario's `model` during FAULT, healthy.
fn prometheus(s: &Scenario, end: u64) -> Prometheus {
    let mut f = Fixture::lab(end).with_fault_window(FAULT.0, FAULT.1);
    for c in &s.model {
        let pairs = |m: &std::collections::BTreeMap<String, String>| -> Vec<(String, String)> {
            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        f.change(
            &c.metric,
            &pairs(&c.matches),
            &pairs(&c.set),
            c.rate,
            c.typical,
        );
    }
    let mut metrics: BTreeSet<String> = Catalog::metrics_of(&s.signal.promql);
    metrics.extend(Catalog::metrics_of(&s.recovery.promql));
    f.retain(&metrics);
    Prometheus::start_with_openmetrics(&f.openmetrics()).unwrap()
}

/// Polls replay the fixture: each query is evaluated one scrape step (15 s) later than the one
/// before, from the fault's start on — a continuous clock across the signal and recovery waits,
/// stopping at the fixture's end. (The fixture's fault lasts its 5 minutes whatever is reverted.)
fn replay(prom: &Prometheus, end: u64) -> Poll {
    let start = end - SPAN;
    let clock = Arc::new(AtomicU64::new(start + FAULT.0));
    Poll {
        prometheus: prom.url(),
        interval: Duration::from_millis(20),
        time: Some(Arc::new(move |_| {
            clock.fetch_add(STEP, Ordering::SeqCst).min(end) as f64
        })),
    }
}

/// Records the command lines the runner issues and runs none of them; the one containing `fail`
/// (if set) is answered with an error, as kubectl's would be.
#[derive(Default)]
struct Recorder {
    lines: Vec<String>,
    fail: Option<&'static str>,
}

impl Exec for Recorder {
    fn run(&mut self, op: &KubeOp) -> anyhow::Result<()> {
        self.lines.push(op.line());
        match self.fail {
            Some(f) if op.line().contains(f) => anyhow::bail!("exit status: 1: error: timed out"),
            _ => Ok(()),
        }
    }
}

fn lines(ops: &[KubeOp]) -> Vec<String> {
    ops.iter().map(KubeOp::line).collect()
}

fn all_lines(o: &ops::Ops) -> Vec<String> {
    let mut v = lines(&o.load);
    v.extend(lines(&o.inject));
    v.extend(lines(&o.revert));
    v.extend(lines(&o.cleanup));
    v
}

#[tokio::test]
async fn the_prometheus_client_reads_values_series_and_errors_from_a_real_prometheus() {
    let s = find("sql-postgres-outage").unwrap();
    let end = end();
    let prom = prometheus(&s, end);
    let at = Some((end - SPAN + FAULT.1 - STEP) as f64);
    let v = prom::query_value_at(&prom.url(), &s.signal.promql, at)
        .await
        .unwrap();
    assert!(v.is_some_and(|v| s.signal.holds(v)), "{v:?}");
    let by_service = "sum by (service_name) (rate(http_server_request_duration_seconds_count[1m]))";
    let series = prom::query_vector_at(&prom.url(), by_service, at)
        .await
        .unwrap();
    assert!(series.len() > 1, "{series:?}");
    assert!(series.iter().any(|(l, _)| l["service_name"] == "orders"));
    let err = prom::query_value_at(&prom.url(), by_service, at)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("series where one value was expected"),
        "{err:#}"
    );
    let err = prom::query_value(&prom.url(), "sum(rate(x[1m])")
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("parse error"), "{err:#}");
    assert_eq!(
        prom::query_value(&prom.url(), "no_such_metric")
            .await
            .unwrap(),
        None
    );
    let err = prom::query_value("http://127.0.0.1:9", "vector(1)")
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("not reachable"), "{err:#}");
}

#[tokio::test]
async fn a_scenario_whose_signal_holds_passes_injected_reverted_and_recovered_in_order() {
    let s = find("sql-postgres-outage").unwrap();
    let end = end();
    let prom = prometheus(&s, end);
    let o = ops::ops(&s, lab(), "1764590000").unwrap();
    let mut rec = Recorder::default();
    let opts = Options {
        assert: true,
        poll: replay(&prom, end),
    };
    let t = Instant::now();
    let r = run::run(&s, &o, &mut rec, &opts, &CancellationToken::new()).await;
    eprintln!("{}", r.render());
    assert!(r.passed(), "{}", r.render());
    assert_eq!(rec.lines, all_lines(&o), "every operation, in order");
    let phases: Vec<&str> = r.lines.iter().map(|l| l.phase).collect();
    assert_eq!(
        phases,
        [
            "load", "load", "inject", "inject", "inject", "signal", "revert", "recovery",
            "cleanup", "cleanup"
        ]
    );
    let signal = r.lines.iter().find(|l| l.phase == "signal").unwrap();
    assert!(
        signal.status == Status::Pass && signal.detail.contains("> 0.5"),
        "{signal:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
}

#[tokio::test]
async fn a_signal_that_never_holds_fails_within_its_bound_and_the_fault_is_still_reverted() {
    let mut s = find("sql-postgres-outage").unwrap();
    // A ratio never exceeds 2: the signal cannot hold, whatever the data.
    s.signal.threshold = 2.0;
    s.signal.within = "3s".into();
    let end = end();
    let prom = prometheus(&s, end);
    let o = ops::ops(&s, lab(), "1764590000").unwrap();
    let mut poll = replay(&prom, end);
    poll.interval = Duration::from_millis(500);
    for assert in [true, false] {
        let mut rec = Recorder::default();
        let opts = Options {
            assert,
            poll: poll.clone(),
        };
        let r = run::run(&s, &o, &mut rec, &opts, &CancellationToken::new()).await;
        eprintln!("{}", r.render());
        let signal = r.lines.iter().find(|l| l.phase == "signal").unwrap();
        assert!(
            signal.elapsed >= Duration::from_millis(2500)
                && signal.elapsed < Duration::from_secs(6),
            "bounded by its 3s: {signal:?}"
        );
        assert!(signal.detail.contains("not > 2 within 3s"), "{signal:?}");
        // The revert (the restored NetworkPolicy) and the cleanup ran all the same.
        assert_eq!(rec.lines, all_lines(&o));
        if assert {
            assert!(!r.passed() && signal.status == Status::Fail);
            assert!(r.render().contains("result: FAIL"), "{}", r.render());
        } else {
            // Watching: reported, not enforced; the recovery is watched too.
            assert!(
                r.passed() && signal.status == Status::NotSeen,
                "{}",
                r.render()
            );
        }
    }
}

#[tokio::test]
async fn ctrl_c_during_a_wait_stops_it_and_still_reverts() {
    let mut s = find("grpc-auth-outage").unwrap();
    s.signal.op = if s.signal.op == Op::Above {
        Op::Below
    } else {
        Op::Above
    };
    s.signal.threshold = if s.signal.op == Op::Above {
        1e12
    } else {
        -1e12
    };
    let end = end();
    let prom = prometheus(&s, end);
    let o = ops::ops(&s, lab(), "1764590000").unwrap();
    let stop = CancellationToken::new();
    let cancel = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let mut rec = Recorder::default();
    let opts = Options {
        assert: true,
        poll: replay(&prom, end),
    };
    let t = Instant::now();
    let r = run::run(&s, &o, &mut rec, &opts, &stop).await;
    eprintln!("{}", r.render());
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(r.interrupted && !r.passed());
    assert!(r.render().contains("INTERRUPTED"));
    assert!(
        rec.lines
            .iter()
            .any(|l| l.contains("scale deployment/auth --replicas=1")),
        "{:?}",
        rec.lines
    );
}

#[tokio::test]
async fn a_failed_inject_skips_the_waits_and_still_reverts_and_cleans_up() {
    let s = find("sql-postgres-outage").unwrap();
    let o = ops::ops(&s, lab(), "1764590000").unwrap();
    let mut rec = Recorder {
        fail: Some("rollout status statefulset/postgres"),
        ..Recorder::default()
    };
    // Nothing listens on port 9: a poll would fail loudly, but none may happen.
    let opts = Options {
        assert: true,
        poll: Poll::live("http://127.0.0.1:9"),
    };
    let r = run::run(&s, &o, &mut rec, &opts, &CancellationToken::new()).await;
    eprintln!("{}", r.render());
    assert!(!r.passed());
    let status = |phase: &str| {
        r.lines
            .iter()
            .filter(|l| l.phase == phase)
            .map(|l| l.status)
            .collect::<Vec<_>>()
    };
    assert_eq!(status("inject"), [Status::Pass, Status::Pass, Status::Fail]);
    assert_eq!(status("load"), [Status::Pass, Status::Pass]);
    assert_eq!(status("signal"), [Status::Skipped]);
    assert_eq!(status("revert"), [Status::Pass]);
    assert_eq!(status("cleanup"), [Status::Pass, Status::Pass]);
    assert!(r.render().contains("timed out"), "{}", r.render());
}
