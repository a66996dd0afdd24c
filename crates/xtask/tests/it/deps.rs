//! The workspace keeps its dependency directions, and the check sees each kind of breach.

use serde_json::{Value, json};
use xtask::tidy::deps::{metadata, normal_tree, tools_only_crates, violations};

fn workspace() -> Value {
    metadata(&xtask::project_root()).expect("cargo metadata of the workspace")
}

#[test]
fn the_workspace_keeps_its_dependency_directions() {
    let v = violations(&workspace());
    assert!(v.is_empty(), "{}", v.join("\n"));
}

/// Adds a dependency edge `from → to` to the metadata (both the declared and the resolved graph).
fn with_edge(mut meta: Value, from: &str, to: &str, kind: Option<&str>) -> Value {
    let id_of = |meta: &Value, name: &str| {
        meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["id"].clone())
            .unwrap_or_else(|| panic!("no package {name} in the metadata"))
    };
    let (from_id, to_id) = (id_of(&meta, from), id_of(&meta, to));
    for p in meta["packages"].as_array_mut().unwrap() {
        if p["id"] == from_id {
            p["dependencies"]
                .as_array_mut()
                .unwrap()
                .push(json!({ "name": to, "kind": kind }));
        }
    }
    for n in meta["resolve"]["nodes"].as_array_mut().unwrap() {
        if n["id"] == from_id {
            n["deps"].as_array_mut().unwrap().push(json!({
                "name": to, "pkg": to_id, "dep_kinds": [{ "kind": kind, "target": null }]
            }));
        }
    }
    meta
}

#[test]
fn a_service_depending_on_another_is_named() {
    let v = violations(&with_edge(workspace(), "gateway", "catalog", None));
    assert!(
        v.iter()
            .any(|l| l.contains("service gateway depends on service catalog")),
        "{v:?}"
    );
}

#[test]
fn lab_depending_on_xtask_is_named_even_as_a_dev_dependency() {
    let v = violations(&with_edge(workspace(), "lab", "xtask", Some("dev")));
    assert!(
        v.iter().any(|l| l.contains("lab depends on xtask")),
        "{v:?}"
    );
}

#[test]
fn lab_links_no_tools_only_crate() {
    let tree = normal_tree(&xtask::project_root(), "lab").expect("cargo tree -p lab");
    assert!(tree.starts_with("0lab "), "{tree}");
    let v = tools_only_crates(&tree);
    assert!(v.is_empty(), "{}", v.join("\n"));
}

#[test]
fn a_tools_only_crate_in_a_tree_is_named_with_its_path() {
    // xtask really links rdkafka and promql-parser: its own tree must be flagged, with the path.
    let tree = normal_tree(&xtask::project_root(), "xtask").expect("cargo tree -p xtask");
    let v = tools_only_crates(&tree);
    assert!(
        v.iter()
            .any(|l| l.starts_with("xtask links rdkafka") && l.contains("xtask → rdkafka")),
        "{v:?}"
    );
    assert!(v.iter().any(|l| l.contains("links promql-parser")), "{v:?}");
    // Deeper down, the path is the one that reaches it.
    let made_up = "0lab v0.0.0\n1loadgen v0.0.0\n2rdkafka v0.39.0\n1serde v1.0.0\n";
    assert_eq!(
        tools_only_crates(made_up),
        ["lab links rdkafka through normal dependencies (lab → loadgen → rdkafka): only xtask may"]
    );
}
