//! The kind lab against a real Kubernetes API server: etcd and kube-apiserver at the kind node's
//! version (kindest/node in kind-cluster.yaml), built from their Go modules by `just kube-build` and
//! started by `testkit::kube`. The overlay goes through the lab's own apply (`kind::kube::apply_phase`,
//! what `just up` runs: server-side, warnings are errors), so the API server's validation, defaulting,
//! server-side apply and Pod Security admission (from the namespaces' labels) judge the real objects.
//!
//! What this cannot show: anything running. No kubelet, scheduler or controller manager runs here —
//! no pod starts, no Deployment gets a ReplicaSet, no Job completes, no NetworkPolicy is enforced —
//! so waits for rollouts are left out and Pod Security's *enforce* mode (which judges Pods) is asked
//! with server-side dry-run Pods made from every template.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};

use lab::cmd::Cmd;
use lab::kind::objects::{self, Phase};
use lab::kind::{CONTEXT, POD_BINARIES, run, status};
use lab::scenarios::ops::{self, Lab};
use serde_json::{Value, json};
use testkit::kube::KubeApiServer;

use crate::support::repo;

/// The server every test here shares (started on first use; its watchdog stops it with the binary).
fn server() -> &'static KubeApiServer {
    static SERVER: OnceLock<Result<KubeApiServer, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| KubeApiServer::start(&bin_dir(), CONTEXT).map_err(|e| e.0))
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The tests change the same objects (namespaces mop, observability, obi): one at a time.
fn turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `${MOP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mop}/kube/<kind node version>` (scripts/kube-build.sh).
fn bin_dir() -> PathBuf {
    let config = std::fs::read_to_string(repo().join("kustomize/overlays/kind/kind-cluster.yaml"))
        .expect("kind-cluster.yaml");
    let node = objects::node_images(&config).unwrap();
    let version = node
        .iter()
        .find_map(|i| i.strip_prefix("kindest/node:"))
        .and_then(|v| v.split('@').next())
        .expect("a kindest/node:vX.Y.Z image in kind-cluster.yaml")
        .to_owned();
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let cache = env("MOP_CACHE").unwrap_or_else(|| {
        env("XDG_CACHE_HOME")
            .or_else(|| env("HOME").map(|h| h.join(".cache")))
            .expect("HOME or XDG_CACHE_HOME")
            .join("mop")
    });
    cache.join("kube").join(version)
}

fn kubectl() -> Cmd {
    Cmd::new("kubectl")
        .arg("--kubeconfig")
        .arg(server().kubeconfig())
        .args(["--context", CONTEXT])
}

fn get(args: &[&str]) -> Value {
    let out = kubectl().args(args).args(["-o", "json"]).output().unwrap();
    serde_json::from_str(&out).unwrap()
}

/// The overlay as `just up` prepares it after building our images with `build` as every hash.
fn prepared(build: &str) -> Vec<objects::Object> {
    let mut objects = run::render(&repo().join("kustomize/overlays/kind")).unwrap();
    let builds: BTreeMap<String, String> = POD_BINARIES
        .iter()
        .map(|b| ((*b).to_owned(), build.to_owned()))
        .collect();
    objects::prepare(&mut objects, &builds);
    objects
}

fn apply_all(objects: &[objects::Object]) {
    for phase in [Phase::Foundation, Phase::Apps] {
        lab::kind::kube::apply_phase(&kubectl(), objects, phase).unwrap_or_else(|e| {
            panic!(
                "{phase}: {e:#}\n(server log tail: {})",
                tail(&server().log())
            )
        });
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Every pod template of the overlay as the Pod its controller would create, sent with
/// `--dry-run=server`: Pod Security's enforce mode judges Pods, not templates.
fn dry_run_pods(objects: &[objects::Object]) {
    for ns in ["mop", "observability", "obi"] {
        default_service_account(ns);
    }
    for o in objects {
        let Some(mut t) = lab::manifests::pod::template_of(o) else {
            continue;
        };
        // A StatefulSet's controller adds a volume per claim template.
        let claims = o
            .value
            .pointer("/spec/volumeClaimTemplates")
            .and_then(Value::as_array);
        for claim in claims.into_iter().flatten() {
            let name = claim["metadata"]["name"].as_str().unwrap();
            let volume = json!({"name": name, "persistentVolumeClaim": {"claimName": format!("{name}-{}-0", t.name)}});
            t.spec["volumes"].as_array_mut().unwrap().push(volume);
        }
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": format!("{}-dry-run", t.name),
                "namespace": t.namespace,
                "labels": t.labels,
            },
            "spec": t.spec,
        });
        let result = kubectl()
            .args([
                "--warnings-as-errors",
                "create",
                "--dry-run=server",
                "-f",
                "-",
            ])
            .stdin(pod.to_string())
            .output();
        assert!(result.is_ok(), "{}: {:#}", t.owner, result.unwrap_err());
    }
}

