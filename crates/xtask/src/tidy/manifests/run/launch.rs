//! What a manifest's pod template turns into on this machine: the program, args, env with cluster
//! addresses rewritten ([`AddressMap`]), the pod's own loopback address, its emptyDirs and its probes.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

use lab::manifests::pod::{PodTemplate, resolve_env};
use lab::manifests::render::Rendered;

/// Rewrites in-cluster addresses (`<service>.<namespace>.svc[.cluster.local]:<port>`) to real ones.
#[derive(Debug, Clone, Default)]
pub struct AddressMap {
    entries: Vec<(String, u16, String)>,
}

impl AddressMap {
    /// `service.namespace:port` is served at `target` (`127.0.0.1:5432`).
    pub fn insert(&mut self, service: &str, namespace: &str, port: u16, target: String) {
        self.entries
            .push((format!("{service}.{namespace}.svc"), port, target));
    }

    /// `value` with every mapped address replaced; an in-cluster name left unmapped is an error, so a
    /// manifest cannot point at something the test did not provide.
    pub fn rewrite(&self, value: &str) -> anyhow::Result<String> {
        let mut out = value.to_owned();
        for (host, port, target) in &self.entries {
            for form in [
                format!("{host}.cluster.local:{port}"),
                format!("{host}:{port}"),
            ] {
                out = out.replace(&form, target);
            }
        }
        if let Some(i) = out.find(".svc") {
            bail!(
                "{value:?} names an in-cluster address the test cannot map (near {:?})",
                &out[..i + 4]
            );
        }
        Ok(out)
    }
}

/// How a probe checks a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    Http { path: String, port: u16 },
    Grpc { port: u16, service: String },
    Tcp { port: u16 },
}

/// One of a container's probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `startupProbe`, `readinessProbe`, `livenessProbe`.
    pub which: String,
    pub kind: ProbeKind,
    pub period: Duration,
    pub failure_threshold: u32,
}

/// Everything needed to start one container of a pod template here.
#[derive(Debug, Clone)]
pub struct Launch {
    /// `Deployment mop/catalog container catalog`.
    pub what: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub uid: u32,
    pub gid: u32,
    /// `emptyDir` mount paths with their size limits (bytes).
    pub empty_dirs: Vec<(String, Option<u64>)>,
    pub pod_ip: Ipv4Addr,
    pub probes: Vec<Probe>,
    pub grace: Duration,
}

