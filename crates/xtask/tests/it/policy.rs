//! The dependency policy (deny.toml via `scripts/cargo-deny.sh`) holds today, and each of its three
//! guards really fails a build: a new advisory, a banned crate, a licence off the allow-list.

use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::project_root as root;

/// Runs `scripts/cargo-deny.sh` with extra environment; returns (success, stdout + stderr). Each run
/// gets its own advisory checkout (`DENY_DB_ROOT`), so tests running side by side cannot race on it.
fn deny(env: &[(&str, &Path)]) -> (bool, String) {
    let state = scratch("state");
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("scripts/cargo-deny.sh"))
        .current_dir(root())
        .env("DENY_DB_ROOT", &state);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .expect("run scripts/cargo-deny.sh (needs bash)");
    let _ = std::fs::remove_dir_all(&state);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mop-policy-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn policy_with(edit: impl Fn(&str) -> String) -> (PathBuf, PathBuf) {
    let dir = scratch("cfg");
    let text = std::fs::read_to_string(root().join("deny.toml")).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit must change the policy");
    let file = dir.join("deny.toml");
    std::fs::write(&file, edited).unwrap();
    (dir, file)
}

#[test]
fn the_workspace_meets_its_dependency_policy() {
    let (ok, out) = deny(&[]);
    assert!(ok, "cargo deny fails on the workspace:\n{out}");
    for check in ["advisories ok", "bans ok", "licenses ok", "sources ok"] {
        assert!(out.contains(check), "no `{check}` in:\n{out}");
    }
}

#[test]
fn a_new_advisory_against_a_crate_we_use_fails_the_check() {
    // A copy of the RustSec snapshot plus one advisory in the snapshot's own format, against every
    // hyper release below 99 (we use hyper 1.x): the offline check must report it by id.
    let src = root().join("../shared/advisory-db");
    let dir = scratch("db");
    let db = dir.join("advisory-db");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(&db)
        .status()
        .unwrap();
    assert!(copied.success(), "copy {}", src.display());
    std::fs::write(
        db.join("crates/hyper/RUSTSEC-2099-0001.md"),
        "```toml\n[advisory]\nid = \"RUSTSEC-2099-0001\"\npackage = \"hyper\"\ndate = \"2099-01-01\"\n\
         url = \"https://example.invalid/\"\n\n[versions]\npatched = [\">= 99.0.0\"]\n```\n\n\
         # A made-up advisory for the policy test\n\nNot real.\n",
    )
    .unwrap();
    let (ok, out) = deny(&[("ADVISORY_DB", &db)]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!ok, "cargo deny passed despite a new advisory:\n{out}");
    assert!(
        out.contains("RUSTSEC-2099-0001"),
        "the advisory is not named:\n{out}"
    );
}

#[test]
fn a_banned_crate_fails_the_check() {
    // Banning a crate the workspace really uses stands in for an SDK or TLS crate creeping in.
    let (dir, file) = policy_with(|t| {
        t.replacen(
            "deny = [\n",
            "deny = [\n  { name = \"hyper\", reason = \"policy test\" },\n",
            1,
        )
    });
    let (ok, out) = deny(&[("DENY_CONFIG", &file)]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!ok, "cargo deny passed with hyper banned:\n{out}");
    assert!(out.contains("banned") && out.contains("hyper"), "{out}");
}

#[test]
fn a_licence_off_the_allow_list_fails_the_check() {
    // Without MIT on the list, crates licensed MIT only (there are dozens) must be rejected.
    let (dir, file) = policy_with(|t| t.replacen("  \"MIT\",\n", "", 1));
    let (ok, out) = deny(&[("DENY_CONFIG", &file)]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!ok, "cargo deny passed without MIT allowed:\n{out}");
    assert!(out.contains("rejected"), "{out}");
}

#[test]
fn every_ignored_advisory_has_a_reason_and_an_expiry_still_ahead() {
    let text = std::fs::read_to_string(root().join("deny.toml")).unwrap();
    let policy: toml_edit::DocumentMut = text.parse().expect("deny.toml parses");
    let ignores = policy["advisories"]["ignore"]
        .as_array()
        .expect("deny.toml has an [advisories] ignore list");
    let today = chrono::Utc::now().date_naive();
    for entry in ignores {
        let table = entry
            .as_inline_table()
            .expect("each ignore is { id, reason }");
        let id = table.get("id").and_then(|v| v.as_str()).expect("an id");
        let reason = table
            .get("reason")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let until = reason
            .split("until ")
            .nth(1)
            .and_then(|d| chrono::NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok())
            .unwrap_or_else(|| {
                panic!("{id}: its reason names no expiry (\"until YYYY-MM-DD\"): {reason:?}")
            });
        assert!(
            until > today,
            "{id}: ignored until {until}, which has passed (today {today}): look at it again"
        );
    }
}
