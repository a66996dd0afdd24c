//! The kind lab's manifests, checked with the real tools that run here — `kubectl kustomize`,
//! `kubernetes-validate`, `promtool` and the service binaries — and with the lab crate's own Pod
//! Security, footprint, NetworkPolicy, OBI and kind checks where no API server, CNI or OBI can run.
//! Each check also gets a case it must reject, so none of them can pass by checking nothing.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use lab::manifests::netpol::{Peer, PodPeer, Policies, peers};
use lab::manifests::pod::{PodTemplate, template_of, templates};
use lab::manifests::{Object, Rendered, footprint, kind, obi, render, security};
use serde_json::Value;

/// The kind node's Kubernetes version (kindest/node v1.36.1 in kind-cluster.yaml): the schemas to
/// validate against (kubernetes-validate ships 1.36.0's).
const KUBERNETES_VERSION: &str = "1.36.0";

/// What the lab may use at most: the sum of memory limits of the kind overlay's long-running pods.
const FOOTPRINT_BUDGET: u64 = 4 << 30;

/// Run-to-completion workloads that are running nearly all the time (the background load).
const ALWAYS_ON: &[&str] = &["CronJob mop/loadgen-constant"];

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

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
    Command::new("kubernetes-validate")
        .args(["-k", KUBERNETES_VERSION, "--strict"])
        .arg(file)
        .output()
        .expect("`kubernetes-validate` not found: pip install kubernetes-validate (see .ci/run)")
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
    let bins = [
        "catalog",
        "auth",
        "orders",
        "gateway",
        "events-producer",
        "events-consumer",
        "loadgen",
    ];
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
        "long-running memory limits sum to {} MiB > 4096 MiB",
        sum >> 20
    );
    // The background load runs 9 of every 10 minutes: it counts too.
    let always_on = footprint::always_on_limit(&rows, ALWAYS_ON);
    assert!(always_on > sum, "{ALWAYS_ON:?} not found");
    assert!(
        always_on <= FOOTPRINT_BUDGET,
        "with {ALWAYS_ON:?}: {} MiB > 4096 MiB",
        always_on >> 20
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

/// The real edges of the lab: (source app, destination app, port). Every other pod-to-pod connection
/// into namespace mop must be refused.
const MOP_EDGES: &[(&str, &str, u16)] = &[
    ("gateway", "catalog", 8081),
    ("gateway", "redis", 6379),
    ("orders", "postgres", 5432),
    ("orders-seed", "postgres", 5432),
    ("events-producer", "kafka", 9092),
    ("events-notifications", "kafka", 9092),
    ("events-analytics", "kafka", 9092),
    ("loadgen", "catalog", 8081),
    ("loadgen", "gateway", 8084),
    ("loadgen", "orders", 8083),
    ("loadgen", "events-producer", 8085),
    ("loadgen", "auth", 50051),
    ("loadgen", "postgres", 5432),
    ("loadgen", "redis", 6379),
    ("loadgen", "kafka", 9092),
    ("postgres-exporter", "postgres", 5432),
    ("redis-exporter", "redis", 6379),
    ("kafka-exporter", "kafka", 9092),
];

/// Edges into observability and obi that must be allowed.
const OBSERVABILITY_EDGES: &[(&str, &str, u16)] = &[
    ("grafana", "prometheus", 9090),
    ("grafana", "tempo", 3200),
    ("grafana", "loki", 3100),
    ("alloy", "loki", 3100),
    ("prometheus", "obi", 9400),
    ("prometheus", "postgres-exporter", 9187),
    ("prometheus", "redis-exporter", 9121),
    ("prometheus", "kafka-exporter", 9308),
    ("obi", "tempo", 4318),
];

/// A peer's app: its pods' `app.kubernetes.io/name` (the Job and both CronJobs are all `loadgen`), or the
/// workload name of traffic from outside the pod network (`host`, OBI on the host network).
fn app(peer: &Peer) -> &str {
    match &peer.pod {
        Some(p) => p
            .labels
            .get("app.kubernetes.io/name")
            .map_or("?", String::as_str),
        None => peer.name.rsplit('/').next().unwrap_or_default(),
    }
}

fn pod_ports(t: &PodTemplate) -> Vec<u16> {
    t.containers()
        .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| {
            p["containerPort"]
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
        })
        .collect()
}

