//! The kind lab's manifests, checked with the real tools that run here — `kubectl kustomize`,
//! `kubernetes-validate`, `promtool` and the service binaries — and with the lab crate's own Pod
//! Security, footprint, NetworkPolicy, OBI and kind checks where no CNI, kubelet or OBI can run (a real
//! API server's verdict on the same objects: kube_api.rs).
//! Each check also gets a case it must reject, so none of them can pass by checking nothing.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use lab::manifests::pod::{PodTemplate, template_of, templates};
use lab::manifests::{Object, Rendered, render};
use xtask::tidy::manifests::{footprint, security};

/// The kind node's Kubernetes version (kindest/node v1.36.1 in kind-cluster.yaml): the schemas to
/// validate against (kubernetes-validate ships 1.36.0's).
const KUBERNETES_VERSION: &str = "1.36.0";

/// What the lab may use at most: the sum of memory limits of the kind overlay's long-running pods.
/// 4.5 GiB: 4 GiB held until OBI's limit was raised from 640 Mi to 1 GiB to clear its published
/// ≈600 MB start-up peak (OBI's performance page, opentelemetry.io/docs/zero-code/obi/performance/) with room for a node's many processes.
const FOOTPRINT_BUDGET: u64 = 4608 << 20;

/// Run-to-completion workloads that are running nearly all the time (the background load).
const ALWAYS_ON: &[&str] = &["CronJob mop/loadgen-constant"];

pub use xtask::project_root as repo;

pub fn overlay(name: &str) -> Rendered {
    render(&repo().join("kustomize/overlays").join(name)).unwrap()
}

/// The loadgen Job template (not in any overlay's resources: `just load` applies it).
pub fn loadgen_job() -> Object {
    let path = repo().join("kustomize/components/load/loadgen-job.yaml");
    let objects = lab::manifests::render::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(objects.len(), 1);
    objects.into_iter().next().unwrap()
}

fn validate(file: &Path) -> std::process::Output {
    Command::new(testkit::process::tool("kubernetes-validate"))
        .args(["-k", KUBERNETES_VERSION, "--strict"])
        .arg(file)
        .output()
        .expect("`kubernetes-validate` not found: run scripts/install-deps.sh (into its virtual environment)")
}

