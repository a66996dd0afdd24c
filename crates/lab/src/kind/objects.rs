//! The rendered kind overlay as objects: split into the two apply phases, and read for what to wait
//! for (rollouts, Jobs) and which third-party images it runs (what `just prefetch` saves).
//!
//! `kubectl kustomize` runs once; the split happens here rather than in two overlays, so the phases
//! can never drift from what a plain `kubectl apply -k` would create.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::{Context, bail};
use serde_json::Value;

/// The render's objects and their parser are the manifest checks' own (one parser in the crate).
pub use crate::manifests::render::{Object, parse};

/// The apply phases (docs/kubernetes.md): the foundation (namespaces, CRDs, cluster-scoped RBAC, OBI and the
/// observability stack), then — once OBI is Ready — the apps and their backends in `mop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Foundation,
    Apps,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Foundation => "namespaces, CRDs, cluster RBAC, obi, observability",
            Phase::Apps => "backends and apps in mop",
        })
    }
}

/// Kinds that live outside namespaces and belong to the foundation phase.
const CLUSTER_SCOPED: [&str; 11] = [
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "PriorityClass",
    "StorageClass",
    "PersistentVolume",
    "IngressClass",
    "RuntimeClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
];

/// `Kind/name` (or `namespace/Kind/name`), for plans and messages.
pub fn id(o: &Object) -> String {
    match &o.namespace {
        Some(ns) => format!("{ns}/{}/{}", o.kind, o.name),
        None => format!("{}/{}", o.kind, o.name),
    }
}

/// The apply phase an object belongs to; an object in no known place is an error.
pub fn phase(o: &Object) -> anyhow::Result<Phase> {
    match o.namespace.as_deref() {
        None if CLUSTER_SCOPED.contains(&o.kind.as_str()) => Ok(Phase::Foundation),
        None => bail!(
            "{} has no namespace: the kind overlay must place every namespaced object",
            id(o)
        ),
        Some("obi" | "observability") => Ok(Phase::Foundation),
        Some("mop") => Ok(Phase::Apps),
        Some(other) => bail!(
            "{} is in namespace {other}, not obi, observability or mop",
            id(o)
        ),
    }
}

/// Marks every pod template that runs one of our images with that image's build (`images`: bin →
/// Nix store hash of its stream). The tag `mop/<bin>:lab` never changes, so without this a rebuilt
/// image would not roll out on a second `just up`; with it, changed images roll and unchanged ones
/// leave the objects byte-identical (server-side apply is then a no-op).
pub fn annotate_images(objects: &mut [Object], images: &BTreeMap<String, String>) {
    for o in objects {
        let uses: Vec<String> = images_of(&o.value).into_iter().collect();
        let Some(template) = o.value.get_mut("spec").and_then(|s| s.get_mut("template")) else {
            continue;
        };
        for image in uses {
            let Some(bin) = image
                .strip_prefix("mop/")
                .and_then(|i| i.strip_suffix(":lab"))
            else {
                continue;
            };
            let Some(build) = images.get(bin) else {
                continue;
            };
            let Some(template) = template.as_object_mut() else {
                continue;
            };
            let meta = template
                .entry("metadata")
                .or_insert_with(|| Value::Object(Default::default()));
            let Some(meta) = meta.as_object_mut() else {
                continue;
            };
            let annotations = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(annotations) = annotations.as_object_mut() {
                annotations.insert(format!("lab.mop/image-{bin}"), build.as_str().into());
            }
        }
    }
}

/// What `just up` applies: the render with our images' builds annotated ([`annotate_images`]) and
/// each Job named after its pod template ([`name_jobs_by_template`]). The one preparation the lab's
/// apply and its API-server test share.
pub fn prepare(objects: &mut [Object], images: &BTreeMap<String, String>) {
    annotate_images(objects, images);
    name_jobs_by_template(objects);
}

