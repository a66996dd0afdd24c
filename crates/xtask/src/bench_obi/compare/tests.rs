//! The comparison's arithmetic and parsing, on Summary API answers in the kubelet's documented shape
//! (stats/v1alpha1 types: pods[].podRef, containers[].cpu.usageCoreNanoSeconds,
//! memory.workingSetBytes) and on loadgen's report shape. The kind run itself is not verifiable here.

use super::*;

fn summary(pods: &[(&str, &str, u64, u64)]) -> String {
    let pods: Vec<serde_json::Value> = pods
        .iter()
        .map(|(ns, name, cpu_ns, mem)| {
            serde_json::json!({
                "podRef": {"name": name, "namespace": ns, "uid": "u"},
                "startTime": "2026-12-01T12:00:00Z",
                "containers": [{
                    "name": "c",
                    "cpu": {"time": "2026-12-01T12:01:00Z", "usageNanoCores": 1, "usageCoreNanoSeconds": cpu_ns},
                    "memory": {"time": "2026-12-01T12:01:00Z", "workingSetBytes": mem}
                }]
            })
        })
        .collect();
    serde_json::json!({"node": {"nodeName": "mop-control-plane"}, "pods": pods}).to_string()
}

fn report(p50: f64, p99: f64) -> LoadReport {
    serde_json::from_value(serde_json::json!({
        "scenario": "constant", "elapsed_s": 60.0,
        "total": {"completed": 6000, "achieved_rate": 100.0, "dropped": 0,
                  "latency_from_intended_ms": {"p50": p50, "p90": 0, "p99": p99, "p999": 0, "max": 0}}
    }))
    .unwrap()
}

#[test]
fn pods_belong_to_the_longest_workload_name() {
    assert_eq!(
        workload("mop", "events-notifications-6f7c9-x2k4p").as_deref(),
        Some("events-notifications")
    );
    assert_eq!(
        workload("mop", "catalog-6f7c9d8b5-x2k4p").as_deref(),
        Some("catalog")
    );
    assert_eq!(
        workload("mop", "loadgen-constant-v1764590000-abcde").as_deref(),
        Some("loadgen")
    );
    assert_eq!(workload("obi", "obi-7k2xq").as_deref(), Some("obi"));
    assert_eq!(workload("observability", "prometheus-0"), None);
    assert_eq!(workload("mop", "postgres-0"), None);
}

#[test]
fn cores_are_the_counters_increase_over_the_run() {
    let mut before = Snapshot::default();
    before
        .add_summary(&summary(&[
            ("mop", "catalog-a-b", 10_000_000_000, 5),
            ("obi", "obi-x", 0, 1),
        ]))
        .unwrap();
    let mut after = Snapshot::default();
    after
        .add_summary(&summary(&[
            ("mop", "catalog-a-b", 13_000_000_000, 7),
            ("obi", "obi-x", 600_000_000, 100 * 1024 * 1024),
            // A pod that started during the run counts from zero.
            ("mop", "loadgen-constant-v1-x", 6_000_000_000, 1),
        ]))
        .unwrap();
    let c = cores(&before, &after, 60.0).unwrap();
    assert!((c["catalog"] - 0.05).abs() < 1e-9);
    assert!((c["obi"] - 0.01).abs() < 1e-9);
    assert!((c["loadgen"] - 0.1).abs() < 1e-9);
    // A restart resets the counter: refused, not a negative figure.
    let e = cores(&after, &before, 60.0).unwrap_err().to_string();
    assert!(e.contains("restarted"), "{e}");
    assert!(Snapshot::default().add_summary("[]").is_err());
    assert!(Snapshot::default().add_summary(r#"{"node": {}}"#).is_err());
}

#[test]
fn the_table_compares_cpu_and_latency() {
    let without = Measured {
        cores: [("catalog".to_owned(), 0.100), ("gateway".to_owned(), 0.050)].into(),
        memory: BTreeMap::new(),
        report: report(2.0, 10.0),
    };
    let with = Measured {
        cores: [
            ("catalog".to_owned(), 0.101),
            ("gateway".to_owned(), 0.0515),
            ("obi".to_owned(), 0.02),
        ]
        .into(),
        memory: [("obi".to_owned(), 96.0 * 1024.0 * 1024.0)].into(),
        report: report(2.1, 12.0),
    };
    let t = render(&without, &with);
    assert!(t.contains("| catalog | 100.0 | 101.0 | +1.0 % |"), "{t}");
    assert!(t.contains("| gateway | 50.0 | 51.5 | +3.0 % |"), "{t}");
    assert!(
        t.contains("| **services** (all but loadgen) | 150.0 | 152.5 | +1.7 % |"),
        "{t}"
    );
    assert!(
        t.contains("| OBI itself | — | 20.0 | working set 96 MiB at the end |"),
        "{t}"
    );
    assert!(t.contains("| p99 (ms) | 10.00 | 12.00 | +20.0 % |"), "{t}");
    assert!(t.contains("| auth | 0.0 | 0.0 | — |"), "{t}");
}
