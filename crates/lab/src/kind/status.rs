//! `just status`: what runs in the kind lab, and for each pod that is not ready, why (the waiting
//! reason and message Kubernetes gives: ImagePullBackOff, CrashLoopBackOff, Unschedulable …).

use serde_json::Value;

/// One pod's line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodLine {
    pub namespace: String,
    pub name: String,
    /// `ready/total` containers.
    pub ready: String,
    pub phase: String,
    /// Why it is not ready (empty when it is, or when it completed).
    pub why: String,
}

impl PodLine {
    pub fn is_ok(&self) -> bool {
        self.why.is_empty()
    }
}

/// Reads `kubectl get pods -A -o json`.
pub fn pods(list: &Value) -> Vec<PodLine> {
    let items = list.get("items").and_then(Value::as_array);
    items.into_iter().flatten().map(pod_line).collect()
}

fn text(v: &Value, path: &[&str]) -> String {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn pod_line(pod: &Value) -> PodLine {
    let phase = text(pod, &["status", "phase"]);
    let statuses: Vec<&Value> = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let ready = statuses
        .iter()
        .filter(|s| s["ready"].as_bool() == Some(true))
        .count();
    let total = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(statuses.len(), Vec::len);
    let init: Vec<&Value> = pod
        .pointer("/status/initContainerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let why = if phase == "Succeeded" || (phase == "Running" && ready == total && total > 0) {
        String::new()
    } else {
        reason(&phase, &init, &statuses, pod)
    };
    PodLine {
        namespace: text(pod, &["metadata", "namespace"]),
        name: text(pod, &["metadata", "name"]),
        ready: format!("{ready}/{total}"),
        phase,
        why,
    }
}

/// The most specific reason Kubernetes reports: a container's waiting/terminated state, else the
/// failing pod condition (e.g. PodScheduled=False: Unschedulable).
fn reason(phase: &str, init: &[&Value], containers: &[&Value], pod: &Value) -> String {
    for (kind, list) in [("init container", init), ("container", containers)] {
        for s in list {
            let name = text(s, &["name"]);
            for state in ["waiting", "terminated"] {
                let r = text(s, &["state", state, "reason"]);
                if !r.is_empty() && r != "Completed" {
                    let msg = text(s, &["state", state, "message"]);
                    let restarts = s["restartCount"].as_u64().unwrap_or(0);
                    let mut line = format!("{kind} {name}: {r}");
                    if !msg.is_empty() {
                        line.push_str(&format!(" ({msg})"));
                    }
                    if restarts > 0 {
                        line.push_str(&format!(", {restarts} restarts"));
                    }
                    return line;
                }
            }
        }
    }
    let conditions = pod.pointer("/status/conditions").and_then(Value::as_array);
    for c in conditions.into_iter().flatten() {
        if c["status"].as_str() == Some("False") {
            let r = text(c, &["reason"]);
            let msg = text(c, &["message"]);
            if !r.is_empty() || !msg.is_empty() {
                return format!("{}: {r} {msg}", text(c, &["type"]))
                    .trim_end()
                    .to_owned();
            }
        }
    }
    format!("{phase}, not ready")
}

/// A container that keeps failing, so waiting for its rollout is pointless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    pub pod: String,
    pub container: String,
    /// `CrashLoopBackOff (back-off 40s…), 3 restarts`-style text from the container's state.
    pub why: String,
}

/// How many restarts make a container "failing" even between two back-offs (OBI that cannot load
/// its probes exits within a second of starting, every time).
const FAILING_RESTARTS: u64 = 2;

/// The first container of `kubectl get pods -o json` that is in CrashLoopBackOff, or has restarted
/// [`FAILING_RESTARTS`] times or more.
pub fn failing(list: &Value) -> Option<Failing> {
    let items = list.get("items").and_then(Value::as_array);
    for pod in items.into_iter().flatten() {
        for key in ["initContainerStatuses", "containerStatuses"] {
            let statuses = pod
                .pointer(&format!("/status/{key}"))
                .and_then(Value::as_array);
            for s in statuses.into_iter().flatten() {
                let waiting = text(s, &["state", "waiting", "reason"]);
                let restarts = s["restartCount"].as_u64().unwrap_or(0);
                if waiting == "CrashLoopBackOff" || restarts >= FAILING_RESTARTS {
                    let last = text(s, &["lastState", "terminated", "reason"]);
                    let code = s
                        .pointer("/lastState/terminated/exitCode")
                        .and_then(Value::as_i64);
                    let mut why = if waiting.is_empty() {
                        "restarting".to_owned()
                    } else {
                        waiting
                    };
                    why.push_str(&format!(", {restarts} restarts"));
                    if !last.is_empty() {
                        why.push_str(&format!(", last exit: {last}"));
                    }
                    if let Some(code) = code {
                        why.push_str(&format!(" (code {code})"));
                    }
                    return Some(Failing {
                        pod: text(pod, &["metadata", "name"]),
                        container: text(s, &["name"]),
                        why,
                    });
                }
            }
        }
    }
    None
}

