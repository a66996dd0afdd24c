//! The OBI config of `lab dev --obi`, derived from the kind lab's `obi-config` (the ConfigMap's file) so
//! routes, buckets, features, ignored routes and eBPF settings have one source.
//!
//! Only what differs on one machine is replaced: discovery (the lab's processes by executable path and
//! port instead of a Kubernetes namespace; loadgen, a pure client, by path alone), no Kubernetes
//! metadata, the Prometheus port, OBI's own metrics (the readiness signal), and traces printed as JSON
//! instead of sent to Tempo — no trace backend runs here, and a file of JSON lines is readable with
//! `jq` by anyone.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

use crate::local::plan::Plan;

/// The kind lab's OBI config (`configMapGenerator` file of the observability component).
pub const KIND_CONFIG: &str = "kustomize/components/observability/config/obi-config.yml";
/// The executable whose instrumentation proves OBI's generic tracer is loaded (see `run`).
pub const SENTINEL: &str = "mop-obi-sentinel";
/// Path of OBI's own metrics (`obi_instrumented_processes`), on the same port as the app metrics.
pub const INTERNAL_METRICS_PATH: &str = "/internal/metrics";

/// The kind lab's OBI config as JSON values.
pub fn kind_config(repo: &Path) -> anyhow::Result<Value> {
    let path = repo.join(KIND_CONFIG);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_yaml::from_str(&text).with_context(|| format!("{} is not YAML", path.display()))
}

/// One process OBI is to watch: its service name, executable and (for servers) port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub exe: PathBuf,
    pub port: Option<u16>,
}

/// The service name OBI gives a local process: the kind lab's workload name, so dashboards, verify's
/// grid and the recording read the same `service_name` in both labs (the local consumer processes
/// are `events-consumer-<role>`, their Deployments `events-<role>`).
pub fn service_name(local: &str) -> &str {
    match local {
        "events-consumer-notifications" => "events-notifications",
        "events-consumer-analytics" => "events-analytics",
        other => other,
    }
}

/// The lab's processes: every service by executable and listening port (the two consumers share a
/// binary and differ by admin port), loadgen by executable alone, and the sentinel.
pub fn targets(plan: &Plan, sentinel: &Path) -> Vec<Target> {
    let mut out: Vec<Target> = plan
        .services()
        .iter()
        .map(|s| Target {
            name: service_name(s.name).to_owned(),
            exe: plan.bin_dir.join(s.binary),
            port: Some(s.port()),
        })
        .collect();
    out.push(Target {
        name: "loadgen".into(),
        exe: plan.bin_dir.join("loadgen"),
        port: None,
    });
    out.push(Target {
        name: SENTINEL.into(),
        exe: sentinel.to_path_buf(),
        port: None,
    });
    out
}

/// The local config: `kind` with discovery, Kubernetes metadata and exporters replaced.
pub fn derive(kind: &Value, targets: &[Target], metrics_port: u16) -> Value {
    let mut config = kind.clone();
    let instrument: Vec<Value> = targets
        .iter()
        .map(|t| {
            // Both criteria of one entry must match: the port alone would also pick a client that
            // happens to hold a connection to it.
            let mut entry = json!({"name": t.name, "exe_path": t.exe.display().to_string()});
            if let Some(port) = t.port {
                entry["open_ports"] = json!(port.to_string());
            }
            entry
        })
        .collect();
    config["discovery"] = json!({
        "instrument": instrument,
        // OBI's default 5 s would let a service's first connections (the sqlx pool, the Kafka
        // client's Metadata exchange) pass before it is watched.
        "min_process_age": "1s",
    });
    if let Some(attributes) = config.get_mut("attributes").and_then(Value::as_object_mut) {
        attributes.insert("kubernetes".into(), json!({"enable": false}));
    }
    config["prometheus_export"]["port"] = json!(metrics_port);
    config["internal_metrics"] = json!({
        "exporter": "prometheus",
        "prometheus": {"port": metrics_port, "path": INTERNAL_METRICS_PATH},
    });
    if let Some(root) = config.as_object_mut() {
        root.remove("otel_traces_export");
    }
    config["trace_printer"] = json!("json");
    config
}