/// A Job's pod template is immutable, so re-applying a Job whose template changed — the orders image
/// rebuilt (its annotation above), an edited command — fails with "field is immutable" and stops a
/// second `just up`. Each Job is named `<name>-<hash of its template>` instead (configMapGenerator's
/// idiom): a changed Job is a new Job that runs again (`orders seed` is idempotent), an unchanged one
/// re-applies as a no-op. Old ones go by their `ttlSecondsAfterFinished`. Its pods keep their labels,
/// so NetworkPolicies and `kubectl logs -l app.kubernetes.io/name=<name>` still find them.
pub fn name_jobs_by_template(objects: &mut [Object]) {
    for o in objects.iter_mut().filter(|o| o.kind == "Job") {
        let template = o
            .value
            .pointer("/spec/template")
            .map(Value::to_string)
            .unwrap_or_default();
        let name = format!("{}-{:08x}", o.name, fnv1a(template.as_bytes()) as u32);
        if let Some(meta) = o.value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("name".into(), name.clone().into());
        }
        o.name = name;
    }
}

/// FNV-1a (64 bit): a stable hash across Rust releases, unlike `std`'s `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The objects of one phase, in render order, as a YAML stream for `kubectl apply -f -` — each
/// document written as JSON (valid YAML). Why not serde_yaml: it writes YAML 1.2, where `no` is a
/// plain string, while kubectl reads YAML 1.1, where an unquoted `no` is `false` — valkey's
/// `--appendonly no` reached the API server as a boolean and the whole apps phase was refused
/// (seen on a real kube-apiserver). JSON quotes every string.
pub fn phase_yaml(objects: &[Object], phase: Phase) -> anyhow::Result<String> {
    let mut out = String::new();
    for object in objects {
        if self::phase(object)? == phase {
            out.push_str("---\n");
            out.push_str(&serde_json::to_string(&object.value)?);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Every object's phase, so a misplaced object fails before anything is applied.
pub fn check_phases(objects: &[Object]) -> anyhow::Result<()> {
    objects.iter().try_for_each(|o| phase(o).map(|_| ()))
}

/// What `just up` waits for once everything is applied: each rollout, then each Job's completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    Rollout {
        kind: String,
        namespace: String,
        name: String,
    },
    Job {
        namespace: String,
        name: String,
    },
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wait::Rollout {
                kind,
                namespace,
                name,
            } => write!(f, "rollout {namespace}/{kind}/{name}"),
            Wait::Job { namespace, name } => write!(f, "job {namespace}/{name} complete"),
        }
    }
}

pub fn waits(objects: &[Object]) -> Vec<Wait> {
    let mut rollouts = Vec::new();
    let mut jobs = Vec::new();
    for o in objects {
        let namespace = o.namespace.clone().unwrap_or_default();
        match o.kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" => rollouts.push(Wait::Rollout {
                kind: o.kind.to_lowercase(),
                namespace,
                name: o.name.clone(),
            }),
            "Job" => jobs.push(Wait::Job {
                namespace,
                name: o.name.clone(),
            }),
            _ => {}
        }
    }
    rollouts.extend(jobs);
    rollouts
}

/// Every container image the render runs (pods, pod templates, CronJobs' job templates).
pub fn images(objects: &[Object]) -> BTreeSet<String> {
    objects.iter().flat_map(|o| images_of(&o.value)).collect()
}

fn images_of(doc: &Value) -> BTreeSet<String> {
    let mut images = BTreeSet::new();
    let spec = doc.get("spec");
    let pod_specs = [
        spec,
        spec.and_then(|s| s.get("template"))
            .and_then(|t| t.get("spec")),
        spec.and_then(|s| s.get("jobTemplate"))
            .and_then(|j| j.get("spec"))
            .and_then(|s| s.get("template"))
            .and_then(|t| t.get("spec")),
    ];
    for pod in pod_specs.into_iter().flatten() {
        for list in ["containers", "initContainers"] {
            let containers = pod.get(list).and_then(Value::as_array);
            for c in containers.into_iter().flatten() {
                if let Some(image) = c.get("image").and_then(Value::as_str) {
                    images.insert(image.to_owned());
                }
            }
        }
    }
    images
}