/// `kubectl get daemonset -o json` says every scheduled pod runs the current template and is Ready.
pub fn daemonset_ready(ds: &Value) -> bool {
    let n = |p: &str| ds.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let desired = n("/status/desiredNumberScheduled");
    desired > 0
        && n("/status/observedGeneration") >= n("/metadata/generation")
        && n("/status/updatedNumberScheduled") == desired
        && n("/status/numberReady") == desired
}

/// The report `just status` prints.
pub fn render(lines: &[PodLine]) -> String {
    let mut out = String::new();
    for l in lines {
        let ns_name = format!("{}/{}", l.namespace, l.name);
        out.push_str(&format!(
            "{:<55} {:>5} {:<10} {}\n",
            ns_name, l.ready, l.phase, l.why
        ));
    }
    let bad = lines.iter().filter(|l| !l.is_ok()).count();
    out.push_str(&match bad {
        0 => format!("all {} pods ready (or completed)\n", lines.len()),
        n => format!(
            "{n} of {} pods not ready — `just logs <name>` shows why\n",
            lines.len()
        ),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_completed_and_failing_pods_each_get_their_reason() {
        let list = serde_json::json!({"items": [
            {"metadata": {"namespace": "mop", "name": "catalog-1"}, "spec": {"containers": [{}]},
             "status": {"phase": "Running", "containerStatuses": [{"name": "catalog", "ready": true, "state": {"running": {}}}]}},
            {"metadata": {"namespace": "mop", "name": "orders-seed-x"}, "spec": {"containers": [{}]},
             "status": {"phase": "Succeeded", "containerStatuses": [{"name": "seed", "ready": false, "state": {"terminated": {"reason": "Completed"}}}]}},
            {"metadata": {"namespace": "mop", "name": "gateway-1"}, "spec": {"containers": [{}]},
             "status": {"phase": "Pending", "containerStatuses": [{"name": "gateway", "ready": false, "restartCount": 0,
               "state": {"waiting": {"reason": "ErrImageNeverPull", "message": "image mop/gateway:lab not present"}}}]}},
            {"metadata": {"namespace": "mop", "name": "orders-1"}, "spec": {"containers": [{}]},
             "status": {"phase": "Running", "containerStatuses": [{"name": "orders", "ready": false, "restartCount": 4,
               "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}},
            {"metadata": {"namespace": "observability", "name": "tempo-0"}, "spec": {"containers": [{}]},
             "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes: Insufficient memory"}]}}
        ]});
        let lines = pods(&list);
        let why: Vec<&str> = lines.iter().map(|l| l.why.as_str()).collect();
        assert_eq!(why[0], "");
        assert_eq!(why[1], "");
        assert_eq!(
            why[2],
            "container gateway: ErrImageNeverPull (image mop/gateway:lab not present)"
        );
        assert_eq!(why[3], "container orders: CrashLoopBackOff, 4 restarts");
        assert_eq!(
            why[4],
            "PodScheduled: Unschedulable 0/1 nodes: Insufficient memory"
        );
        assert_eq!(lines[0].ready, "1/1");
        let report = render(&lines);
        assert!(
            report.ends_with("3 of 5 pods not ready — `just logs <name>` shows why\n"),
            "{report}"
        );
    }
}

/// The namespace a workload of the kind lab lives in (for `just logs NAME`).
pub fn namespace_of(name: &str) -> &'static str {
    match name {
        "obi" => "obi",
        "prometheus" | "tempo" | "grafana" | "loki" | "alloy" => "observability",
        n if n.ends_with("-exporter") => "observability",
        _ => super::APPS_NAMESPACE,
    }
}

#[cfg(test)]
mod namespace_tests {
    #[test]
    fn workloads_map_to_their_namespaces() {
        assert_eq!(super::namespace_of("obi"), "obi");
        assert_eq!(super::namespace_of("tempo"), "observability");
        assert_eq!(super::namespace_of("kafka-exporter"), "observability");
        assert_eq!(super::namespace_of("events-analytics"), "mop");
        assert_eq!(super::namespace_of("postgres"), "mop");
    }
}
