//! The kubectl operations of every scenario as data: the documented command lines, the applied
//! objects (kubernetes-validate --strict, loadgen's parser for the Jobs), every cut against the
//! NetworkPolicy evaluator, and every command line parsed by the real kubectl up to the (missing)
//! API server.

use std::collections::BTreeSet;
use std::path::Path;

use lab::manifests::Object;
use lab::scenarios::ops::{self, KubeOp};
use lab::scenarios::{Scenario, find, load_all, netpol};

use super::{all_lines, lab};

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
    let out = std::process::Command::new(testkit::process::tool("kubernetes-validate"))
        .args(["-k", "1.36.0", "--strict"])
        .arg(&file)
        .output()
        .expect("`kubernetes-validate` not found: run scripts/install-deps.sh (into its virtual environment)");
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
    let out = std::process::Command::new(testkit::process::tool("kubernetes-validate"))
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
        let mut child = std::process::Command::new(testkit::process::tool("kubectl"))
            .env("KUBECONFIG", &config)
            .args(["--context", "kind-mop"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("`kubectl` not found: install kubectl ≥ 1.32 (scripts/install-deps.sh, or `nix develop`)");
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