/// The images the lab pulls from registries (everything but our own `mop/<bin>:lab`).
pub fn third_party_images(objects: &[Object]) -> BTreeSet<String> {
    images(objects)
        .into_iter()
        .filter(|image| !image.starts_with("mop/"))
        .collect()
}

/// The node image(s) of kind-cluster.yaml (`nodes[].image`), which `just prefetch` saves as well.
pub fn node_images(kind_cluster_yaml: &str) -> anyhow::Result<BTreeSet<String>> {
    let config: Value = serde_yaml::from_str(kind_cluster_yaml).context("kind-cluster.yaml")?;
    let nodes = config.get("nodes").and_then(Value::as_array);
    Ok(nodes
        .into_iter()
        .flatten()
        .filter_map(|n| n.get("image").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RENDER: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: mop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: obi}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: obi, namespace: obi}
spec:
  template:
    spec:
      containers: [{name: obi, image: "otel/ebpf-instrument:v0.14.0"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: catalog, namespace: mop}
spec:
  template:
    spec:
      initContainers: [{name: wait, image: "mop/catalog:lab"}]
      containers: [{name: catalog, image: "mop/catalog:lab"}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: prometheus, namespace: observability}
spec:
  template:
    spec:
      containers: [{name: prometheus, image: "prom/prometheus:v3.14.0"}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: orders-seed, namespace: mop}
spec:
  template:
    spec:
      containers: [{name: seed, image: "mop/orders:lab"}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: loadgen-constant, namespace: mop}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: loadgen, image: "mop/loadgen:lab"}]
