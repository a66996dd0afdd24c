//! The kind lab's commands as a person runs them (the real `lab` binary, from the checkout): the
//! `--dry-run` plans in the order that matters, against the real overlay once kustomize/ exists, and
//! `doctor` on this machine's real host (every failure printed with its fix, exit code to match).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn lab(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The line number of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

#[test]
fn up_dry_run_prints_the_plan_in_the_order_that_matters() {
    let (ok, text) = lab(&["up", "--dry-run"]);
    assert!(ok, "{text}");
    let order = [
        " 1. doctor",
        "kind create cluster --name mop",
        "nix build --no-link --print-out-paths",
        "kind load image-archive --name mop",
        "kubectl kustomize",
        "apply --server-side --force-conflicts -f - : namespaces, CRDs, cluster RBAC, obi, observability",
        "rollout status daemonset/obi -n obi",
        "apply --server-side --force-conflicts -f - : backends and apps in mop",
        "rollout status every Deployment",
        "print Grafana",
    ];
    let lines: Vec<usize> = order.iter().map(|n| line_of(&text, n)).collect();
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "out of order: {lines:?}\n{text}"
    );
    for bin in lab::kind::POD_BINARIES {
        assert!(
            text.contains(&format!(".#image-{bin}")),
            "{bin} not built:\n{text}"
        );
    }
}

#[test]
fn up_dry_run_splits_the_real_overlay_when_there_is_one() {
    let (ok, text) = lab(&["up", "--dry-run"]);
    assert!(ok, "{text}");
    if !repo().join("kustomize/overlays/kind").is_dir() {
        assert!(
            text.contains("does not exist yet: nothing to render"),
            "{text}"
        );
        return;
    }
    let foundation = line_of(&text, "apply phase namespaces");
    let apps = line_of(&text, "apply phase backends and apps in mop");
    let waits = line_of(&text, "then wait for:");
    let phase_lines = |from: usize, to: usize| {
        text.lines()
            .skip(from + 1)
            .take(to - from - 1)
            .map(str::trim)
            .collect::<Vec<_>>()
    };
    let first = phase_lines(foundation, apps);
    let second = phase_lines(apps, waits);
    assert!(
        first.contains(&"Namespace/mop") && first.contains(&"obi/DaemonSet/obi"),
        "{text}"
    );
    assert!(first.iter().all(|id| !id.starts_with("mop/")), "{text}");
    assert!(
        !second.is_empty() && second.iter().all(|id| id.starts_with("mop/")),
        "{text}"
    );
    assert!(
        text.contains("otel/ebpf-instrument:v0.14.0"),
        "OBI is a third-party image to prefetch:\n{text}"
    );
}

#[test]
fn load_and_down_dry_runs_need_no_cluster() {
    let (ok, text) = lab(&["load", "--dry-run", "spike", "--duration", "60s"]);
    assert!(ok, "{text}");
    assert!(
        line_of(&text, "`mop` must be up") < line_of(&text, "loadgen run spike --duration 60s"),
        "{text}"
    );
    assert!(
        text.contains("kustomize/components/load/loadgen-job.yaml"),
        "{text}"
    );
    let (ok, text) = lab(&["down", "--dry-run"]);
    assert!(
        ok && text.contains("kind delete cluster --name mop"),
        "{text}"
    );
}

#[test]
fn doctor_reports_every_check_and_fails_exactly_when_one_fails() {
    let (ok, text) = lab(&["doctor"]);
    for name in [
        "container engine",
        "kernel >= 5.8",
        "BTF",
        "kprobes",
        "cgroup v2",
        "inotify limits",
        "port 3000",
        "port 50051",
        "Nix >= 2.31.2",
    ] {
        assert!(text.contains(name), "{name} not checked:\n{text}");
    }
    let lines: Vec<&str> = text.lines().collect();
    let failures: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("FAIL"))
        .map(|(i, _)| i)
        .collect();
    for &i in &failures {
        assert!(
            lines[i + 1].trim_start().starts_with("fix: "),
            "{} has no fix:\n{text}",
            lines[i]
        );
    }
    assert_eq!(ok, failures.is_empty(), "{text}");
}

#[test]
fn the_real_load_template_becomes_a_job_running_the_given_profile() {
    use lab::kind::load::{Profile, objects};
    let template =
        std::fs::read_to_string(repo().join("kustomize/components/load/loadgen-job.yaml"))
            .expect("kustomize/components/load/loadgen-job.yaml (the load component's template)");
    let original: serde_yaml::Value = serde_yaml::from_str(&template).unwrap();
    let args = ["--duration".to_owned(), "60s".to_owned()];
    let yaml = objects(
        &template,
        "loadgen-spike-1",
        &Profile::BuiltIn("spike".into()),
        &args,
    )
    .unwrap();
    let job: serde_yaml::Value = serde_yaml::from_str(yaml.trim_start_matches("---\n")).unwrap();
    assert_eq!(job["metadata"]["name"], "loadgen-spike-1");
    assert_eq!(job["metadata"]["namespace"], "mop");
    assert_eq!(job["spec"]["backoffLimit"], 0);
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let before = &original["spec"]["template"]["spec"]["containers"][0];
    let got: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(got, ["run", "spike", "--duration", "60s"]);
    // Everything else is the template's: image, command, env, security context, resources.
    for key in [
        "image",
        "command",
        "env",
        "securityContext",
        "resources",
        "volumeMounts",
    ] {
        assert_eq!(container[key], before[key], "{key} changed");
    }
    assert_eq!(
        job["spec"]["template"]["spec"]["securityContext"],
        original["spec"]["template"]["spec"]["securityContext"]
    );
}

#[test]
fn prefetch_dry_run_lists_the_renders_images_and_the_node_image() {
    let (ok, text) = lab(&["prefetch", "--dry-run"]);
    assert!(ok, "{text}");
    if !repo().join("kustomize/overlays/kind").is_dir() {
        return;
    }
    let config =
        std::fs::read_to_string(repo().join("kustomize/overlays/kind/kind-cluster.yaml")).unwrap();
    for image in lab::kind::objects::node_images(&config).unwrap() {
        assert!(
            text.contains(&format!("{image} (kind node)")),
            "{image}:\n{text}"
        );
    }
    let images = line_of(&text, "third-party images");
    assert!(
        text.lines().skip(images + 1).all(|l| !l.contains("mop/")),
        "our own images are built, not pulled:\n{text}"
    );
}
