//! Pod Security Standards "restricted" (the rules of the namespace label `enforce: restricted`, from
//! the Kubernetes Pod Security Standards page) checked over pod templates, plus the lab's own rules: a
//! read-only root filesystem (or a stated reason), numeric non-root UIDs, requests and limits on every
//! container, and pinned images. No admission controller runs on our build machines, so this is the check.

use serde_json::Value;

use lab::manifests::pod::PodTemplate;

/// The annotation a pod template uses to keep a writable root filesystem, with its reason.
pub const WRITABLE_ROOT_ANNOTATION: &str = "lab.mop/writable-root";

/// Volume types "restricted" admits.
const ALLOWED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Sysctls the "baseline" (and so "restricted") profile allows.
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// Every rule `template` breaks, as `owner container: rule` lines (empty = admitted).
pub fn violations(template: &PodTemplate) -> Vec<String> {
    let mut out = Vec::new();
    let spec = &template.spec;
    let pod_sc = spec.get("securityContext").unwrap_or(&Value::Null);
    let mut bad = |what: &str, rule: String| out.push(format!("{} {what}: {rule}", template.owner));

    // Pod-level: host namespaces, volumes, sysctls, AppArmor/SELinux.
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(field).and_then(Value::as_bool) == Some(true) {
            bad("pod", format!("{field} must not be true"));
        }
    }
    for volume in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = volume.get("name").and_then(Value::as_str).unwrap_or("?");
        let kinds: Vec<&String> = volume
            .as_object()
            .map(|m| m.keys().filter(|k| *k != "name").collect())
            .unwrap_or_default();
        for kind in kinds {
            if !ALLOWED_VOLUMES.contains(&kind.as_str()) {
                bad(
                    "pod",
                    format!("volume {name} is {kind}, not an allowed volume type"),
                );
            }
        }
    }
    for sysctl in pod_sc
        .get("sysctls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = sysctl.get("name").and_then(Value::as_str).unwrap_or("?");
        if !SAFE_SYSCTLS.contains(&name) {
            bad("pod", format!("sysctl {name} is not a safe sysctl"));
        }
    }
    check_selinux_apparmor(pod_sc, "pod", &mut bad);
    let pod_non_root = pod_sc.get("runAsNonRoot").and_then(Value::as_bool);
    let pod_user = pod_sc.get("runAsUser").and_then(Value::as_i64);
    let pod_seccomp = pod_sc
        .pointer("/seccompProfile/type")
        .and_then(Value::as_str);
    if pod_user == Some(0) {
        bad("pod", "runAsUser must not be 0".into());
    }

    for container in template.containers() {
        let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
        let what = format!("container {name}");
        let sc = container.get("securityContext").unwrap_or(&Value::Null);
        if sc.get("privileged").and_then(Value::as_bool) == Some(true) {
            bad(&what, "privileged must not be true".into());
        }
        if sc.get("allowPrivilegeEscalation").and_then(Value::as_bool) != Some(false) {
            bad(&what, "allowPrivilegeEscalation must be false".into());
        }
        let drops: Vec<&str> = strings(sc.pointer("/capabilities/drop"));
        if !drops.contains(&"ALL") {
            bad(&what, "capabilities.drop must contain ALL".into());
        }
        for cap in strings(sc.pointer("/capabilities/add")) {
            if cap != "NET_BIND_SERVICE" {
                bad(&what, format!("capability {cap} may not be added"));
            }
        }
        let non_root = sc
            .get("runAsNonRoot")
            .and_then(Value::as_bool)
            .or(pod_non_root);
        if non_root != Some(true) {
            bad(&what, "runAsNonRoot must be true (pod or container)".into());
        }
        let user = sc.get("runAsUser").and_then(Value::as_i64).or(pod_user);
        match user {
            Some(0) => bad(&what, "runAsUser must not be 0".into()),
            // Not in the standard: a numeric UID, so the kubelet can verify runAsNonRoot without the
            // image's /etc/passwd (our images have none).
            None => bad(
                &what,
                "runAsUser must be set to a numeric non-root UID".into(),
            ),
            Some(_) => {}
        }
        let seccomp = sc
            .pointer("/seccompProfile/type")
            .and_then(Value::as_str)
            .or(pod_seccomp);
        if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
            bad(
                &what,
                "seccompProfile.type must be RuntimeDefault or Localhost".into(),
            );
        }
        check_selinux_apparmor(sc, &what, &mut bad);
        for port in container
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if port.get("hostPort").and_then(Value::as_i64).unwrap_or(0) != 0 {
                bad(&what, "hostPort must not be used".into());
            }
        }
        // The lab's own rules.
        let read_only = sc.get("readOnlyRootFilesystem").and_then(Value::as_bool) == Some(true);
        let reason = template
            .annotations
            .get(WRITABLE_ROOT_ANNOTATION)
            .is_some_and(|r| !r.trim().is_empty());
        if !read_only && !reason {
            bad(
                &what,
                format!(
                    "readOnlyRootFilesystem must be true (or the pod states why not in the \
                     {WRITABLE_ROOT_ANNOTATION} annotation)"
                ),
            );
        }
        for (kind, key) in [
            ("requests", "cpu"),
            ("requests", "memory"),
            ("limits", "cpu"),
            ("limits", "memory"),
        ] {
            if container
                .pointer(&format!("/resources/{kind}/{key}"))
                .is_none()
            {
                bad(&what, format!("resources.{kind}.{key} must be set"));
            }
        }
        if let Some(problem) = container
            .get("image")
            .and_then(Value::as_str)
            .map_or(Some("no image".to_owned()), image_problem)
        {
            bad(&what, problem);
        }
    }
    out
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn check_selinux_apparmor(sc: &Value, what: &str, bad: &mut impl FnMut(&str, String)) {
    if let Some(t) = sc.pointer("/seLinuxOptions/type").and_then(Value::as_str)
        && !matches!(
            t,
            "" | "container_t" | "container_init_t" | "container_kvm_t" | "container_engine_t"
        )
    {
        bad(what, format!("seLinuxOptions.type {t} is not allowed"));
    }
    for field in ["user", "role"] {
        if sc
            .pointer(&format!("/seLinuxOptions/{field}"))
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
        {
            bad(what, format!("seLinuxOptions.{field} must not be set"));
        }
    }
    if let Some(t) = sc.pointer("/appArmorProfile/type").and_then(Value::as_str)
        && !matches!(t, "RuntimeDefault" | "Localhost")
    {
        bad(what, format!("appArmorProfile.type {t} is not allowed"));
    }
}

/// Why an image reference is not pinned: no tag, or `latest`. (A digest pins on its own.)
pub fn image_problem(image: &str) -> Option<String> {
    if image.contains("@sha256:") {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Some(format!(
            "image {image} has no tag (means latest): pin a version"
        )),
        Some((_, "latest")) => Some(format!("image {image} uses latest: pin a version")),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpinned_images_are_named() {
        assert!(image_problem("postgres").is_some());
        assert!(image_problem("registry:5000/mop/catalog").is_some());
        assert!(image_problem("grafana/grafana:latest").is_some());
        assert_eq!(image_problem("registry:5000/mop/catalog:lab"), None);
        assert_eq!(image_problem("grafana/grafana@sha256:ab"), None);
    }
}
