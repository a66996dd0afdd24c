//! OBI's configuration (the `obi-config` ConfigMap) checked against what OBI v0.14.0 reads: only keys its
//! config structs define (a typo is silently ignored by OBI, so it must fail here), values from their
//! enums, discovery limited to the apps' namespace, and routes covering every HTTP route of the binaries.
//!
//! Keys are from OBI's own source (`pkg/obi/config.go` — `Config`, `Attributes`; `pkg/transform/routes.go`
//! — `RoutesConfig`; `pkg/config/ebpf_tracer.go` — `EBPFTracer`, `EBPFBufferSizes`; the Prometheus and
//! OTLP export configs; `pkg/export/buckets.go`) and its generated configuration reference (from
//! `config-schema.json`), read through the search index. Only the subtrees the lab uses are listed;
//! adding a key means reading OBI's struct for it first.

use std::collections::BTreeSet;

use anyhow::{Context, anyhow};
use serde_json::Value;

use super::pod::PodTemplate;

/// Key paths OBI v0.14 accepts, as far as the lab uses them. `[]` marks a list's items; a path ending in
/// `/*` accepts any subtree (OBI treats those keys as names: metric names in `attributes.select`).
const KEYS: &[&str] = &[
    "log_level",
    "discovery",
    "discovery/instrument",
    "discovery/instrument/[]",
    "discovery/instrument/[]/k8s_namespace",
    "discovery/instrument/[]/k8s_deployment_name",
    "discovery/instrument/[]/k8s_pod_labels",
    "discovery/instrument/[]/k8s_pod_labels/*",
    // `DiscoveryConfig.MinProcessAge` (pkg/appolly/services), default 5s.
    "discovery/min_process_age",
    "discovery/exclude_instrument",
    "discovery/exclude_instrument/[]",
    "discovery/exclude_instrument/[]/k8s_namespace",
    "attributes",
    "attributes/kubernetes",
    "attributes/kubernetes/enable",
    "attributes/kubernetes/cluster_name",
    "attributes/select",
    "attributes/select/*",
    "routes",
    "routes/patterns",
    "routes/ignored_patterns",
    "routes/ignore_mode",
    "routes/unmatched",
    "routes/wildcard_char",
    "routes/max_path_segment_cardinality",
    "ebpf",
    "ebpf/context_propagation",
    "ebpf/buffer_sizes",
    "ebpf/buffer_sizes/http",
    "ebpf/buffer_sizes/mysql",
    "ebpf/buffer_sizes/postgres",
    "ebpf/buffer_sizes/kafka",
    "metrics",
    "metrics/features",
    "prometheus_export",
    "prometheus_export/port",
    "prometheus_export/path",
    "prometheus_export/exemplar_filter",
    "prometheus_export/ttl",
    "prometheus_export/buckets",
    "prometheus_export/buckets/duration_histogram",
    "prometheus_export/buckets/request_size_histogram",
    "prometheus_export/buckets/response_size_histogram",
    "otel_traces_export",
    "otel_traces_export/endpoint",
    "otel_traces_export/protocol",
    // `JavaConfig` (pkg/obi/config.go, yaml "javaagent"): `enabled` defaults to true.
    "javaagent",
    "javaagent/enabled",
    // The health endpoint (pkg/health, `/healthz`; 0 = off).
    "health_check",
    "health_check/port",
];

/// Values OBI accepts for the enum-like keys (its constants; anything else falls back or fails at start).
const ENUMS: &[(&str, &[&str])] = &[
    (
        "routes/unmatched",
        &["unset", "path", "wildcard", "heuristic", "low-cardinality"],
    ),
    ("routes/ignore_mode", &["metrics", "traces", "all"]),
    (
        "ebpf/context_propagation",
        &["all", "headers", "tcp", "disabled"],
    ),
    (
        "prometheus_export/exemplar_filter",
        &["always_on", "always_off", "trace_based"],
    ),
    (
        "otel_traces_export/protocol",
        &["grpc", "http/protobuf", "http/json"],
    ),
    (
        "log_level",
        &[
            "debug", "info", "warn", "error", "DEBUG", "INFO", "WARN", "ERROR",
        ],
    ),
];

