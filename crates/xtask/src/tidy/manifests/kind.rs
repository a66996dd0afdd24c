//! The kind cluster config (kustomize/overlays/kind/kind-cluster.yaml) against the rendered overlay: the
//! cluster name `just up` uses, a node image pinned by digest, and host ports that are exactly the
//! overlay's NodePorts, on loopback only.

use std::collections::BTreeMap;

use serde_json::Value;

use lab::manifests::render::Rendered;

/// NodePort → `namespace/service` of every NodePort Service in the overlay.
pub fn node_ports(rendered: &Rendered) -> BTreeMap<u64, String> {
    rendered
        .of_kind("Service")
        .filter(|s| s.str_at("/spec/type") == Some("NodePort"))
        .flat_map(|s| {
            let id = format!("{}/{}", s.namespace.clone().unwrap_or_default(), s.name);
            s.value
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(move |p| Some((p.get("nodePort")?.as_u64()?, id.clone())))
        })
        .collect()
}

/// Every problem of `config` (the parsed kind-cluster.yaml) against `rendered` (empty = fine).
pub fn problems(config: &Value, rendered: &Rendered) -> Vec<String> {
    let mut out = Vec::new();
    if config.get("name").and_then(Value::as_str) != Some("mop") {
        out.push("the cluster must be named mop (just up uses that name)".into());
    }
    // The pod network the NetworkPolicy checks assume (netpol::peers) and allow-host-access excepts.
    if config
        .pointer("/networking/podSubnet")
        .and_then(Value::as_str)
        != Some("10.244.0.0/16")
    {
        out.push(
            "networking.podSubnet must be 10.244.0.0/16 (allow-host-access.yaml excepts it)".into(),
        );
    }
    let nodes = config
        .get("nodes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if nodes.is_empty() {
        out.push("no nodes".into());
    }
    let mut mapped = BTreeMap::new();
    for node in &nodes {
        let image = node
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !image.starts_with("kindest/node:v") || !image.contains("@sha256:") {
            out.push(format!(
                "node image {image:?} must be kindest/node:<version>@sha256:<digest>"
            ));
        }
        for m in node
            .get("extraPortMappings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let container = m.get("containerPort").and_then(Value::as_u64).unwrap_or(0);
            if m.get("listenAddress").and_then(Value::as_str) != Some("127.0.0.1") {
                out.push(format!(
                    "port mapping {container} must listen on 127.0.0.1 only"
                ));
            }
            mapped.insert(
                container,
                m.get("hostPort").and_then(Value::as_u64).unwrap_or(0),
            );
        }
    }
    let services = node_ports(rendered);
    for (node_port, host_port) in &mapped {
        match services.get(node_port) {
            None => out.push(format!(
                "host port {host_port} maps to {node_port}, which no Service uses"
            )),
            Some(svc) => {
                // The host ports are the services' own ports (Grafana 3000, catalog 8081 …).
                let own = rendered
                    .of_kind("Service")
                    .filter(|s| {
                        format!("{}/{}", s.namespace.clone().unwrap_or_default(), s.name) == *svc
                    })
                    .flat_map(|s| {
                        s.value
                            .pointer("/spec/ports")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                    })
                    .find(|p| p.get("nodePort").and_then(Value::as_u64) == Some(*node_port))
                    .and_then(|p| p.get("port").and_then(Value::as_u64));
                if own != Some(*host_port) {
                    out.push(format!(
                        "{svc}: host port {host_port} is not the service port {own:?}"
                    ));
                }
            }
        }
    }
    for (node_port, svc) in &services {
        if !mapped.contains_key(node_port) {
            out.push(format!(
                "{svc} has NodePort {node_port}, which kind-cluster.yaml does not map"
            ));
        }
    }
    out
}
