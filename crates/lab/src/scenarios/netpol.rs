//! A scenario's `cut` (one network edge `from → to:port` taken away) and its `restore`, as
//! NetworkPolicy objects computed from the rendered kind overlay — and the proof, with the lab's
//! NetworkPolicy evaluator, that the cut removes exactly that edge and nothing else.
//!
//! Why not a "deny" policy: `networking.k8s.io/v1` has no deny rules. Policies only allow, and
//! allows are additive — a connection passes when *any* policy selecting the source allows its
//! egress and *any* policy selecting the destination allows its ingress. The lab denies by default
//! (`default-deny` in mop) and opens each real edge with one allow (e.g. policy `orders`: egress to
//! postgres:5432), so a new `mop-cut-…` policy could only open more, never close that allow.
//! The cut therefore *replaces* each policy that selects `from` for egress and allows `to:port`
//! with a copy whose rules no longer name `to`'s pods (a rule left with no peers is dropped: an
//! empty `to` would mean "anywhere"). The destination's ingress allow stays; egress alone decides,
//! since both sides must allow. `restore` re-applies the rendered originals. Both are applied like
//! `just up` applies them (server-side, field manager `mop-lab`): `egress` is an atomic list, so the
//! applied copy replaces it whole, and re-applying the original takes the annotation away again.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::manifests::netpol::{Labels, Peer, Policies, peers, selects};
use crate::manifests::pod::{PodTemplate, templates};
use crate::manifests::{Object, Rendered};

/// Annotation on a cut copy, so `kubectl get networkpolicy -o yaml` says why an edge is gone.
pub const CUT_ANNOTATION: &str = "lab.mop/cut";

/// The policies a cut replaces: the cut copies (to apply) and the rendered originals (to restore).
#[derive(Debug, Clone)]
pub struct Cut {
    pub copies: Vec<Object>,
    pub originals: Vec<Object>,
}

/// The pod template of a scenario target (`deployment/orders`) in the rendered overlay.
pub fn target<'a>(all: &'a [PodTemplate], target: &str) -> anyhow::Result<&'a PodTemplate> {
    let (kind, name) = target
        .split_once('/')
        .with_context(|| format!("target {target:?}: expected kind/name"))?;
    all.iter()
        .find(|t| t.kind.eq_ignore_ascii_case(kind) && t.name == name && t.namespace == "mop")
        .with_context(|| format!("no {target} in namespace mop of the rendered kind overlay"))
}

/// The policies of `rendered` changed so that `from` can no longer open connections to `to` on `port`.
pub fn cut(rendered: &Rendered, from: &str, to: &str, port: u16) -> anyhow::Result<Cut> {
    let all = templates(rendered);
    let src = target(&all, from)?;
    let dst = target(&all, to)?;
    let dst_ns_labels = namespace_labels(rendered, &dst.namespace);
    let mut out = Cut {
        copies: Vec::new(),
        originals: Vec::new(),
    };
    for policy in rendered.of_kind("NetworkPolicy") {
        let v = &policy.value;
        if policy.namespace.as_deref() != Some(src.namespace.as_str())
            || !selects(v.pointer("/spec/podSelector"), &src.labels)
            || !is_egress(v)
        {
            continue;
        }
        let mut copy = v.clone();
        let mut changed = false;
        if let Some(rules) = copy
            .pointer_mut("/spec/egress")
            .and_then(Value::as_array_mut)
        {
            let mut kept = Vec::new();
            for (i, rule) in rules.drain(..).enumerate() {
                if !rule_ports_include(&rule, dst, port) {
                    kept.push(rule);
                    continue;
                }
                let peers = rule
                    .get("to")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if peers.is_empty() {
                    bail!(
                        "{} egress rule {i} allows {from} to reach any destination on port {port}: \
                         one edge cannot be taken out of it",
                        policy.id()
                    );
                }
                let (hit, rest): (Vec<Value>, Vec<Value>) = peers.into_iter().partition(|p| {
                    peer_selects(
                        p,
                        &src.namespace,
                        &dst.namespace,
                        &dst_ns_labels,
                        &dst.labels,
                    )
                });
                if hit.iter().any(|p| p.get("ipBlock").is_some()) {
                    bail!(
                        "{} egress rule {i} names {to} by address: not cut",
                        policy.id()
                    );
                }
                if hit.is_empty() {
                    kept.push(rule);
                    continue;
                }
                changed = true;
                if !rest.is_empty() {
                    let mut rule = rule;
                    rule["to"] = Value::Array(rest);
                    kept.push(rule);
                }
            }
            *rules = kept;
        }
        if changed {
            copy["metadata"]["annotations"][CUT_ANNOTATION] = Value::String(format!(
                "egress {} -> {}:{port} removed by lab scenario; `lab scenario` restores it",
                src.name, dst.name
            ));
            out.copies.push(Object::from_value(copy)?);
            out.originals.push(policy.clone());
        }
    }
    if out.copies.is_empty() {
        bail!("no NetworkPolicy of the kind overlay allows {from} → {to}:{port}: nothing to cut");
    }
    Ok(out)
}

