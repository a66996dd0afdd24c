//! Rendering an overlay with `kubectl kustomize` (the kustomize kubectl embeds — what `just up` applies)
//! and parsing its output into objects.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

/// One Kubernetes object of a rendered overlay.
#[derive(Debug, Clone)]
pub struct Object {
    pub kind: String,
    pub name: String,
    /// `None` for cluster-scoped objects (and for namespaced ones left to the default namespace).
    pub namespace: Option<String>,
    pub value: Value,
}

impl Object {
    /// Parses one YAML document's value; `apiVersion`, `kind` and `metadata.name` are required.
    pub fn from_value(value: Value) -> anyhow::Result<Self> {
        let text = |p: &str| value.pointer(p).and_then(Value::as_str).map(str::to_owned);
        let (Some(kind), Some(name), Some(_)) =
            (text("/kind"), text("/metadata/name"), text("/apiVersion"))
        else {
            bail!("an object without apiVersion, kind or metadata.name: {value}");
        };
        let namespace = text("/metadata/namespace");
        Ok(Self {
            kind,
            name,
            namespace,
            value,
        })
    }

    /// `Kind namespace/name`, for messages.
    pub fn id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    /// A string field by JSON pointer.
    pub fn str_at(&self, pointer: &str) -> Option<&str> {
        self.value.pointer(pointer).and_then(Value::as_str)
    }
}

/// The objects of one rendered overlay, and the YAML text they came from.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub dir: PathBuf,
    pub yaml: String,
    pub objects: Vec<Object>,
}

impl Rendered {
    /// The object of this kind and name (in any namespace), if present.
    pub fn get(&self, kind: &str, name: &str) -> Option<&Object> {
        self.objects
            .iter()
            .find(|o| o.kind == kind && o.name == name)
    }

    /// All objects of a kind.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects.iter().filter(move |o| o.kind == kind)
    }
}

/// Renders `dir` with `kubectl kustomize`. Any warning on stderr (kustomize prints deprecations there,
/// e.g. `commonLabels`, `patchesStrategicMerge`) is an error: the overlays must render cleanly.
pub fn render(dir: &Path) -> anyhow::Result<Rendered> {
    let out = Command::new(testkit::process::tool("kubectl"))
        .arg("kustomize")
        .arg(dir)
        .output()
        .context(
            "cannot run `kubectl`: install kubectl ≥ 1.32 (it embeds kustomize v5.5): \
             scripts/install-deps.sh, `nix develop`, or https://kubernetes.io/docs/tasks/tools/",
        )?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("kubectl kustomize {} failed: {stderr}", dir.display());
    }
    if !stderr.trim().is_empty() {
        bail!(
            "kubectl kustomize {} printed warnings (deprecated fields?):\n{stderr}",
            dir.display()
        );
    }
    let yaml = String::from_utf8(out.stdout).context("kustomize output is not UTF-8")?;
    let objects = parse(&yaml)?;
    Ok(Rendered {
        dir: dir.to_path_buf(),
        yaml,
        objects,
    })
}

/// Parses a multi-document YAML stream into objects (empty documents are skipped).
pub fn parse(yaml: &str) -> anyhow::Result<Vec<Object>> {
    use serde::Deserialize;
    let mut objects = Vec::new();
    for document in serde_yaml::Deserializer::from_str(yaml) {
        let value = Value::deserialize(document).context("invalid YAML document")?;
        if value.is_null() {
            continue;
        }
        objects.push(Object::from_value(value)?);
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_become_objects_with_their_namespace() {
        let objects = parse(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: mop}\n---\n---\n\
             apiVersion: v1\nkind: Service\nmetadata: {name: catalog, namespace: mop}\n",
        )
        .unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].id(), "Namespace mop");
        assert_eq!(objects[1].id(), "Service mop/catalog");
    }

    #[test]
    fn an_object_without_a_name_is_an_error() {
        let err = parse("apiVersion: v1\nkind: Service\nmetadata: {}\n").unwrap_err();
        assert!(err.to_string().contains("metadata.name"), "{err}");
    }
}
