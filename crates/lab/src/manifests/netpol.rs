//! NetworkPolicy evaluation, following the `networking.k8s.io/v1` semantics: a connection is allowed when
//! the destination's ingress policies and the source's egress policies both allow it (a side no policy
//! selects is open). There is no CNI on our build machines, so the tests ask this evaluator about every
//! pod-to-pod pair of the rendered overlay instead.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::Value;

use super::pod::PodTemplate;
use super::render::Rendered;

pub type Labels = BTreeMap<String, String>;

/// A connection's source or destination.
#[derive(Debug, Clone)]
pub struct Peer {
    /// `Deployment mop/catalog`, `host` …
    pub name: String,
    /// `None` for traffic from outside any pod network (the host through a NodePort, host-network pods).
    pub pod: Option<PodPeer>,
    pub ip: Ipv4Addr,
}

#[derive(Debug, Clone)]
pub struct PodPeer {
    pub namespace: String,
    pub labels: Labels,
    /// Named container ports (`http` → 8081), for policies that name ports.
    pub ports: BTreeMap<String, u16>,
}

/// The pods of an overlay as peers: pod-network addresses in kind's pod subnet (10.244.0.0/16); pods on
/// the host network get the node's address and no pod identity (a policy cannot select them as pods).
pub fn peers(templates: &[PodTemplate], node_ip: Ipv4Addr) -> Vec<Peer> {
    templates
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let host_network = t.spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
            let ports = t
                .containers()
                .flat_map(|c| {
                    c.get("ports")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                })
                .filter_map(|p| {
                    Some((
                        p.get("name")?.as_str()?.to_owned(),
                        u16::try_from(p.get("containerPort")?.as_u64()?).ok()?,
                    ))
                })
                .collect();
            let n = u8::try_from(i + 2).unwrap_or(255);
            Peer {
                name: t.owner.clone(),
                pod: (!host_network).then(|| PodPeer {
                    namespace: t.namespace.clone(),
                    labels: t.labels.clone(),
                    ports,
                }),
                ip: if host_network {
                    node_ip
                } else {
                    Ipv4Addr::new(10, 244, 0, n)
                },
            }
        })
        .collect()
}

/// The policies and namespace labels of a rendered overlay.
#[derive(Debug, Clone)]
pub struct Policies {
    policies: Vec<(String, Value)>,
    namespaces: BTreeMap<String, Labels>,
}

impl Policies {
    pub fn of(rendered: &Rendered) -> Self {
        let mut namespaces: BTreeMap<String, Labels> = BTreeMap::new();
        for ns in rendered.of_kind("Namespace") {
            let mut labels: Labels = ns
                .value
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            // The API server labels every namespace with its own name.
            labels.insert("kubernetes.io/metadata.name".into(), ns.name.clone());
            namespaces.insert(ns.name.clone(), labels);
        }
        let policies = rendered
            .of_kind("NetworkPolicy")
            .map(|p| (p.namespace.clone().unwrap_or_default(), p.value.clone()))
            .collect();
        Self {
            policies,
            namespaces,
        }
    }

    /// Adds a namespace the overlay does not create (kube-system, for DNS).
    pub fn with_namespace(mut self, name: &str) -> Self {
        self.namespaces
            .entry(name.to_owned())
            .or_default()
            .insert("kubernetes.io/metadata.name".into(), name.to_owned());
        self
    }

    /// Whether `src` may open a connection to `dst` on `port`/`protocol`.
    pub fn allowed(&self, src: &Peer, dst: &Peer, port: u16, protocol: &str) -> bool {
        let ingress_ok = match &dst.pod {
            None => true,
            Some(d) => self.side_allows(d, "Ingress", "ingress", "from", src, dst, port, protocol),
        };
        let egress_ok = match &src.pod {
            None => true,
            Some(s) => self.side_allows(s, "Egress", "egress", "to", dst, dst, port, protocol),
        };
        ingress_ok && egress_ok
    }