/// `rendered` with `replacements` in place of the objects of the same kind, namespace and name.
pub fn with_replaced(rendered: &Rendered, replacements: &[Object]) -> Rendered {
    let mut r = rendered.clone();
    for o in &mut r.objects {
        if let Some(new) = replacements.iter().find(|n| n.id() == o.id()) {
            *o = new.clone();
        }
    }
    r
}

/// Every pod-to-pod connection (each pod × each container port of every pod, TCP) whose verdict
/// differs between `before` and `after`: (source, destination, port, allowed after).
pub fn changed_edges(
    before: &Rendered,
    after: &Rendered,
    pods: &[PodTemplate],
) -> Vec<(String, String, u16, bool)> {
    let node = std::net::Ipv4Addr::new(172, 18, 0, 2);
    let peers: Vec<Peer> = peers(pods, node);
    let (b, a) = (Policies::of(before), Policies::of(after));
    let mut out = Vec::new();
    for (dst_t, dst) in pods.iter().zip(&peers) {
        for port in container_ports(dst_t) {
            for src in &peers {
                let (was, is) = (
                    b.allowed(src, dst, port, "TCP"),
                    a.allowed(src, dst, port, "TCP"),
                );
                if was != is {
                    out.push((src.name.clone(), dst.name.clone(), port, is));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The cut's proof, run before anything is applied: with the copies in place exactly the
/// connections from `from`'s pods to `to`'s pods on `port` change, from allowed to denied.
pub fn verify(
    rendered: &Rendered,
    cut: &Cut,
    pods: &[PodTemplate],
    from: &str,
    to: &str,
    port: u16,
) -> anyhow::Result<()> {
    let src = target(pods, from)?.owner.clone();
    let dst = target(pods, to)?.owner.clone();
    let after = with_replaced(rendered, &cut.copies);
    let changed = changed_edges(rendered, &after, pods);
    let expected = vec![(src, dst, port, false)];
    if changed != expected {
        bail!("the cut of {from} → {to}:{port} changes {changed:?}, expected exactly {expected:?}");
    }
    let back = with_replaced(&after, &cut.originals);
    let undone = changed_edges(rendered, &back, pods);
    if !undone.is_empty() {
        bail!("restoring the cut of {from} → {to}:{port} leaves {undone:?} changed");
    }
    Ok(())
}

/// The objects as one YAML stream for `kubectl apply -f -`.
pub fn yaml(objects: &[Object]) -> anyhow::Result<String> {
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&o.value)?);
    }
    Ok(out)
}

fn is_egress(policy: &Value) -> bool {
    match policy
        .pointer("/spec/policyTypes")
        .and_then(Value::as_array)
    {
        Some(types) => types.iter().any(|t| t == "Egress"),
        None => policy.pointer("/spec/egress").is_some(),
    }
}

fn container_ports(t: &PodTemplate) -> Vec<u16> {
    t.containers()
        .flat_map(|c| {
            c.get("ports")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|p| u16::try_from(p.get("containerPort")?.as_u64()?).ok())
        .collect()
}

/// Whether the rule's `ports` admit `port` on the destination (absent or empty: every port).
fn rule_ports_include(rule: &Value, dst: &PodTemplate, port: u16) -> bool {
    let Some(list) = rule.get("ports").and_then(Value::as_array) else {
        return true;
    };
    list.is_empty()
        || list.iter().any(|p| {
            let proto_ok = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP") == "TCP";
            let start = match p.get("port") {
                None => return proto_ok,
                Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                Some(Value::String(name)) => named_port(dst, name),
                Some(_) => None,
            };
            let end = p
                .get("endPort")
                .and_then(Value::as_u64)
                .and_then(|n| u16::try_from(n).ok());
            proto_ok && start.is_some_and(|s| (s..=end.unwrap_or(s)).contains(&port))
        })
}

fn named_port(t: &PodTemplate, name: &str) -> Option<u16> {
    t.containers()
        .flat_map(|c| {
            c.get("ports")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|p| u16::try_from(p.get("containerPort")?.as_u64()?).ok())
}

/// Whether one `to` peer selects the destination's pods (pod and namespace selectors; an
/// `ipBlock` counts as selecting it so that the caller refuses rather than misses it).
fn peer_selects(
    peer: &Value,
    policy_ns: &str,
    dst_ns: &str,
    dst_ns_labels: &Labels,
    dst_labels: &Labels,
) -> bool {
    if peer.get("ipBlock").is_some() {
        return true;
    }
    let ns_ok = match peer.get("namespaceSelector") {
        None => dst_ns == policy_ns,
        Some(sel) => selects(Some(sel), dst_ns_labels),
    };
    ns_ok && selects(peer.get("podSelector"), dst_labels)
}

/// A namespace's labels as the API server has them (with `kubernetes.io/metadata.name`).
fn namespace_labels(rendered: &Rendered, ns: &str) -> Labels {
    let mut labels: Labels = rendered
        .of_kind("Namespace")
        .find(|o| o.name == ns)
        .and_then(|o| o.value.pointer("/metadata/labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default();
    labels.insert("kubernetes.io/metadata.name".into(), ns.to_owned());
    labels
}