"#;

    #[test]
    fn foundation_holds_cluster_objects_obi_and_observability_apps_hold_mop() {
        let objects = parse(RENDER).unwrap();
        assert_eq!(objects.len(), 7);
        let foundation = phase_yaml(&objects, Phase::Foundation).unwrap();
        let apps = phase_yaml(&objects, Phase::Apps).unwrap();
        let names = |yaml: &str| -> Vec<String> { parse(yaml).unwrap().iter().map(id).collect() };
        assert_eq!(
            names(&foundation),
            [
                "Namespace/mop",
                "ClusterRole/obi",
                "obi/DaemonSet/obi",
                "observability/StatefulSet/prometheus"
            ]
        );
        assert_eq!(
            names(&apps),
            [
                "mop/Deployment/catalog",
                "mop/Job/orders-seed",
                "mop/CronJob/loadgen-constant"
            ]
        );
    }

    #[test]
    fn a_misplaced_object_fails_before_anything_is_applied() {
        let no_ns = parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loose}\n").unwrap();
        let err = check_phases(&no_ns).unwrap_err().to_string();
        assert!(err.contains("ConfigMap/loose has no namespace"), "{err}");
        let other =
            parse("apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: default}\n")
                .unwrap();
        assert!(
            check_phases(&other)
                .unwrap_err()
                .to_string()
                .contains("namespace default")
        );
        assert!(parse("metadata: {name: x}\n").is_err());
    }

    #[test]
    fn waits_are_every_rollout_then_every_job() {
        let waits = waits(&parse(RENDER).unwrap());
        let rollout = |kind: &str, ns: &str, name: &str| Wait::Rollout {
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
        };
        assert_eq!(
            waits,
            [
                rollout("daemonset", "obi", "obi"),
                rollout("deployment", "mop", "catalog"),
                rollout("statefulset", "observability", "prometheus"),
                Wait::Job {
                    namespace: "mop".into(),
                    name: "orders-seed".into()
                },
            ]
        );
    }

    #[test]
    fn images_come_from_every_pod_template_and_ours_are_not_third_party() {
        let objects = parse(RENDER).unwrap();
        let all: Vec<_> = images(&objects).into_iter().collect();
        assert_eq!(
            all,
            [
                "mop/catalog:lab",
                "mop/loadgen:lab",
                "mop/orders:lab",
                "otel/ebpf-instrument:v0.14.0",
                "prom/prometheus:v3.14.0"
            ]
        );
        let third: Vec<_> = third_party_images(&objects).into_iter().collect();
        assert_eq!(
            third,
            ["otel/ebpf-instrument:v0.14.0", "prom/prometheus:v3.14.0"]
        );
    }

    #[test]
    fn our_images_builds_annotate_the_pod_templates_that_run_them() {
        let mut objects = parse(RENDER).unwrap();
        let before = phase_yaml(&objects, Phase::Foundation).unwrap();
        let builds = BTreeMap::from([
            ("catalog".to_owned(), "abc123".to_owned()),
            ("orders".to_owned(), "def456".to_owned()),
        ]);
        annotate_images(&mut objects, &builds);
        let annotation = |id: &str, key: &str| {
            let o = objects.iter().find(|o| super::id(o) == id).unwrap();
            o.value["spec"]["template"]["metadata"]["annotations"][key]
                .as_str()
                .map(str::to_owned)
        };
        assert_eq!(
            annotation("mop/Deployment/catalog", "lab.mop/image-catalog").as_deref(),
            Some("abc123")
        );
        assert_eq!(
            annotation("mop/Job/orders-seed", "lab.mop/image-orders").as_deref(),
            Some("def456")
        );
        // Third-party pods are untouched, and so is everything when nothing was built.
        assert_eq!(phase_yaml(&objects, Phase::Foundation).unwrap(), before);
        let mut fresh = parse(RENDER).unwrap();
        annotate_images(&mut fresh, &BTreeMap::new());
        assert_eq!(
            phase_yaml(&fresh, Phase::Apps).unwrap(),
            phase_yaml(&parse(RENDER).unwrap(), Phase::Apps).unwrap()
        );
    }

    #[test]
    fn strings_yaml_1_1_would_read_as_booleans_stay_quoted() {
        let objects = parse(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: mop}\ndata: {a: \"no\", b: \"on\", c: \"1\"}\n",
        )
        .unwrap();
        let yaml = phase_yaml(&objects, Phase::Apps).unwrap();
        for quoted in [r#""a":"no""#, r#""b":"on""#, r#""c":"1""#] {
            assert!(yaml.contains(quoted), "{yaml}");
        }
        assert_eq!(parse(&yaml).unwrap()[0].value, objects[0].value);
    }

    #[test]
    fn jobs_are_named_after_their_template_so_a_changed_one_is_a_new_job() {
        let name = |build: &str| {
            let mut objects = parse(RENDER).unwrap();
            prepare(
                &mut objects,
                &BTreeMap::from([("orders".to_owned(), build.to_owned())]),
            );
            let job = objects.iter().find(|o| o.kind == "Job").unwrap();
            assert_eq!(
                job.value["metadata"]["name"].as_str(),
                Some(job.name.as_str())
            );
            job.name.clone()
        };
        assert!(
            name("one").starts_with("orders-seed-")
                && name("one").len() == "orders-seed-".len() + 8
        );
        assert_eq!(name("one"), name("one"));
        assert_ne!(name("one"), name("two"));
        // Only Jobs: the Deployment keeps its name.
        let mut objects = parse(RENDER).unwrap();
        prepare(&mut objects, &BTreeMap::new());
        assert!(
            objects
                .iter()
                .any(|o| o.kind == "Deployment" && o.name == "catalog")
        );
    }

    #[test]
    fn node_images_come_from_the_cluster_config() {
        let config = "kind: Cluster\nnodes:\n- role: control-plane\n  image: kindest/node:v1.36.1@sha256:abc\n";
        let images: Vec<_> = node_images(config).unwrap().into_iter().collect();
        assert_eq!(images, ["kindest/node:v1.36.1@sha256:abc"]);
    }
}
