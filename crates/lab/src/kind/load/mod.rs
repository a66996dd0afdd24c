//! `just load PROFILE [ARGS]` in the kind lab: loadgen as a Job made from the load component's
//! template (kustomize/components/load/loadgen-job.yaml), so OBI sees both ends of every request.
//!
//! The template is not a resource of the component (`just up` must not run it); here it gets a unique
//! name, `args: [run, PROFILE, ARGS…]`, no retries (loadgen's exit code is the answer), and — for a
//! scenario file — a ConfigMap holding the file, mounted read-only.

use anyhow::{Context, bail};
use serde_yaml::{Mapping, Value};

use super::APPS_NAMESPACE;

/// Where a scenario file is mounted in the loadgen pod.
pub const SCENARIO_DIR: &str = "/etc/loadgen/scenario";

/// What to run: a built-in profile name, or a scenario file's name and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    BuiltIn(String),
    File { name: String, contents: String },
}

impl Profile {
    /// A path to an existing file is a scenario file; anything else is a profile name.
    pub fn from_arg(arg: &str) -> anyhow::Result<Self> {
        let path = std::path::Path::new(arg);
        if path.is_file() {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .context("scenario file name")?
                // A ConfigMap key allows only [-._a-zA-Z0-9].
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-._".contains(c) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            let contents =
                std::fs::read_to_string(path).with_context(|| format!("reading {arg}"))?;
            Ok(Profile::File { name, contents })
        } else {
            Ok(Profile::BuiltIn(arg.to_owned()))
        }
    }

    fn label(&self) -> &str {
        match self {
            Profile::BuiltIn(name) => name,
            Profile::File { name, .. } => name,
        }
    }
}

/// A DNS-1123 name `loadgen-<profile>-<suffix>` of at most 63 characters.
pub fn job_name(profile: &Profile, suffix: &str) -> String {
    let stem: String = profile
        .label()
        .trim_end_matches(".yaml")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let stem = stem.trim_matches('-');
    let mut name = format!("loadgen-{stem}");
    name.truncate(62 - suffix.len());
    format!("{}-{suffix}", name.trim_end_matches('-'))
}

/// The objects to apply (a ConfigMap for a scenario file, then the Job) as one YAML stream.
pub fn objects(
    template: &str,
    name: &str,
    profile: &Profile,
    args: &[String],
) -> anyhow::Result<String> {
    let mut job: Value = serde_yaml::from_str(template).context("the loadgen Job template")?;
    if job.get("kind").and_then(Value::as_str) != Some("Job") {
        bail!("the loadgen template is not a Job");
    }
    let meta = map(&mut job, "metadata")?;
    meta.insert("name".into(), name.into());
    meta.insert("namespace".into(), APPS_NAMESPACE.into());
    let spec = map(&mut job, "spec")?;
    // One attempt: a failed run is a result to report, not something to retry.
    spec.insert("backoffLimit".into(), 0.into());
    if !spec.contains_key("ttlSecondsAfterFinished") {
        spec.insert("ttlSecondsAfterFinished".into(), 3600.into());
    }
    let pod_spec = job
        .get_mut("spec")
        .and_then(|s| s.get_mut("template"))
        .and_then(|t| t.get_mut("spec"))
        .and_then(Value::as_mapping_mut)
        .context("the template has no spec.template.spec")?;
    let target = match profile {
        Profile::BuiltIn(p) => p.clone(),
        Profile::File { name, .. } => format!("{SCENARIO_DIR}/{name}"),
    };
    let mut run = vec![Value::from("run"), Value::from(target)];
    run.extend(args.iter().map(|a| Value::from(a.as_str())));
    {
        let container = pod_spec
            .get_mut("containers")
            .and_then(Value::as_sequence_mut)
            .context("the template has no containers")?
            .iter_mut()
            .find(|c| c.get("name").and_then(Value::as_str) == Some("loadgen"))
            .context("the template has no container named loadgen")?
            .as_mapping_mut()
            .context("the loadgen container is not a mapping")?;
        container.insert("args".into(), Value::Sequence(run));
        if matches!(profile, Profile::File { .. }) {
            entry_seq(container, "volumeMounts")?.push(serde_yaml::from_str(&format!(
                "{{name: scenario, mountPath: {SCENARIO_DIR}, readOnly: true}}"
            ))?);
        }
    }

    let mut out = String::new();
    if let Profile::File {
        name: file,
        contents,
    } = profile
    {
        let volumes = entry_seq(pod_spec, "volumes")?;
        volumes.push(serde_yaml::from_str(&format!(
            "{{name: scenario, configMap: {{name: {name}}}}}"
        ))?);
        let mut data = Mapping::new();
        data.insert(file.as_str().into(), contents.as_str().into());
        let mut config_map: Value = serde_yaml::from_str(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {APPS_NAMESPACE}, labels: {{app.kubernetes.io/name: loadgen}}}}"
        ))?;
        config_map
            .as_mapping_mut()
            .context("ConfigMap")?
            .insert("data".into(), Value::Mapping(data));
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&config_map)?);
    }
    out.push_str("---\n");
    out.push_str(&serde_yaml::to_string(&job)?);
    Ok(out)
}

fn map<'a>(v: &'a mut Value, key: &str) -> anyhow::Result<&'a mut Mapping> {
    v.get_mut(key)
        .with_context(|| format!("the template has no `{key}`"))?
        .as_mapping_mut()
        .with_context(|| format!("the template's `{key}` is not a mapping"))
}

/// The list under `key`, created when absent.
fn entry_seq<'a>(m: &'a mut Mapping, key: &str) -> anyhow::Result<&'a mut Vec<Value>> {
    m.entry(key.into())
        .or_insert_with(|| Value::Sequence(Vec::new()))
        .as_sequence_mut()
        .with_context(|| format!("`{key}` is not a list"))
}

/// The loadgen pod's state, from `kubectl get pods -l batch.kubernetes.io/job-name=NAME -o json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodState {
    /// No pod yet, or not started (with the waiting reason, e.g. ContainerCreating).
    Pending(String),
    Running,
    Exited(i32),
}

/// Waiting reasons that never clear by themselves: waiting out the start-up timeout would only hide them.
pub fn is_stuck(reason: &str) -> bool {
    matches!(
        reason,
        "ErrImagePull"
            | "ImagePullBackOff"
            | "ErrImageNeverPull"
            | "InvalidImageName"
            | "CreateContainerConfigError"
    )
}

pub fn pod_state(list: &serde_json::Value) -> PodState {
    let Some(pod) = list.pointer("/items/0") else {
        return PodState::Pending("no pod yet".into());
    };
    let status = pod.pointer("/status/containerStatuses/0/state");
    if let Some(code) = status
        .and_then(|s| s.pointer("/terminated/exitCode"))
        .and_then(serde_json::Value::as_i64)
    {
        return PodState::Exited(i32::try_from(code).unwrap_or(1));
    }
    if status.and_then(|s| s.get("running")).is_some() {
        return PodState::Running;
    }
    let reason = status
        .and_then(|s| s.pointer("/waiting/reason"))
        .and_then(serde_json::Value::as_str)
        .or_else(|| {
            pod.pointer("/status/phase")
                .and_then(serde_json::Value::as_str)
        })
        .unwrap_or("pending");
    PodState::Pending(reason.to_owned())
}

#[cfg(test)]
mod tests;
