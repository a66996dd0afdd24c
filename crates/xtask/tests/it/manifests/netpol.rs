//! NetworkPolicies: exactly the lab's edges are allowed, checked by the lab crate's evaluator over
//! every pod × port (no CNI runs here), and the check notices a missing default-deny.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use lab::manifests::netpol::{Peer, PodPeer, Policies, peers};
use lab::manifests::pod::PodTemplate;

use super::*;

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
