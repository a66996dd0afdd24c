//! Env names in app pods are ones their binaries read (from `--help`), and every Service selects a
//! pod and one of its ports.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use super::*;

/// Variables our binaries read outside their clap `Config` (so `--help` cannot list them), with why.
const EXTRA_ENV: &[(&str, &str)] = &[
    ("RUST_LOG", "common::logging's EnvFilter"),
    (
        "LOG_FORMAT",
        "loadgen's main reads it before parsing (the services take it through clap)",
    ),
];

/// The environment variables a binary's clap configuration reads, from its own `--help` (clap prints
/// `[env: NAME=]` for each) — top level and, when the container runs a subcommand, that subcommand's.
fn env_names_of(bin: &str, subcommand: Option<&str>) -> BTreeSet<String> {
    let path = lab::local::plan::sibling_bin_dir(&std::env::current_exe().unwrap())
        .unwrap()
        .join(bin);
    let mut names = BTreeSet::new();
    for args in [
        vec!["--help"],
        subcommand.map(|s| vec![s, "--help"]).unwrap_or_default(),
    ] {
        if args.is_empty() {
            continue;
        }
        let out = Command::new(&path)
            .args(&args)
            .env_clear()
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{bin} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        for part in text.split("[env: ").skip(1) {
            names.insert(part.split(['=', ']']).next().unwrap().to_owned());
        }
    }
    names
}

#[test]
fn every_env_name_in_an_app_pod_is_one_its_binary_reads() {
    // A misspelt variable is silently ignored by the binary (it falls back to its default), so the
    // run test alone could pass with it: compare the names with what the binary itself documents.
    let rendered = overlay("kind");
    let mut checked = 0;
    for t in all_templates(&rendered) {
        for c in t.containers() {
            let Some(bin) = c["command"][0]
                .as_str()
                .and_then(|p| p.strip_prefix("/bin/"))
            else {
                continue;
            };
            let subcommand = match bin {
                "orders" | "loadgen" => c["args"][0].as_str(),
                _ => None,
            };
            let known = env_names_of(bin, subcommand);
            let env = c["env"].as_array().cloned().unwrap_or_default();
            let text = serde_json::to_string(&env).unwrap();
            for var in &env {
                let name = var["name"].as_str().unwrap();
                // Helper variables exist to be expanded into another value, as `$(NAME)`.
                let helper = text.contains(&format!("$({name})"));
                let extra = EXTRA_ENV.iter().any(|(n, _)| *n == name);
                assert!(
                    known.contains(name) || helper || extra,
                    "{}: {bin} does not read {name} (its --help lists {known:?})",
                    t.owner
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "only {checked} variables checked");
    // And the check does bite: gateway's help has no REDIS_ADDR.
    assert!(!env_names_of("gateway", None).contains("REDIS_ADDR"));
}

#[test]
fn every_service_selects_a_pod_and_targets_one_of_its_ports() {
    for name in ["kind", "cluster"] {
        let rendered = overlay(name);
        let all = all_templates(&rendered);
        for svc in rendered.of_kind("Service") {
            let ns = svc.namespace.clone().unwrap_or_default();
            let selector = svc.value["spec"]["selector"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            assert!(!selector.is_empty(), "{name}: {} has no selector", svc.id());
            let pod = all
                .iter()
                .find(|t| {
                    t.namespace == ns
                        && selector
                            .iter()
                            .all(|(k, v)| t.labels.get(k).map(String::as_str) == v.as_str())
                })
                .unwrap_or_else(|| panic!("{name}: {} selects no pod", svc.id()));
            let ports: Vec<Value> = pod
                .containers()
                .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                .collect();
            for p in svc.value["spec"]["ports"].as_array().unwrap() {
                let target = p.get("targetPort").unwrap_or(&p["port"]);
                let found = ports.iter().any(|cp| match target {
                    Value::String(n) => cp["name"] == n.as_str(),
                    other => cp["containerPort"] == *other,
                });
                assert!(
                    found,
                    "{name}: {} targets {target}, which {} does not expose",
                    svc.id(),
                    pod.owner
                );
            }
        }
    }
}