/// What kube-controller-manager's ServiceAccount controller would do: the `default` account of a
/// namespace, which the ServiceAccount admission plugin requires before it admits a pod there.
fn default_service_account(ns: &str) {
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}});
    kubectl()
        .args([
            "apply",
            "--server-side",
            "--field-manager",
            "testkit",
            "-f",
            "-",
        ])
        .stdin(sa.to_string())
        .output()
        .unwrap();
}

#[test]
fn the_kind_overlay_applies_server_side_and_again_after_an_image_change() {
    let _turn = turn();
    let first = prepared("build-one");
    apply_all(&first);
    dry_run_pods(&first);

    // The API server's defaulting happened (a strategy nobody wrote) and Pod Security really
    // enforces in mop: a privileged pod is refused there.
    let catalog = get(&["-n", "mop", "get", "deployment", "catalog"]);
    assert_eq!(catalog["spec"]["strategy"]["type"], "RollingUpdate");
    let privileged = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "privileged", "namespace": "mop"},
        "spec": {"containers": [{"name": "x", "image": "x", "securityContext": {"privileged": true}}]},
    });
    let refused = kubectl()
        .args(["create", "--dry-run=server", "-f", "-"])
        .stdin(privileged.to_string())
        .output()
        .unwrap_err();
    assert!(
        format!("{refused:#}").contains("violates PodSecurity"),
        "{refused:#}"
    );

    // `just up` again after the images changed: every pod template that runs one of ours changes.
    let version = catalog["metadata"]["resourceVersion"].clone();
    let second = prepared("build-two");
    apply_all(&second);
    let catalog = get(&["-n", "mop", "get", "deployment", "catalog"]);
    assert_ne!(catalog["metadata"]["resourceVersion"], version);
    assert_eq!(
        catalog["spec"]["template"]["metadata"]["annotations"]["lab.mop/image-catalog"],
        "build-two"
    );
    // The seed Job of each build is a Job of its own (its template, with the image annotation, is
    // immutable): both exist, neither apply failed.
    let seed = |objects: &[objects::Object]| {
        objects
            .iter()
            .find(|o| o.kind == "Job")
            .map(|o| o.name.clone())
            .unwrap()
    };
    assert_ne!(seed(&first), seed(&second));
    for name in [seed(&first), seed(&second)] {
        assert!(name.starts_with("orders-seed-"), "{name}");
        get(&["-n", "mop", "get", "job", name.as_str()]);
    }

    // And once more unchanged: server-side apply is a no-op, nothing is rewritten.
    apply_all(&second);
    let again = get(&["-n", "mop", "get", "deployment", "catalog"]);
    assert_eq!(
        again["metadata"]["resourceVersion"],
        catalog["metadata"]["resourceVersion"]
    );
}

#[test]
fn a_job_keeping_its_name_cannot_take_a_changed_template() {
    // Why Jobs are named after their template: the image annotation alone (the preparation before)
    // makes the second `just up` fail on the seed Job.
    let _turn = turn();
    let job = |build: &str| {
        let mut objects = run::render(&repo().join("kustomize/overlays/kind")).unwrap();
        let builds = BTreeMap::from([("orders".to_owned(), build.to_owned())]);
        objects::annotate_images(&mut objects, &builds);
        let mut job = objects.into_iter().find(|o| o.kind == "Job").unwrap();
        job.value["metadata"]["name"] = "orders-seed-fixed-name".into();
        serde_json::to_string(&job.value).unwrap()
    };
    let apply = |yaml: String| {
        kubectl()
            .args([
                "apply",
                "--server-side",
                "--field-manager",
                "mop-lab",
                "-f",
                "-",
            ])
            .stdin(yaml)
            .output()
    };
    // The namespace and the Secret the Job refers to come with the overlay.
    apply_all(&prepared("build-one"));
    apply(job("one")).unwrap();
    let err = apply(job("two")).unwrap_err();
    assert!(format!("{err:#}").contains("field is immutable"), "{err:#}");
    kubectl()
        .args(["-n", "mop", "delete", "job", "orders-seed-fixed-name"])
        .output()
        .unwrap();
}