    /// One side: the policies of `subject`'s namespace that select it for `kind`; none = open.
    #[allow(clippy::too_many_arguments)]
    fn side_allows(
        &self,
        subject: &PodPeer,
        kind: &str,
        rules_key: &str,
        peers_key: &str,
        other: &Peer,
        dst: &Peer,
        port: u16,
        protocol: &str,
    ) -> bool {
        let selecting: Vec<&Value> = self
            .policies
            .iter()
            .filter(|(ns, _)| *ns == subject.namespace)
            .map(|(_, p)| p)
            .filter(|p| {
                selects(p.pointer("/spec/podSelector"), &subject.labels)
                    && policy_types(p).iter().any(|t| t == kind)
            })
            .collect();
        if selecting.is_empty() {
            return true;
        }
        selecting.iter().any(|p| {
            p.pointer(&format!("/spec/{rules_key}"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|rule| {
                    let peers_ok = match rule.get(peers_key).and_then(Value::as_array) {
                        None => true,
                        Some(list) if list.is_empty() => true,
                        Some(list) => list
                            .iter()
                            .any(|peer| self.peer_matches(peer, &subject.namespace, other)),
                    };
                    peers_ok && ports_match(rule.get("ports"), dst, port, protocol)
                })
        })
    }

    fn peer_matches(&self, peer: &Value, policy_ns: &str, other: &Peer) -> bool {
        if let Some(block) = peer.get("ipBlock") {
            return ip_block_contains(block, other.ip);
        }
        let Some(pod) = &other.pod else {
            return false; // pod and namespace selectors never match non-pod traffic
        };
        let ns_ok = match peer.get("namespaceSelector") {
            None => pod.namespace == policy_ns,
            Some(sel) => self
                .namespaces
                .get(&pod.namespace)
                .is_some_and(|labels| selects(Some(sel), labels)),
        };
        let pod_ok = match peer.get("podSelector") {
            None => true,
            Some(sel) => selects(Some(sel), &pod.labels),
        };
        ns_ok && pod_ok
    }
}

/// `policyTypes`, defaulted as the API server does: Ingress, plus Egress when egress rules exist.
fn policy_types(policy: &Value) -> Vec<String> {
    if let Some(list) = policy
        .pointer("/spec/policyTypes")
        .and_then(Value::as_array)
    {
        return list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    let mut types = vec!["Ingress".to_owned()];
    if policy.pointer("/spec/egress").is_some() {
        types.push("Egress".into());
    }
    types
}

/// A label selector (`matchLabels`, `matchExpressions`); an absent or empty selector selects everything.
pub fn selects(selector: Option<&Value>, labels: &Labels) -> bool {
    let Some(sel) = selector else { return true };
    let labels_ok = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    let expressions_ok = sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let have = labels.get(key).map(String::as_str);
            match e.get("operator").and_then(Value::as_str) {
                Some("In") => have.is_some_and(|v| values.contains(&v)),
                Some("NotIn") => !have.is_some_and(|v| values.contains(&v)),
                Some("Exists") => have.is_some(),
                Some("DoesNotExist") => have.is_none(),
                _ => false,
            }
        });
    labels_ok && expressions_ok
}

fn ports_match(ports: Option<&Value>, dst: &Peer, port: u16, protocol: &str) -> bool {
    let Some(list) = ports.and_then(Value::as_array) else {
        return true;
    };
    if list.is_empty() {
        return true;
    }
    list.iter().any(|p| {
        let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
        if proto != protocol {
            return false;
        }
        let start = match p.get("port") {
            None => return true,
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            Some(Value::String(name)) => dst.pod.as_ref().and_then(|d| d.ports.get(name).copied()),
            Some(_) => None,
        };
        let Some(start) = start else { return false };
        let end = p
            .get("endPort")
            .and_then(Value::as_u64)
            .and_then(|n| u16::try_from(n).ok())
            .unwrap_or(start);
        (start..=end).contains(&port)
    })
}

fn ip_block_contains(block: &Value, ip: Ipv4Addr) -> bool {
    let inside = |cidr: &str| {
        let Some((net, len)) = cidr.split_once('/') else {
            return false;
        };
        let (Ok(net), Ok(len)) = (net.parse::<Ipv4Addr>(), len.parse::<u32>()) else {
            return false;
        };
        let mask = if len == 0 {
            0
        } else {
            u32::MAX << (32 - len.min(32))
        };
        (u32::from(net) & mask) == (u32::from(ip) & mask)
    };
    let cidr = block
        .get("cidr")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let excepted = block
        .get("except")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(inside);
    inside(cidr) && !excepted
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn selectors_follow_label_selector_semantics() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        assert!(selects(Some(&json!({})), &l));
        assert!(selects(Some(&json!({"matchLabels": {"app": "web"}})), &l));
        assert!(!selects(Some(&json!({"matchLabels": {"app": "db"}})), &l));
        let expr = |op: &str| json!({"matchExpressions": [{"key": "app", "operator": op, "values": ["web"]}]});
        assert!(selects(Some(&expr("In")), &l));
        assert!(!selects(Some(&expr("NotIn")), &l));
        assert!(selects(
            Some(&json!({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]})),
            &l
        ));
    }

    #[test]
    fn ip_blocks_honour_except() {
        let b = json!({"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]});
        assert!(ip_block_contains(&b, Ipv4Addr::new(10, 2, 3, 4)));
        assert!(!ip_block_contains(&b, Ipv4Addr::new(10, 1, 3, 4)));
        assert!(ip_block_contains(
            &json!({"cidr": "0.0.0.0/0"}),
            Ipv4Addr::new(1, 2, 3, 4)
        ));
    }
}