fn check_edges(name: &str, host_ports: &[(&str, u16)]) {
    let rendered = overlay(name);
    let all = all_templates(&rendered);
    let node = Ipv4Addr::new(172, 18, 0, 2);
    let mut pods = peers(&all, node);
    // Several workloads share the app name loadgen (Job, CronJobs): one peer per app name is enough.
    let mut seen = BTreeSet::new();
    pods.retain(|p| seen.insert(app(p).to_owned()));
    let policies = Policies::of(&rendered).with_namespace("kube-system");
    let host = Peer {
        name: "host".into(),
        pod: None,
        ip: Ipv4Addr::new(172, 18, 0, 1),
    };
    let dns = Peer {
        name: "Deployment kube-system/coredns".into(),
        pod: Some(PodPeer {
            namespace: "kube-system".into(),
            labels: [("k8s-app".to_owned(), "kube-dns".to_owned())].into(),
            ports: Default::default(),
        }),
        ip: Ipv4Addr::new(10, 244, 0, 250),
    };
    let by_app = |a: &str| {
        pods.iter()
            .find(|p| app(p) == a)
            .unwrap_or_else(|| panic!("{name}: no pod {a}"))
    };

    let mut unexpected = Vec::new();
    let mut missing = Vec::new();
    for dst_t in all.iter().filter(|t| t.namespace == "mop") {
        let dst = by_app(&dst_t.labels["app.kubernetes.io/name"]);
        for port in pod_ports(dst_t) {
            for src in pods.iter().chain([&host]) {
                let expected = MOP_EDGES.contains(&(app(src), app(dst), port))
                    // Traffic from outside the pod network: the host (NodePorts) and host-network OBI.
                    || (src.pod.is_none() && host_ports.contains(&(app(dst), port)));
                let allowed = policies.allowed(src, dst, port, "TCP");
                if allowed && !expected {
                    unexpected.push(format!("{} → {}:{port}", src.name, dst.name));
                }
                if expected && !allowed {
                    missing.push(format!("{} → {}:{port}", src.name, dst.name));
                }
            }
        }
    }
    for (s, d, port) in OBSERVABILITY_EDGES {
        if !policies.allowed(by_app(s), by_app(d), *port, "TCP") {
            missing.push(format!("{s} → {d}:{port}"));
        }
    }
    // Everyone in mop may resolve names; nothing in mop may reach out anywhere else (e.g. Grafana).
    for p in pods
        .iter()
        .filter(|p| p.pod.as_ref().is_some_and(|p| p.namespace == "mop"))
    {
        if !policies.allowed(p, &dns, 53, "UDP") {
            missing.push(format!("{} → DNS", p.name));
        }
        if policies.allowed(p, by_app("grafana"), 3000, "TCP") {
            unexpected.push(format!(
                "{} → grafana:3000 (egress should be denied)",
                p.name
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "{name}: edges the policies block:\n{}",
        missing.join("\n")
    );
    assert!(
        unexpected.is_empty(),
        "{name}: connections the policies allow but the lab has no edge for:\n{}",
        unexpected.join("\n")
    );
}

#[test]
fn network_policies_allow_exactly_the_labs_edges() {
    // kind: the host also reaches the public app ports through their NodePorts.
    check_edges(
        "kind",
        &[
            ("catalog", 8081),
            ("orders", 8083),
            ("gateway", 8084),
            ("events-producer", 8085),
            ("auth", 50051),
        ],
    );
    check_edges("cluster", &[]);
}

#[test]
fn the_edge_check_notices_a_missing_default_deny() {
    let mut rendered = overlay("cluster");
    rendered
        .objects
        .retain(|o| !(o.kind == "NetworkPolicy" && o.name == "default-deny"));
    let all = all_templates(&rendered);
    let pods = peers(&all, Ipv4Addr::new(172, 18, 0, 2));
    let policies = Policies::of(&rendered);
    let find = |a: &str| pods.iter().find(|p| app(p) == a).unwrap();
    // Without default deny the consumers (no ingress policy of their own) are open to anyone.
    assert!(policies.allowed(find("grafana"), find("events-analytics"), 8086, "TCP"));
}

fn obi_config(rendered: &Rendered) -> Value {
    let cm = rendered
        .of_kind("ConfigMap")
        .find(|c| c.name.starts_with("obi-config"))
        .expect("no obi-config ConfigMap");
    serde_yaml::from_str(
        cm.str_at("/data/obi-config.yml")
            .expect("no obi-config.yml key"),
    )
    .unwrap()
}

#[test]
fn obi_config_uses_only_v0_14_keys_and_points_at_the_labs_services() {
    let rendered = overlay("kind");
    let config = obi_config(&rendered);
    let problems = obi::problems(&config);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Discovery: exactly the apps' namespace, and every app pod lives there.
    assert_eq!(obi::instrumented_namespaces(&config), ["mop"]);
    assert_eq!(
        config.pointer("/attributes/kubernetes/enable"),
        Some(&Value::Bool(true))
    );

    // The obi.md settings the lab depends on.
    assert_eq!(
        config.pointer("/routes/unmatched").and_then(Value::as_str),
        Some("low-cardinality")
    );
    assert_eq!(
        config
            .pointer("/ebpf/context_propagation")
            .and_then(Value::as_str),
        Some("all")
    );
    assert!(
        config
            .pointer("/ebpf/buffer_sizes/kafka")
            .and_then(Value::as_u64)
            .unwrap()
            >= 8192
    );
    let buckets: Vec<f64> = config
        .pointer("/prometheus_export/buckets/duration_histogram")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert!(
        buckets.iter().filter(|b| **b > 0.0 && **b < 0.001).count() >= 3,
        "sub-ms buckets: {buckets:?}"
    );
    assert!(
        buckets.windows(2).all(|w| w[0] < w[1]),
        "buckets must increase: {buckets:?}"
    );

    // Its exporters reach what the overlay really serves: Tempo's OTLP/HTTP port and the DaemonSet's
    // metrics port, which Prometheus' obi job keeps by name.
    let endpoint = config
        .pointer("/otel_traces_export/endpoint")
        .and_then(Value::as_str)
        .unwrap();
    let tempo = rendered.get("Service", "tempo").unwrap();
    let otlp_http = tempo.value["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "otlp-http")
        .unwrap();
    assert_eq!(
        endpoint,
        format!("http://tempo.observability.svc:{}", otlp_http["port"])
    );
    let ds = template_of(rendered.get("DaemonSet", "obi").unwrap()).unwrap();
    let metrics = ds
        .containers()
        .flat_map(|c| c["ports"].as_array().unwrap().clone())
        .find(|p| p["name"] == "metrics")
        .unwrap();
    assert_eq!(
        config.pointer("/prometheus_export/port"),
        Some(&metrics["containerPort"])
    );
    assert_eq!(ds.spec["hostPID"], true);
}

/// `<bin> openapi`: the OpenAPI document's paths, read from the binary itself.
pub fn openapi_paths(bin: &str) -> BTreeSet<String> {
    let path = lab::local::plan::sibling_bin_dir(&std::env::current_exe().unwrap())
        .unwrap()
        .join(bin);
    let out = Command::new(&path)
        .arg("openapi")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} — build it with `cargo build --workspace --bins`",
                path.display()
            )
        });
    assert!(
        out.status.success(),
        "`{bin} openapi` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    obi::openapi_paths(&String::from_utf8_lossy(&out.stdout)).unwrap()
}

#[test]
fn obi_routes_cover_every_http_route_of_every_binary() {
    let config = obi_config(&overlay("kind"));
    let patterns = obi::string_list(&config, "/routes/patterns");
    let ignored = obi::string_list(&config, "/routes/ignored_patterns");
    let mut union = BTreeSet::new();
    for bin in [
        "catalog",
        "orders",
        "gateway",
        "events-producer",
        "events-consumer",
    ] {
        union.extend(openapi_paths(bin));
    }
    assert!(
        union.contains("/products/{id}") && union.contains("/customers/{id}/orders"),
        "{union:?}"
    );
    for template in union.iter().filter(|t| !ignored.contains(t)) {
        // Listed, and a real request path on it gets exactly this route from OBI's matcher (a broader
        // pattern listed first, or a literal segment shadowing it, would fail here).
        assert!(
            patterns.contains(template),
            "routes.patterns lacks {template}"
        );
        assert_eq!(
            obi::route_for(&patterns, &obi::example_path(template)).as_deref(),
            Some(template.as_str()),
            "OBI would not name {} as {template}",
            obi::example_path(template)
        );
    }
    for probe in ["/health", "/ready"] {
        assert!(
            ignored.iter().any(|p| p == probe),
            "{probe} must be ignored"
        );
    }
}

#[test]
fn prometheus_config_passes_promtool_and_scrapes_the_contracts_jobs() {
    let rendered = overlay("kind");
    let cm = rendered
        .of_kind("ConfigMap")
        .find(|c| c.name.starts_with("prometheus-config"))
        .unwrap();
    let text = cm.str_at("/data/prometheus.yml").unwrap();
    let config: Value = serde_yaml::from_str(text).unwrap();

    // Debian's promtool is built without Kubernetes service discovery (it rejects
    // `kubernetes_sd_configs` as an unknown field), so promtool checks a copy where that block is a
    // static target — every other field, the relabel rules included, is still promtool's to judge —
    // and the discovery block itself is checked here.
    let mut checkable = config.clone();
    for job in checkable["scrape_configs"].as_array_mut().unwrap() {
        if let Some(sd) = job.as_object_mut().unwrap().remove("kubernetes_sd_configs") {
            assert_eq!(
                sd,
                serde_json::json!([{"role": "pod", "namespaces": {"names": ["obi"]}}]),
                "{job}"
            );
            job["static_configs"] = serde_json::json!([{"targets": ["obi.invalid:9400"]}]);
        }
    }
    let dir = testkit::process::temp_dir("manifests-promtool").unwrap();
    let promtool = |file: &Path| {
        Command::new("promtool")
            .args(["check", "config", "--syntax-only"])
            .arg(file)
            .output()
            .expect("`promtool` not found: apt-get install prometheus (see .ci/run)")
    };
    let file = dir.join("prometheus.yml");
    std::fs::write(&file, serde_yaml::to_string(&checkable).unwrap()).unwrap();
    let out = promtool(&file);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // promtool does reject a broken relabel rule (so the pass above means something).
    let broken = serde_yaml::to_string(&checkable)
        .unwrap()
        .replace("action: keep", "action: kepe");
    std::fs::write(&file, broken).unwrap();
    assert!(
        !promtool(&file).status.success(),
        "promtool accepted action: kepe"
    );
    std::fs::remove_dir_all(dir).unwrap();

    let jobs: Vec<&Value> = config["scrape_configs"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let job = |n: &str| {
        jobs.iter()
            .find(|j| j["job_name"] == n)
            .unwrap_or_else(|| panic!("no job {n}"))
    };
    assert_eq!(
        job("obi")["honor_labels"],
        true,
        "OBI sets job/instance itself"
    );
    for (name, service) in [
        ("postgres-exporter", "postgres-exporter"),
        ("redis-exporter", "redis-exporter"),
        ("kafka-exporter", "kafka-exporter"),
    ] {
        let target = job(name)["static_configs"][0]["targets"][0]
            .as_str()
            .unwrap()
            .to_owned();
        let svc = rendered.get("Service", service).unwrap();
        assert_eq!(
            target,
            format!(
                "{service}.observability.svc:{}",
                svc.value["spec"]["ports"][0]["port"]
            )
        );
    }
}

#[test]
fn grafana_mounts_every_provisioning_and_dashboard_configmap() {
    let rendered = overlay("kind");
    let grafana = template_of(rendered.get("Deployment", "grafana").unwrap()).unwrap();
    let mounted: BTreeSet<&str> = grafana.spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.pointer("/configMap/name").and_then(Value::as_str))
        .collect();
    let generated: BTreeSet<&str> = rendered
        .of_kind("ConfigMap")
        .filter(|c| {
            c.namespace.as_deref() == Some("observability") && c.name.starts_with("grafana-")
        })
        .map(|c| c.name.as_str())
        .collect();
    assert!(generated.len() >= 9, "{generated:?}");
    assert_eq!(
        mounted, generated,
        "Grafana must mount exactly grafana/'s ConfigMaps"
    );
}

#[test]
fn the_kind_cluster_config_maps_exactly_the_overlays_node_ports() {
    let rendered = overlay("kind");
    let text =
        std::fs::read_to_string(repo().join("kustomize/overlays/kind/kind-cluster.yaml")).unwrap();
    let config: Value = serde_yaml::from_str(&text).unwrap();
    let problems = kind::problems(&config, &rendered);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(kind::node_ports(&rendered).len(), 8);
    // And the check does look: one port mapped elsewhere is reported.
    let broken: Value =
        serde_yaml::from_str(&text.replace("hostPort: 3000", "hostPort: 3001")).unwrap();
    assert!(!kind::problems(&broken, &rendered).is_empty());
}

#[test]
fn the_cluster_overlay_replicates_the_stateless_services_behind_pdbs() {
    let rendered = overlay("cluster");
    for t in templates(&rendered)
        .iter()
        .filter(|t| t.kind == "Deployment" && t.namespace == "mop")
    {
        // catalog and auth hold their data in process memory: one replica, by design (docs).
        let stateless = !matches!(t.name.as_str(), "catalog" | "auth" | "redis");
        if !stateless {
            assert_eq!(t.replicas, 1, "{}", t.owner);
            continue;
        }
        assert!(t.replicas >= 2, "{}: {} replicas", t.owner, t.replicas);
        let pdb = rendered
            .of_kind("PodDisruptionBudget")
            .find(|p| {
                p.value
                    .pointer("/spec/selector/matchLabels/app.kubernetes.io~1name")
                    == t.labels
                        .get("app.kubernetes.io/name")
                        .map(|n| Value::String(n.clone()))
                        .as_ref()
            })
            .unwrap_or_else(|| panic!("{}: no PodDisruptionBudget", t.owner));
        assert_eq!(pdb.value["spec"]["minAvailable"], 1, "{}", pdb.id());
        assert!(
            t.spec.get("topologySpreadConstraints").is_some(),
            "{}: no topology spread",
            t.owner
        );
    }
    assert!(
        kind::node_ports(&rendered).is_empty(),
        "no NodePorts outside kind"
    );
    assert!(rendered.get("NetworkPolicy", "allow-host-access").is_none());
    // (The loadgen Job template is not part of an overlay: `just load` applies it in the kind lab.)
    for t in templates(&rendered) {
        for c in t.containers() {
            let image = c["image"].as_str().unwrap();
            assert!(
                !image.starts_with("mop/"),
                "{}: {image} is the kind-only local tag",
                t.owner
            );
        }
    }
}

#[test]
fn kafkas_cluster_id_is_a_kafka_uuid() {
    use base64::Engine;
    // kafka-storage format only takes a Uuid: 16 bytes, base64url without padding.
    let rendered = overlay("kind");
    let kafka = template_of(rendered.get("StatefulSet", "kafka").unwrap()).unwrap();
    let env =
        lab::manifests::pod::resolve_env(&kafka.spec["containers"][0], "mop", &rendered).unwrap();
    let id = &env.iter().find(|(k, _)| k == "CLUSTER_ID").unwrap().1;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id)
        .unwrap();
    assert_eq!(
        bytes.len(),
        16,
        "CLUSTER_ID {id} decodes to {} bytes",
        bytes.len()
    );
}