#[test]
fn every_scenarios_kubernetes_actions_apply_and_revert() {
    let _turn = turn();
    apply_all(&prepared("build-one"));
    let lab = Lab::from_repo(&repo()).unwrap();
    // Waits need controllers (rollouts) or running pods (a Job's ready pod): none run here.
    let waits = |op: &ops::KubeOp| {
        op.args.iter().any(|a| a == "wait")
            || op.args.windows(2).any(|w| w == ["rollout", "status"])
    };
    let mut ran = 0;
    for s in lab::scenarios::load_all().unwrap() {
        let ops = ops::ops(&s, &lab, "kubeapi").unwrap();
        for (stage, list) in [
            ("load", &ops.load),
            ("inject", &ops.inject),
            ("revert", &ops.revert),
            ("cleanup", &ops.cleanup),
        ] {
            for op in list.iter().filter(|op| !waits(op)) {
                op.cmd_in(kubectl())
                    .output()
                    .unwrap_or_else(|e| panic!("{} {stage}: {}: {e:#}", s.id, op.what));
                ran += 1;
            }
        }
    }
    assert!(ran > 30, "only {ran} operations ran");
    // After every revert the overlay re-applies cleanly (nothing left changed that it cannot own).
    apply_all(&prepared("build-one"));
}

#[test]
fn obi_crash_loops_are_seen_in_what_the_api_server_reports() {
    // The OBI wait of `just up` reads pods and the DaemonSet as the API server returns them; no
    // kubelet runs, so the container statuses are written through the status subresource (what a
    // kubelet does) in a namespace of this test's own.
    let _turn = turn();
    let ns = "obi-wait-test";
    kubectl()
        .args(["create", "namespace", ns])
        .output()
        .unwrap();
    default_service_account(ns);
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "obi-x", "namespace": ns, "labels": {"app.kubernetes.io/name": "obi"}},
        "spec": {"containers": [{"name": "obi", "image": "otel/ebpf-instrument:v0.14.0"}]},
    });
    kubectl()
        .args(["create", "-f", "-"])
        .stdin(pod.to_string())
        .output()
        .unwrap();
    let pods = || get(&["-n", ns, "get", "pods", "-l", "app.kubernetes.io/name=obi"]);
    assert_eq!(status::failing(&pods()), None);
    let crash = json!({"status": {"phase": "Running", "containerStatuses": [{
        "name": "obi", "ready": false, "restartCount": 3,
        "image": "otel/ebpf-instrument:v0.14.0", "imageID": "",
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
    }]}});
    kubectl()
        .args([
            "-n",
            ns,
            "patch",
            "pod",
            "obi-x",
            "--subresource=status",
            "--type=merge",
            "-p",
        ])
        .arg(crash.to_string())
        .output()
        .unwrap();
    let failing = status::failing(&pods()).expect("a crash-looping OBI");
    assert_eq!(
        (failing.pod.as_str(), failing.container.as_str()),
        ("obi-x", "obi")
    );
    assert_eq!(
        failing.why,
        "CrashLoopBackOff, 3 restarts, last exit: Error (code 1)"
    );

    // The DaemonSet is Ready only once its status says every scheduled pod is.
    let ds = json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "obi", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "obi"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "obi"}},
                "spec": {"containers": [{"name": "obi", "image": "otel/ebpf-instrument:v0.14.0"}]},
            },
        },
    });
    kubectl()
        .args(["create", "-f", "-"])
        .stdin(ds.to_string())
        .output()
        .unwrap();
    let daemonset = || get(&["-n", ns, "get", "daemonset", "obi"]);
    assert!(!status::daemonset_ready(&daemonset()));
    let ready = json!({"status": {"desiredNumberScheduled": 1, "currentNumberScheduled": 1,
        "numberMisscheduled": 0, "numberReady": 1, "updatedNumberScheduled": 1,
        "numberAvailable": 1, "observedGeneration": 1}});
    kubectl()
        .args([
            "-n",
            ns,
            "patch",
            "daemonset",
            "obi",
            "--subresource=status",
            "--type=merge",
            "-p",
        ])
        .arg(ready.to_string())
        .output()
        .unwrap();
    assert!(status::daemonset_ready(&daemonset()));
}