/// Builds the launch of `template`'s app container `index`: command mapped to `bin_dir`, environment
/// resolved and rewritten through `addresses`.
pub fn launch(
    template: &PodTemplate,
    index: usize,
    rendered: &Rendered,
    bin_dir: &Path,
    addresses: &AddressMap,
    pod_ip: Ipv4Addr,
) -> anyhow::Result<Launch> {
    let container = template
        .spec
        .pointer(&format!("/containers/{index}"))
        .ok_or_else(|| anyhow!("{}: no container {index}", template.owner))?;
    let cname = container.get("name").and_then(Value::as_str).unwrap_or("?");
    let what = format!("{} container {cname}", template.owner);
    let command: Vec<&str> = strings(container.get("command"));
    let [binary] = command.as_slice() else {
        bail!("{what}: command must be exactly [\"/bin/<bin>\"], is {command:?}");
    };
    let bin = binary
        .strip_prefix("/bin/")
        .ok_or_else(|| anyhow!("{what}: command {binary} is not /bin/<bin>"))?;
    let program = bin_dir.join(bin);
    if !program.is_file() {
        bail!(
            "{what}: {} is missing; build it with `cargo build --workspace --bins`",
            program.display()
        );
    }
    let args = strings(container.get("args"))
        .into_iter()
        .map(|a| addresses.rewrite(a))
        .collect::<anyhow::Result<Vec<_>>>()
        .with_context(|| format!("{what}: args"))?;
    let mut env = Vec::new();
    for (k, v) in
        resolve_env(container, &template.namespace, rendered).with_context(|| what.clone())?
    {
        let v = match v.strip_prefix("0.0.0.0:") {
            Some(port) => format!("{pod_ip}:{port}"),
            None => addresses
                .rewrite(&v)
                .with_context(|| format!("{what}: env {k}"))?,
        };
        env.push((k, v));
    }
    let pod_sc = template.spec.get("securityContext").unwrap_or(&Value::Null);
    let sc = container.get("securityContext").unwrap_or(&Value::Null);
    let id = |key: &str| {
        sc.get(key)
            .or_else(|| pod_sc.get(key))
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    let uid = id("runAsUser").ok_or_else(|| anyhow!("{what}: no runAsUser"))?;
    let gid = id("runAsGroup").unwrap_or(uid);
    let volumes = template
        .spec
        .get("volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut empty_dirs = Vec::new();
    for mount in container
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = mount
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = mount
            .get("mountPath")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let volume = volumes
            .iter()
            .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
            .ok_or_else(|| anyhow!("{what}: volumeMount {name} has no volume"))?;
        match volume.get("emptyDir") {
            Some(e) => {
                let limit = e
                    .get("sizeLimit")
                    .and_then(Value::as_str)
                    .map(crate::tidy::manifests::footprint::bytes)
                    .transpose()?;
                empty_dirs.push((path.to_owned(), limit));
            }
            None => bail!(
                "{what}: volume {name} is not an emptyDir; the run test only provides emptyDirs"
            ),
        }
    }
    let ports: BTreeMap<String, u16> = container
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some((
                p.get("name")?.as_str()?.to_owned(),
                u16::try_from(p.get("containerPort")?.as_u64()?).ok()?,
            ))
        })
        .collect();
    let mut probes = Vec::new();
    for which in ["startupProbe", "readinessProbe", "livenessProbe"] {
        if let Some(p) = container.get(which) {
            probes.push(parse_probe(which, p, &ports).with_context(|| format!("{what}: {which}"))?);
        }
    }
    let grace = template
        .spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(30);
    Ok(Launch {
        what,
        program,
        args,
        env,
        uid,
        gid,
        empty_dirs,
        pod_ip,
        probes,
        grace: Duration::from_secs(grace),
    })
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn parse_probe(which: &str, p: &Value, ports: &BTreeMap<String, u16>) -> anyhow::Result<Probe> {
    let port = |v: Option<&Value>| -> anyhow::Result<u16> {
        match v {
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .ok_or_else(|| anyhow!("bad port {n}")),
            Some(Value::String(name)) => ports
                .get(name)
                .copied()
                .ok_or_else(|| anyhow!("port name {name} is not a container port")),
            _ => bail!("no port"),
        }
    };
    let kind = if let Some(h) = p.get("httpGet") {
        ProbeKind::Http {
            path: h
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or("/")
                .to_owned(),
            port: port(h.get("port"))?,
        }
    } else if let Some(g) = p.get("grpc") {
        ProbeKind::Grpc {
            port: port(g.get("port"))?,
            service: g
                .get("service")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }
    } else if let Some(t) = p.get("tcpSocket") {
        ProbeKind::Tcp {
            port: port(t.get("port"))?,
        }
    } else {
        bail!("only httpGet, grpc and tcpSocket probes can be run here: {p}");
    };
    let secs = |k: &str, d: u64| p.get(k).and_then(Value::as_u64).unwrap_or(d);
    Ok(Probe {
        which: which.to_owned(),
        kind,
        period: Duration::from_secs(secs("periodSeconds", 10)),
        failure_threshold: u32::try_from(secs("failureThreshold", 3)).unwrap_or(3),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_addresses_are_mapped_and_unknown_ones_refused() {
        let mut m = AddressMap::default();
        m.insert("postgres", "mop", 5432, "127.0.0.1:40000".into());
        assert_eq!(
            m.rewrite("postgres://u:p@postgres.mop.svc:5432/orders")
                .unwrap(),
            "postgres://u:p@127.0.0.1:40000/orders"
        );
        assert_eq!(
            m.rewrite("postgres.mop.svc.cluster.local:5432").unwrap(),
            "127.0.0.1:40000"
        );
        assert!(m.rewrite("http://tempo.observability.svc:4318").is_err());
        assert_eq!(m.rewrite("json").unwrap(), "json");
    }
}