/// `metrics.features` values of OBI v0.14: the keys of `FeatureMapper` (pkg/export/features.go).
const FEATURES: &[&str] = &[
    "application",
    "application_span",
    "application_span_otel",
    "application_span_sizes",
    "application_service_graph",
    "application_host",
    "network",
    "network_inter_zone",
    "ebpf",
    "all",
    "*",
];

/// Every problem with `config` (empty = fine): unknown keys, values outside OBI's enums, and the rules
/// OBI's `Validate` enforces that apply to us (one span-metrics format).
pub fn problems(config: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(config, "", &mut out);
    for (path, allowed) in ENUMS {
        if let Some(v) = config.pointer(&format!("/{path}")) {
            let v = v.as_str().unwrap_or_default();
            if !allowed.contains(&v) {
                out.push(format!("{path}: {v:?} is not one of {allowed:?}"));
            }
        }
    }
    let features: Vec<&str> = config
        .pointer("/metrics/features")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for f in &features {
        if !FEATURES.contains(f) {
            out.push(format!("metrics.features: unknown feature {f:?}"));
        }
    }
    if features.contains(&"application_span") && features.contains(&"application_span_otel") {
        out.push("metrics.features: only one of application_span, application_span_otel".into());
    }
    out
}

fn walk(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}/{key}")
                };
                if KEYS.contains(&p.as_str()) {
                    walk(child, &p, out);
                } else if !KEYS
                    .iter()
                    .any(|k| k.strip_suffix("/*").is_some_and(|pre| pre == path))
                {
                    out.push(format!(
                        "unknown OBI v0.14 config key {}",
                        p.replace('/', ".")
                    ));
                }
            }
        }
        Value::Array(items) => {
            let p = format!("{path}/[]");
            if KEYS.contains(&p.as_str()) {
                for item in items {
                    walk(item, &p, out);
                }
            }
        }
        _ => {}
    }
}

/// The namespaces `discovery.instrument` selects (its `k8s_namespace` entries).
pub fn instrumented_namespaces(config: &Value) -> Vec<String> {
    config
        .pointer("/discovery/instrument")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            e.get("k8s_namespace")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

/// The pod templates OBI's `discovery` selects: a template is selected when every attribute of one
/// `instrument` entry matches it (`k8s_namespace`, `k8s_deployment_name`, `k8s_pod_labels`; globs
/// with `*`) and no `exclude_instrument` entry does. OBI decides per process from the same metadata.
pub fn selected<'a>(config: &Value, pods: &'a [PodTemplate]) -> Vec<&'a PodTemplate> {
    let entries = |key: &str| -> Vec<Value> {
        config
            .pointer(&format!("/discovery/{key}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (instrument, exclude) = (entries("instrument"), entries("exclude_instrument"));
    pods.iter()
        .filter(|t| {
            instrument.iter().any(|e| matches(e, t)) && !exclude.iter().any(|e| matches(e, t))
        })
        .collect()
}

fn matches(entry: &Value, t: &PodTemplate) -> bool {
    let Some(attributes) = entry.as_object() else {
        return false;
    };
    !attributes.is_empty()
        && attributes.iter().all(|(key, want)| match key.as_str() {
            "k8s_namespace" => want.as_str().is_some_and(|g| glob(g, &t.namespace)),
            "k8s_deployment_name" => {
                t.kind == "Deployment" && want.as_str().is_some_and(|g| glob(g, &t.name))
            }
            "k8s_pod_labels" => want.as_object().is_some_and(|labels| {
                labels.iter().all(|(label, g)| {
                    let value = t.labels.get(label);
                    value.is_some_and(|v| g.as_str().is_some_and(|g| glob(g, v)))
                })
            }),
            // An attribute the lab does not model selects nothing (fail closed in the check).
            _ => false,
        })
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| {
                    text.is_char_boundary(head.len() + i) && glob(rest, &text[head.len() + i..])
                })
        }
    }
}