#[test]
fn overlays_render_cleanly_and_pass_strict_schema_validation() {
    let dir = testkit::process::temp_dir("manifests-validate").unwrap();
    for name in ["kind", "cluster"] {
        let rendered = overlay(name);
        assert!(
            rendered.objects.len() > 50,
            "{name}: only {} objects",
            rendered.objects.len()
        );
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, &rendered.yaml).unwrap();
        let out = validate(&file);
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{name} overlay fails validation:\n{text}"
        );
        assert!(!text.contains("ERROR"), "{name}:\n{text}");
    }
    let job = repo().join("kustomize/components/load/loadgen-job.yaml");
    let out = validate(&job);
    assert!(
        out.status.success(),
        "loadgen Job template: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The validator must catch a misspelt field — the kind of typo a cluster would reject at apply.
    let typo = dir.join("typo.yaml");
    let text = std::fs::read_to_string(&job)
        .unwrap()
        .replace("restartPolicy:", "restartPolcy:");
    std::fs::write(&typo, text).unwrap();
    assert!(
        !validate(&typo).status.success(),
        "kubernetes-validate --strict accepted an unknown field"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_deprecated_kustomize_field_fails_the_render() {
    let dir = testkit::process::temp_dir("manifests-deprecated").unwrap();
    std::fs::write(
        dir.join("kustomization.yaml"),
        "commonLabels: { a: b }\nresources: [cm.yaml]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .unwrap();
    let err = render(&dir).unwrap_err();
    assert!(err.to_string().contains("warnings"), "{err:#}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every pod template of the overlay and the loadgen Job template.
fn all_templates(rendered: &Rendered) -> Vec<PodTemplate> {
    let mut all = templates(rendered);
    all.push(template_of(&loadgen_job()).unwrap());
    all
}

#[test]
fn every_pod_outside_obi_meets_pod_security_restricted_and_the_labs_rules() {
    for name in ["kind", "cluster"] {
        let rendered = overlay(name);
        let all = all_templates(&rendered);
        assert!(all.len() >= 20, "{name}: {} pod templates", all.len());
        let violations: Vec<String> = all
            .iter()
            .filter(|t| t.namespace != "obi")
            .flat_map(security::violations)
            .collect();
        assert!(violations.is_empty(), "{name}:\n{}", violations.join("\n"));

        // The only pods in obi are OBI's, and the checker does reject them: privileged, host PID and
        // network, hostPath volumes.
        let obi: Vec<&PodTemplate> = all.iter().filter(|t| t.namespace == "obi").collect();
        assert_eq!(obi.len(), 1, "{name}: {obi:?}");
        let rejected = security::violations(obi[0]).join("\n");
        for rule in [
            "hostPID",
            "hostNetwork",
            "hostPath",
            "privileged must not be true",
        ] {
            assert!(
                rejected.contains(rule),
                "{name}: OBI not rejected for {rule}:\n{rejected}"
            );
        }

        // The namespaces enforce it, so the API server would refuse anything this test missed.
        let label = |ns: &str| {
            rendered
                .get("Namespace", ns)
                .and_then(|n| n.str_at("/metadata/labels/pod-security.kubernetes.io~1enforce"))
                .map(str::to_owned)
        };
        assert_eq!(label("mop").as_deref(), Some("restricted"));
        assert_eq!(label("observability").as_deref(), Some("restricted"));
        assert_eq!(label("obi").as_deref(), Some("privileged"));
    }
}

#[test]
fn app_containers_run_the_contracts_images_and_binaries() {
    let rendered = overlay("kind");
    let bins = lab::kind::POD_BINARIES;
    let mut seen = BTreeSet::new();
    for t in all_templates(&rendered) {
        for c in t.spec["containers"].as_array().unwrap() {
            let image = c["image"].as_str().unwrap();
            let Some(rest) = image.strip_prefix("mop/") else {
                continue;
            };
            let bin = rest
                .strip_suffix(":lab")
                .unwrap_or_else(|| panic!("{}: {image} is not mop/<bin>:lab", t.owner));
            assert!(bins.contains(&bin), "{}: unknown binary {bin}", t.owner);
            assert_eq!(
                c["command"],
                serde_json::json!([format!("/bin/{bin}")]),
                "{}",
                t.owner
            );
            assert_eq!(t.namespace, "mop", "{}", t.owner);
            if t.owner != "Job mop/loadgen" {
                assert_eq!(
                    c["imagePullPolicy"], "IfNotPresent",
                    "{}: kind loads images, never pulls",
                    t.owner
                );
            }
            // The grace period outlasts the binary's own drain (SHUTDOWN_GRACE, default 10 s, plus
            // auth's DRAIN_DELAY), so a rollout never SIGKILLs work in flight.
            let env = lab::manifests::pod::resolve_env(c, &t.namespace, &rendered).unwrap();
            let secs = |k: &str, default: f64| {
                env.iter().find(|(n, _)| n == k).map_or(default, |(_, v)| {
                    v.trim_end_matches('s').parse::<f64>().unwrap()
                })
            };
            let drain = secs("SHUTDOWN_GRACE", 10.0) + secs("DRAIN_DELAY", 0.0);
            let grace = t.spec["terminationGracePeriodSeconds"]
                .as_f64()
                .unwrap_or(30.0);
            assert!(
                grace > drain,
                "{}: grace {grace}s ≤ drain {drain}s",
                t.owner
            );
            seen.insert(bin.to_owned());
        }
    }
    assert_eq!(seen.len(), bins.len(), "binaries with a pod: {seen:?}");
}

#[test]
fn no_app_pod_carries_an_otel_or_otlp_setting() {
    // OBI stops instrumenting a process it sees exporting OTLP, and the lab is zero-code.
    for name in ["kind", "cluster"] {
        for t in all_templates(&overlay(name))
            .iter()
            .filter(|t| t.namespace == "mop")
        {
            for c in t.containers() {
                let text = serde_json::to_string(&(&c["env"], &c["args"], &c["command"])).unwrap();
                assert!(
                    !text.contains("OTEL_") && !text.to_lowercase().contains("otlp"),
                    "{}: {text}",
                    t.owner
                );
            }
        }
    }
}

#[test]
fn the_kind_footprint_fits_the_budget_and_docs_show_the_computed_table() {
    let rendered = overlay("kind");
    let rows = footprint::rows(&all_templates(&rendered)).unwrap();
    let sum = footprint::long_running_limit(&rows);
    assert!(
        sum <= FOOTPRINT_BUDGET,
        "long-running memory limits sum to {} MiB > {} MiB",
        sum >> 20,
        FOOTPRINT_BUDGET >> 20
    );
    // The background load runs 9 of every 10 minutes: it counts too.
    let always_on = footprint::always_on_limit(&rows, ALWAYS_ON);
    assert!(always_on > sum, "{ALWAYS_ON:?} not found");
    assert!(
        always_on <= FOOTPRINT_BUDGET,
        "with {ALWAYS_ON:?}: {} MiB > {} MiB",
        always_on >> 20,
        FOOTPRINT_BUDGET >> 20
    );
    // Requests never above limits (the scheduler would refuse the pod).
    for r in &rows {
        assert!(
            r.memory_request <= r.memory_limit && r.cpu_request <= r.cpu_limit,
            "{r:?}"
        );
    }
    // docs/kubernetes.md carries exactly this table, so the documented figure cannot drift.
    let table = footprint::markdown(&rows, ALWAYS_ON);
    let doc = std::fs::read_to_string(repo().join("docs/kubernetes.md")).unwrap();
    assert!(
        doc.contains(&table),
        "docs/kubernetes.md does not contain the computed footprint table; put this in it:\n{table}"
    );
}

mod env;
mod netpol;
mod obi_config;
mod postgres_init;
