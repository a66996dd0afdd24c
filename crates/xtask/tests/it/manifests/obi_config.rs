//! OBI's config, its route patterns against every binary's OpenAPI paths, Prometheus (promtool),
//! Grafana's mounts, the kind cluster config, the cluster overlay and Kafka's cluster id.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use lab::manifests::pod::{template_of, templates};
use lab::manifests::{Rendered, obi};
use serde_json::Value;
use xtask::tidy::manifests::kind;

use super::*;

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

    // Discovery: exactly the apps' namespace, and there only MOP's own processes — the services and
    // loadgen, never the backends (their server side would double the client spans' counts) nor the
    // seed Job. Evaluated over every pod template of the overlay plus the loadgen Job template.
    assert_eq!(obi::instrumented_namespaces(&config), ["mop", "mop"]);
    let mut pods = templates(&rendered);
    pods.extend(template_of(&loadgen_job()));
    let selected: BTreeSet<String> = obi::selected(&config, &pods)
        .iter()
        .map(|t| t.owner.clone())
        .collect();
    let services = [
        "auth",
        "catalog",
        "events-analytics",
        "events-notifications",
        "events-producer",
        "gateway",
        "orders",
    ];
    let mut expected: BTreeSet<String> = services
        .iter()
        .map(|s| format!("Deployment mop/{s}"))
        .collect();
    expected.extend(
        [
            "CronJob mop/loadgen-constant",
            "CronJob mop/loadgen-spike",
            "Job mop/loadgen",
        ]
        .map(String::from),
    );
    assert_eq!(selected, expected);
    // The old selection (the whole namespace) would take the backends too: the evaluator sees that.
    let whole: Value =
        serde_yaml::from_str("discovery: {instrument: [{k8s_namespace: mop}]}").unwrap();
    let backends = obi::selected(&whole, &pods);
    assert!(backends.iter().any(|t| t.owner == "StatefulSet mop/kafka"));
    // OBI's own Java agent stays out of the broker's JVM; short-lived loadgen Jobs are seen at once.
    assert_eq!(
        config.pointer("/javaagent/enabled"),
        Some(&Value::Bool(false))
    );
    assert_eq!(
        config
            .pointer("/discovery/min_process_age")
            .and_then(Value::as_str),
        Some("1s")
    );
    assert_eq!(
        config.pointer("/attributes/kubernetes/enable"),
        Some(&Value::Bool(true))
    );

    // The OBI settings the lab depends on (docs/visibility.md says why each matters).
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

    // The DaemonSet is Ready when OBI's health endpoint answers: the probe asks the port OBI serves
    // it on, on the node's loopback (hostNetwork), where OBI binds it.
    let probe = &ds.containers().next().unwrap()["readinessProbe"]["httpGet"];
    assert_eq!(probe["path"], "/healthz");
    assert_eq!(probe["host"], "127.0.0.1");
    assert_eq!(config.pointer("/health_check/port"), Some(&probe["port"]));
    assert_eq!(ds.spec["hostNetwork"], true);
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
