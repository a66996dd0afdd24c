//! The pod templates inside workloads, and what one container of them would be started with: its
//! command, arguments and environment as the kubelet resolves them (Secrets, `$(VAR)` expansion).

use std::collections::BTreeMap;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

use super::render::{Object, Rendered};

/// Whether a workload's pods run until stopped or run to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Deployment, StatefulSet, DaemonSet: counted in the footprint.
    LongRunning,
    /// Job, CronJob: started, finish, gone.
    RunToCompletion,
}

/// A pod template and the workload that owns it.
#[derive(Debug, Clone)]
pub struct PodTemplate {
    /// `Deployment mop/catalog`, …
    pub owner: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub lifetime: Lifetime,
    /// Pods this workload runs at once (DaemonSet: one per node; the kind lab has one node).
    pub replicas: u64,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// The pod `spec`.
    pub spec: Value,
}

impl PodTemplate {
    /// App and init containers, in that order.
    pub fn containers(&self) -> impl Iterator<Item = &Value> {
        ["initContainers", "containers"]
            .into_iter()
            .filter_map(|key| self.spec.get(key).and_then(Value::as_array))
            .flatten()
    }
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The pod template of a workload object, `None` for any other kind.
pub fn template_of(object: &Object) -> Option<PodTemplate> {
    let (template, lifetime) = match object.kind.as_str() {
        "Deployment" | "StatefulSet" | "DaemonSet" => (
            object.value.pointer("/spec/template")?,
            Lifetime::LongRunning,
        ),
        "Job" => (
            object.value.pointer("/spec/template")?,
            Lifetime::RunToCompletion,
        ),
        "CronJob" => (
            object.value.pointer("/spec/jobTemplate/spec/template")?,
            Lifetime::RunToCompletion,
        ),
        _ => return None,
    };
    let replicas = match object.kind.as_str() {
        "Deployment" | "StatefulSet" => object
            .value
            .pointer("/spec/replicas")
            .and_then(Value::as_u64)
            .unwrap_or(1),
        "Job" => object
            .value
            .pointer("/spec/parallelism")
            .and_then(Value::as_u64)
            .unwrap_or(1),
        _ => 1,
    };
    Some(PodTemplate {
        owner: object.id(),
        kind: object.kind.clone(),
        name: object.name.clone(),
        namespace: object.namespace.clone().unwrap_or_else(|| "default".into()),
        lifetime,
        replicas,
        labels: string_map(template.pointer("/metadata/labels")),
        annotations: string_map(template.pointer("/metadata/annotations")),
        spec: template.get("spec").cloned().unwrap_or(Value::Null),
    })
}

/// Every pod template of a rendered overlay.
pub fn templates(rendered: &Rendered) -> Vec<PodTemplate> {
    rendered.objects.iter().filter_map(template_of).collect()
}

/// A container's environment as the kubelet builds it: literal values, `secretKeyRef`s resolved from the
/// rendered Secrets (`data` base64, or `stringData`), then `$(NAME)` references to variables defined
/// earlier in the list expanded (`$$` escapes). Anything else (`fieldRef`, ConfigMap refs) is an error,
/// so a new kind of reference cannot slip past the tests untested.
pub fn resolve_env(
    container: &Value,
    namespace: &str,
    rendered: &Rendered,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut env: Vec<(String, String)> = Vec::new();
    for var in container
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = var
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("env entry without a name: {var}"))?;
        let value = if let Some(v) = var.get("value") {
            let raw = v
                .as_str()
                .ok_or_else(|| anyhow!("env {name}: value is not a string"))?;
            expand(raw, &env)
        } else if let Some(r) = var.pointer("/valueFrom/secretKeyRef") {
            let secret = r.get("name").and_then(Value::as_str).unwrap_or_default();
            let key = r.get("key").and_then(Value::as_str).unwrap_or_default();
            secret_value(rendered, namespace, secret, key).with_context(|| format!("env {name}"))?
        } else {
            bail!("env {name}: only value and valueFrom.secretKeyRef are supported here: {var}");
        };
        env.retain(|(k, _)| k != name);
        env.push((name.to_owned(), value));
    }
    Ok(env)
}

/// Kubernetes' dependent-variable expansion: `$(NAME)` becomes an earlier variable's value, `$$` a `$`,
/// and a reference to an unknown variable stays as written (as the kubelet does).
pub fn expand(raw: &str, defined: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            match defined.iter().rev().find(|(k, _)| k == name) {
                Some((_, v)) => out.push_str(v),
                None => out.push_str(&rest[i..i + 2 + end + 1]),
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn secret_value(
    rendered: &Rendered,
    namespace: &str,
    name: &str,
    key: &str,
) -> anyhow::Result<String> {
    use base64::Engine;
    let secret = rendered
        .objects
        .iter()
        .find(|o| o.kind == "Secret" && o.name == name && o.namespace.as_deref() == Some(namespace))
        .ok_or_else(|| anyhow!("Secret {namespace}/{name} is not in the rendered overlay"))?;
    if let Some(v) = secret.value.pointer(&format!("/stringData/{key}")) {
        return Ok(v.as_str().unwrap_or_default().to_owned());
    }
    let encoded = secret
        .str_at(&format!("/data/{key}"))
        .ok_or_else(|| anyhow!("Secret {namespace}/{name} has no key {key}"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .with_context(|| format!("Secret {namespace}/{name} key {key} is not base64"))?;
    String::from_utf8(bytes).context("secret value is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defined() -> Vec<(String, String)> {
        vec![
            ("USER".into(), "orders".into()),
            ("PASS".into(), "s3cret".into()),
        ]
    }

    #[test]
    fn dependent_variables_expand_like_the_kubelet() {
        assert_eq!(
            expand("postgres://$(USER):$(PASS)@db:5432/orders", &defined()),
            "postgres://orders:s3cret@db:5432/orders"
        );
        assert_eq!(expand("$$(USER) costs $5", &defined()), "$(USER) costs $5");
        assert_eq!(expand("$(MISSING)/x", &defined()), "$(MISSING)/x");
    }
}