/// The Prometheus config scraping OBI: app metrics and OBI's own, OBI's `job`/`instance` kept.
pub fn prometheus_config(metrics_port: u16) -> String {
    format!(
        "# Written by `lab dev --obi`: scrapes the local OBI.\n\
         global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n\
         scrape_configs:\n\
         \x20 - job_name: obi\n    honor_labels: true\n    metrics_path: /metrics\n\
         \x20   static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n\
         \x20 - job_name: obi-internal\n    metrics_path: {INTERNAL_METRICS_PATH}\n\
         \x20   static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::plan::Ports;

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn derived() -> (Value, Value) {
        let kind = kind_config(&repo()).unwrap();
        let plan = Plan {
            ports: Ports::standard(),
            state_dir: "/tmp/s".into(),
            bin_dir: "/b".into(),
            env_overrides: vec![],
        };
        let local = derive(
            &kind,
            &targets(&plan, Path::new("/s/mop-obi-sentinel")),
            9400,
        );
        (kind, local)
    }

    #[test]
    fn routes_buckets_features_and_ebpf_follow_the_kind_config() {
        let (kind, local) = derived();
        for key in [
            "/routes",
            "/metrics/features",
            "/prometheus_export/buckets",
            "/prometheus_export/path",
            "/prometheus_export/exemplar_filter",
            "/ebpf",
            "/attributes/select",
            "/log_level",
        ] {
            assert!(kind.pointer(key).is_some(), "kind config lost {key}");
            assert_eq!(local.pointer(key), kind.pointer(key), "{key}");
        }
        // The values the dashboards rely on, read through the derived config.
        let patterns = crate::manifests::obi::string_list(&local, "/routes/patterns");
        assert!(
            patterns.contains(&"/customers/{id}/orders".to_owned()),
            "{patterns:?}"
        );
        assert_eq!(
            crate::manifests::obi::string_list(&local, "/routes/ignored_patterns"),
            ["/health", "/ready"]
        );
    }

    #[test]
    fn discovery_is_by_executable_and_port_with_a_name_per_process() {
        let (_, local) = derived();
        let instrument = local["discovery"]["instrument"].as_array().unwrap();
        let find = |name: &str| {
            instrument
                .iter()
                .find(|e| e["name"] == name)
                .unwrap()
                .clone()
        };
        assert_eq!(find("catalog")["exe_path"], "/b/catalog");
        assert_eq!(find("catalog")["open_ports"], "8081");
        assert_eq!(find("auth")["open_ports"], "50051");
        let notif = find("events-notifications");
        let analytics = find("events-analytics");
        assert_eq!(notif["exe_path"], analytics["exe_path"]);
        assert_ne!(notif["open_ports"], analytics["open_ports"]);
        // loadgen only connects: selected by its executable alone.
        assert!(find("loadgen").get("open_ports").is_none());
        assert!(find(SENTINEL).get("open_ports").is_none());
        assert_eq!(local["discovery"]["min_process_age"], "1s");
    }

    #[test]
    fn nothing_kubernetes_or_tempo_remains_and_obi_would_accept_the_keys() {
        let (_, local) = derived();
        let text = local.to_string();
        assert!(!text.contains("k8s_"), "{text}");
        assert!(!text.contains("tempo"), "{text}");
        assert_eq!(local["attributes"]["kubernetes"]["enable"], false);
        assert_eq!(local["trace_printer"], "json");
        assert_eq!(local["prometheus_export"]["port"], 9400);
        assert_eq!(
            local["internal_metrics"]["prometheus"]["path"],
            INTERNAL_METRICS_PATH
        );
        // The same key check the kind config passes, minus the keys only the local config has.
        let mut checked = local;
        for key in ["internal_metrics", "trace_printer"] {
            checked.as_object_mut().unwrap().remove(key);
        }
        let discovery = checked["discovery"].as_object_mut().unwrap();
        discovery.remove("instrument");
        discovery.remove("min_process_age");
        assert_eq!(
            crate::manifests::obi::problems(&checked),
            Vec::<String>::new()
        );
    }

    #[test]
    fn prometheus_scrapes_both_obi_paths_keeping_obis_labels() {
        let text = prometheus_config(9400);
        let v: Value = serde_yaml::from_str(&text).unwrap();
        let jobs = v["scrape_configs"].as_array().unwrap();
        assert_eq!(jobs[0]["honor_labels"], true);
        assert_eq!(jobs[0]["static_configs"][0]["targets"][0], "127.0.0.1:9400");
        assert_eq!(jobs[1]["metrics_path"], INTERNAL_METRICS_PATH);
    }
}