/// A string list at `pointer` (empty when missing).
pub fn string_list(config: &Value, pointer: &str) -> Vec<String> {
    config
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// OBI's route matcher (pkg/internal/transform/route/matcher.go): paths are split on `/`, a literal
/// segment wins over a wildcard segment (`:name` or `{name}`), and the pattern that matched is the route.
pub fn route_for(patterns: &[String], path: &str) -> Option<String> {
    fn is_wildcard(segment: &str) -> bool {
        (segment.starts_with('{') && segment.ends_with('}')) || segment.starts_with(':')
    }
    fn find(patterns: &[(Vec<&str>, &String)], path: &[&str], depth: usize) -> Option<String> {
        if path.len() == depth {
            return patterns
                .iter()
                .find(|(segments, _)| segments.len() == depth)
                .map(|(_, p)| (*p).clone());
        }
        let segment = path[depth];
        let literal: Vec<_> = patterns
            .iter()
            .filter(|(s, _)| s.len() > depth && s[depth] == segment)
            .cloned()
            .collect();
        if let Some(found) = (!literal.is_empty())
            .then(|| find(&literal, path, depth + 1))
            .flatten()
        {
            return Some(found);
        }
        let wild: Vec<_> = patterns
            .iter()
            .filter(|(s, _)| s.len() > depth && is_wildcard(s[depth]))
            .cloned()
            .collect();
        (!wild.is_empty())
            .then(|| find(&wild, path, depth + 1))
            .flatten()
    }
    fn split(p: &str) -> Vec<&str> {
        p.split('/').filter(|s| !s.is_empty()).collect()
    }
    let tokenized: Vec<(Vec<&str>, &String)> = patterns.iter().map(|p| (split(p), p)).collect();
    find(&tokenized, &split(path), 0)
}

/// A concrete request path for an OpenAPI path template: every `{param}` becomes `1`.
pub fn example_path(template: &str) -> String {
    template
        .split('/')
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                "1"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The `paths` of an OpenAPI document (templates such as `/products/{id}`).
pub fn openapi_paths(document: &str) -> anyhow::Result<BTreeSet<String>> {
    let doc: Value = serde_json::from_str(document).context("OpenAPI output is not JSON")?;
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("OpenAPI document has no `paths` object"))?;
    Ok(paths.keys().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unknown_or_misspelt_key_is_reported() {
        let c = json!({"routes": {"patterns": ["/a"], "unmatch": "path"}, "ebpf": {"buffer_sizes": {"kafak": 1}}});
        let p = problems(&c);
        assert!(p.iter().any(|m| m.contains("routes.unmatch")), "{p:?}");
        assert!(
            p.iter().any(|m| m.contains("ebpf.buffer_sizes.kafak")),
            "{p:?}"
        );
        assert!(
            problems(&json!({"attributes": {"select": {"any_metric": {"include": ["x"]}}}}))
                .is_empty()
        );
    }

    #[test]
    fn enum_values_and_span_metric_formats_are_checked() {
        let c = json!({"routes": {"unmatched": "lowcardinality"},
                       "metrics": {"features": ["application_span", "application_span_otel", "app"]}});
        let p = problems(&c);
        assert_eq!(p.len(), 3, "{p:?}");
    }

    #[test]
    fn literal_segments_win_over_wildcards_like_obis_matcher() {
        let patterns: Vec<String> = [
            "/products/{id}",
            "/products/batch",
            "/customers/{id}/orders",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            route_for(&patterns, "/products/batch").as_deref(),
            Some("/products/batch")
        );
        assert_eq!(
            route_for(&patterns, "/products/7").as_deref(),
            Some("/products/{id}")
        );
        assert_eq!(
            route_for(&patterns, "/customers/7/orders").as_deref(),
            Some("/customers/{id}/orders")
        );
        assert_eq!(route_for(&patterns, "/customers/7"), None);
        assert_eq!(
            example_path("/customers/{id}/orders"),
            "/customers/1/orders"
        );
    }
}
