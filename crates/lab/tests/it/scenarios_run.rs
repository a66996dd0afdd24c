//! `lab scenario ID --assert` without a cluster (issue 16 item 2): the runner's polls, assertions,
//! reverts and reports against a real Prometheus (testkit) loaded with lab::dashboards::fixture —
//! a model of OBI's output built from OBI's source, not OBI — and the kubectl operations it issues,
//! checked as data: every object with kubernetes-validate, every cut with the NetworkPolicy
//! evaluator, every Job's arguments with loadgen's own parser. Operations are recorded by `Recorder`
//! (it runs nothing and answers nothing but "done"); no kind cluster or API server runs here, so the
//! run against a real kind lab is not verified by these tests.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use lab::dashboards::fixture::{Fixture, SPAN, STEP};
use lab::dashboards::names::Catalog;
use lab::manifests::Object;
use lab::prom::{self, Poll};
use lab::scenarios::model::Op;
use lab::scenarios::ops::{self, KubeOp, Lab};
use lab::scenarios::report::Status;
use lab::scenarios::run::{self, Exec, Options};
use lab::scenarios::{Scenario, find, load_all, netpol};
use testkit::prometheus::Prometheus;
use tokio_util::sync::CancellationToken;

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

#[test]
fn the_operations_are_the_documented_commands() {
    let line = |id: &str| all_lines(&ops::ops(&find(id).unwrap(), lab(), "1764590000").unwrap());
    let apply = "kubectl --context kind-mop apply --server-side --force-conflicts --field-manager mop-lab -f - < (stdin)";
    let ns = "kubectl --context kind-mop -n mop";
    assert_eq!(
        line("sql-postgres-outage"),
        [
            apply.to_owned(),
            format!(
                "{ns} wait --for=jsonpath={{.status.ready}}=1 job/loadgen-scenario-sql-postgres-outage-1764590000 --timeout 180s"
            ),
            apply.to_owned(),
            format!("{ns} rollout restart statefulset/postgres"),
            format!("{ns} rollout status statefulset/postgres --timeout 180s"),
            apply.to_owned(),
            format!(
                "{ns} delete job loadgen-scenario-sql-postgres-outage-1764590000 --ignore-not-found --wait=false"
            ),
            format!(
                "{ns} delete configmap loadgen-scenario-sql-postgres-outage-1764590000 --ignore-not-found"
            ),
        ]
    );
    // What the applies carry: the orders policy without its one egress rule, then as rendered.
    let o = ops::ops(&find("sql-postgres-outage").unwrap(), lab(), "1").unwrap();
    let policy = |op: &KubeOp| {
        let objects = lab::manifests::render::parse(op.stdin.as_ref().unwrap()).unwrap();
        assert_eq!(objects.len(), 1);
        objects[0].value.clone()
    };
    let (cut, restored) = (policy(&o.inject[0]), policy(&o.revert[0]));
    assert_eq!(cut["metadata"]["name"], "orders");
    assert_eq!(cut["spec"]["egress"], serde_json::json!([]), "{cut}");
    assert!(cut["metadata"]["annotations"][netpol::CUT_ANNOTATION].is_string());
    assert_eq!(cut["spec"]["ingress"], restored["spec"]["ingress"]);
    assert_eq!(
        restored["spec"]["egress"][0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "postgres"
    );
    assert!(restored["metadata"]["annotations"][netpol::CUT_ANNOTATION].is_null());

    let auth = line("grpc-auth-outage");
    assert_eq!(auth[2], format!("{ns} scale deployment/auth --replicas=0"));
    assert_eq!(
        auth[3..5],
        [
            format!("{ns} scale deployment/auth --replicas=1"),
            format!("{ns} rollout status deployment/auth --timeout 180s"),
        ]
    );
    let slow = line("kafka-slow-consumer");
    assert_eq!(
        slow[2],
        format!("{ns} set env deployment/events-notifications PROCESS_DELAY_MS=200")
    );
    assert_eq!(
        slow[4],
        format!("{ns} set env deployment/events-notifications PROCESS_DELAY_MS-")
    );
    let cold = line("redis-cold-cache");
    assert_eq!(
        cold[2],
        format!("{ns} delete pod -l app.kubernetes.io/name=redis --wait=true")
    );
}

#[test]
fn every_object_the_runner_applies_passes_strict_schema_validation_and_loadgen_accepts_its_job() {
    let dir = testkit::process::temp_dir("scenarios-run").unwrap();
    let mut yaml = String::new();
    let mut jobs = 0;
    for s in load_all().unwrap() {
        let o = ops::ops(&s, lab(), "1764590000").unwrap();
        let applied: Vec<&KubeOp> = o.load.iter().chain(&o.inject).chain(&o.revert).collect();
        for op in applied.iter().filter_map(|op| op.stdin.as_ref()) {
            yaml.push_str(op);
        }
        let objects = lab::manifests::render::parse(o.load[0].stdin.as_ref().unwrap()).unwrap();
        check_job_args(&s, &objects, &dir);
        jobs += 1;
    }
    assert_eq!(jobs, lab::scenarios::CATALOG.len());
    let file = dir.join("applied.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let out = std::process::Command::new("kubernetes-validate")
        .args(["-k", "1.36.0", "--strict"])
        .arg(&file)
        .output()
        .expect("`kubernetes-validate` not found: pip install kubernetes-validate (see .ci/run)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.matches(" passed for resource").count() >= jobs,
        "{text}"
    );
    // The check can fail: a misspelt field in a cut copy is caught.
    std::fs::write(&file, yaml.replacen("podSelector", "podSelektor", 1)).unwrap();
    let out = std::process::Command::new("kubernetes-validate")
        .args(["-k", "1.36.0", "--strict"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    std::fs::remove_dir_all(dir).unwrap();
}

/// The Job's `args` parsed and prepared by loadgen itself, with the ConfigMap's file where the
/// pod mounts it (here: a temporary folder).
fn check_job_args(s: &Scenario, objects: &[Object], dir: &Path) {
    use clap::Parser;
    let job = objects.iter().find(|o| o.kind == "Job").unwrap();
    let args: Vec<String> = job.value["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let mut argv = vec!["loadgen".to_owned()];
    argv.extend(
        args.iter()
            .map(|a| match a.strip_prefix(lab::kind::load::SCENARIO_DIR) {
                Some(file) => {
                    let cm = objects.iter().find(|o| o.kind == "ConfigMap").unwrap();
                    let path = dir.join(file.trim_start_matches('/'));
                    std::fs::write(
                        &path,
                        cm.value["data"][file.trim_start_matches('/')]
                            .as_str()
                            .unwrap(),
                    )
                    .unwrap();
                    path.display().to_string()
                }
                None => a.clone(),
            }),
    );
    assert_eq!(argv[argv.len() - 2], "--duration", "{argv:?}");
    let cli = loadgen::cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{}: {e}", s.id));
    let prepared = cli
        .command
        .prepare()
        .unwrap_or_else(|e| panic!("{}: {argv:?}: {e:#}", s.id));
    let _ = prepared;
}

#[test]
fn each_cut_takes_away_exactly_its_edge_and_a_deny_policy_would_not() {
    let lab = lab();
    let mut cuts = 0;
    for s in load_all().unwrap() {
        for a in &s.trigger.actions {
            if let lab::scenarios::model::Action::Cut { from, to, port } = a {
                let cut = netpol::cut(&lab.rendered, from, to, *port).unwrap();
                netpol::verify(&lab.rendered, &cut, &lab.pods, from, to, *port).unwrap();
                let after = netpol::with_replaced(&lab.rendered, &cut.copies);
                let changed = netpol::changed_edges(&lab.rendered, &after, &lab.pods);
                eprintln!(
                    "{}: {} replaced; changed: {changed:?}",
                    s.id,
                    cut.copies[0].id()
                );
                cuts += 1;
            }
        }
    }
    assert_eq!(cuts, 2, "sql-postgres-outage and redis-outage-bypass");

    // Why the cut replaces allows: a "deny" policy (egress of orders, no rules) adds nothing to
    // deny with — allows are additive, so orders still reaches PostgreSQL.
    let deny: Object = Object::from_value(serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "mop-cut-orders-postgres", "namespace": "mop"},
        "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "orders"}},
                 "policyTypes": ["Egress"]}
    }))
    .unwrap();
    let mut with_deny = lab.rendered.clone();
    with_deny.objects.push(deny);
    assert!(netpol::changed_edges(&lab.rendered, &with_deny, &lab.pods).is_empty());

    // The proof can fail: a cut that drops all of the gateway's egress also cuts it off catalog.
    let mut cut = netpol::cut(
        &lab.rendered,
        "deployment/gateway",
        "deployment/redis",
        6379,
    )
    .unwrap();
    cut.copies[0].value["spec"]["egress"] = serde_json::json!([]);
    let err = netpol::verify(
        &lab.rendered,
        &cut,
        &lab.pods,
        "deployment/gateway",
        "deployment/redis",
        6379,
    )
    .unwrap_err();
    assert!(err.to_string().contains("catalog"), "{err}");
    // An edge the lab does not have cannot be cut.
    let err =
        netpol::cut(&lab.rendered, "deployment/orders", "deployment/redis", 6379).unwrap_err();
    assert!(err.to_string().contains("nothing to cut"), "{err}");
}

#[test]
fn kubectl_accepts_every_command_line_and_object_up_to_the_missing_api_server() {
    // The real kubectl, pointed at a closed loopback port: a command line it accepts (flags, wait
    // conditions, resource names, the YAML on stdin) fails only when it calls the API server. No
    // server answers anything here — this proves the commands parse, not what a cluster does.
    let dir = testkit::process::temp_dir("scenarios-kubectl").unwrap();
    let config = dir.join("kubeconfig");
    std::fs::write(
        &config,
        "apiVersion: v1\nkind: Config\nclusters: [{name: none, cluster: {server: \"http://127.0.0.1:1\"}}]\n\
         users: [{name: none, user: {}}]\ncontexts: [{name: kind-mop, context: {cluster: none, user: none}}]\n",
    )
    .unwrap();
    let kubectl = |args: &[String], stdin: Option<&String>| -> String {
        use std::io::Write;
        let mut child = std::process::Command::new("kubectl")
            .env("KUBECONFIG", &config)
            .args(["--context", "kind-mop"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("`kubectl` not found: install kubectl ≥ 1.32 (or `nix develop`)");
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(stdin.map_or(&b""[..], |s| s.as_bytes()))
            .unwrap();
        drop(pipe);
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded without a server");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // "The connection to the server … was refused", or apply's schema download "connection refused".
    let reached = |err: &str| err.contains("127.0.0.1:1") && err.contains("refused");
    let mut seen = BTreeSet::new();
    for s in load_all().unwrap() {
        let o = ops::ops(&s, lab(), "1764590000").unwrap();
        for op in o
            .load
            .iter()
            .chain(&o.inject)
            .chain(&o.revert)
            .chain(&o.cleanup)
        {
            // One run per distinct command shape (job names aside) keeps this to a few seconds.
            let shape = (
                op.args
                    .iter()
                    .map(|a| a.replace(&s.id, "ID"))
                    .collect::<Vec<_>>(),
                op.stdin.is_some(),
            );
            if op.stdin.is_none() && !seen.insert(shape) {
                continue;
            }
            let err = kubectl(&op.args, op.stdin.as_ref());
            assert!(reached(&err), "{}: {}\n{err}", s.id, op.line());
        }
    }
    assert!(seen.len() >= 8, "{seen:?}");
    // The check can fail: kubectl rejects a misspelt flag or wait condition before any call.
    for bad in [
        vec!["-n", "mop", "scale", "deployment/auth", "--replica=0"],
        vec![
            "-n",
            "mop",
            "wait",
            "--for=jsonpath{.status.ready}=1",
            "job/x",
        ],
    ] {
        let args: Vec<String> = bad.iter().map(|a| (*a).to_owned()).collect();
        let err = kubectl(&args, None);
        assert!(!reached(&err), "{bad:?}: {err}");
    }
    let apply: Vec<String> = ["apply", "--server-side", "-f", "-"]
        .map(String::from)
        .to_vec();
    let err = kubectl(&apply, Some(&"kind: [\n".to_owned()));
    assert!(
        !reached(&err) && err.contains("error parsing STDIN"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