/// Variables our binaries read outside their clap `Config` (so `--help` cannot list them), with why.
const EXTRA_ENV: &[(&str, &str)] = &[
    ("RUST_LOG", "common::logging's EnvFilter"),
    (
        "LOG_FORMAT",
        "loadgen's main reads it before parsing (the services take it through clap)",
    ),
];

/// The environment variables a binary's clap configuration reads, from its own `--help` (clap prints
/// `[env: NAME=]` for each) — top level and, when the container runs a subcommand, that subcommand's.
fn env_names_of(bin: &str, subcommand: Option<&str>) -> BTreeSet<String> {
    let path = lab::local::plan::sibling_bin_dir(&std::env::current_exe().unwrap())
        .unwrap()
        .join(bin);
    let mut names = BTreeSet::new();
    for args in [
        vec!["--help"],
        subcommand.map(|s| vec![s, "--help"]).unwrap_or_default(),
    ] {
        if args.is_empty() {
            continue;
        }
        let out = Command::new(&path)
            .args(&args)
            .env_clear()
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{bin} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        for part in text.split("[env: ").skip(1) {
            names.insert(part.split(['=', ']']).next().unwrap().to_owned());
        }
    }
    names
}

#[test]
fn every_env_name_in_an_app_pod_is_one_its_binary_reads() {
    // A misspelt variable is silently ignored by the binary (it falls back to its default), so the
    // run test alone could pass with it: compare the names with what the binary itself documents.
    let rendered = overlay("kind");
    let mut checked = 0;
    for t in all_templates(&rendered) {
        for c in t.containers() {
            let Some(bin) = c["command"][0]
                .as_str()
                .and_then(|p| p.strip_prefix("/bin/"))
            else {
                continue;
            };
            let subcommand = match bin {
                "orders" | "loadgen" => c["args"][0].as_str(),
                _ => None,
            };
            let known = env_names_of(bin, subcommand);
            let env = c["env"].as_array().cloned().unwrap_or_default();
            let text = serde_json::to_string(&env).unwrap();
            for var in &env {
                let name = var["name"].as_str().unwrap();
                // Helper variables exist to be expanded into another value, as `$(NAME)`.
                let helper = text.contains(&format!("$({name})"));
                let extra = EXTRA_ENV.iter().any(|(n, _)| *n == name);
                assert!(
                    known.contains(name) || helper || extra,
                    "{}: {bin} does not read {name} (its --help lists {known:?})",
                    t.owner
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "only {checked} variables checked");
    // And the check does bite: gateway's help has no REDIS_ADDR.
    assert!(!env_names_of("gateway", None).contains("REDIS_ADDR"));
}

#[test]
fn every_service_selects_a_pod_and_targets_one_of_its_ports() {
    for name in ["kind", "cluster"] {
        let rendered = overlay(name);
        let all = all_templates(&rendered);
        for svc in rendered.of_kind("Service") {
            let ns = svc.namespace.clone().unwrap_or_default();
            let selector = svc.value["spec"]["selector"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            assert!(!selector.is_empty(), "{name}: {} has no selector", svc.id());
            let pod = all
                .iter()
                .find(|t| {
                    t.namespace == ns
                        && selector
                            .iter()
                            .all(|(k, v)| t.labels.get(k).map(String::as_str) == v.as_str())
                })
                .unwrap_or_else(|| panic!("{name}: {} selects no pod", svc.id()));
            let ports: Vec<Value> = pod
                .containers()
                .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                .collect();
            for p in svc.value["spec"]["ports"].as_array().unwrap() {
                let target = p.get("targetPort").unwrap_or(&p["port"]);
                let found = ports.iter().any(|cp| match target {
                    Value::String(n) => cp["name"] == n.as_str(),
                    other => cp["containerPort"] == *other,
                });
                assert!(
                    found,
                    "{name}: {} targets {target}, which {} does not expose",
                    svc.id(),
                    pod.owner
                );
            }
        }
    }
}
