//! `lab obi build`: the OBI binary built from its Go module with ordinary Go tooling, cached by version.
//!
//! OBI's module zip lacks the generated eBPF files (`*_bpfel.go`, `*_bpfel.o` are gitignored upstream),
//! so `go install …/cmd/obi@vX` alone cannot build it. The steps are upstream's own (`make generate`
//! then `make compile`): take the module (`go mod download -json`, or a checkout with `--src`), copy it
//! writable, install `bpf2go` at the cilium/ebpf version the module's go.mod requires, run only the
//! `//go:generate $BPF2GO …` directives with a Debian clang and upstream's CFLAGS, then
//! `CGO_ENABLED=0 go build` with the version ldflag. The work happens in a temporary folder beside the
//! cache entry and the binary is renamed into place, so an interrupted build never leaves a half binary
//! where `lab dev --obi` looks.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use serde::Deserialize;

/// OBI's Go module.
pub const MODULE: &str = "go.opentelemetry.io/obi";
/// Where the version is pinned (the kind lab's DaemonSet image tag): the one place it is read from.
pub const DAEMONSET: &str = "kustomize/components/observability/obi-daemonset.yaml";
const IMAGE: &str = "otel/ebpf-instrument:";
/// Upstream Makefile's `CFLAGS` for its `generate` target.
pub const BPF_CFLAGS: &str = "-O2 -g -Wunaligned-access -Wpacked -Wpadded -Wall -Werror";
/// Clang versions tried, newest first (Debian 12: clang-19 from bookworm main; upstream uses 22).
const CLANGS: &[&str] = &[
    "clang-22", "clang-21", "clang-20", "clang-19", "clang-18", "clang",
];

/// The OBI version the kind lab runs, read from the DaemonSet's image tag (`v0.14.0`).
pub fn pinned_version(repo: &Path) -> anyhow::Result<String> {
    let path = repo.join(DAEMONSET);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    version_from_daemonset(&text).with_context(|| {
        format!(
            "{}: no `image: {IMAGE}<version>` line (the OBI version is pinned there)",
            path.display()
        )
    })
}

fn version_from_daemonset(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("image:"))
        .filter_map(|image| image.trim().trim_matches('"').strip_prefix(IMAGE))
        .map(str::to_owned)
        .find(|v| !v.is_empty())
}

/// `${MOP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mop}`: big builds outlive `cargo clean` and checkouts.
pub fn cache_root() -> anyhow::Result<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("MOP_CACHE") {
        return Ok(dir);
    }
    let base = var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .context(
            "neither MOP_CACHE, XDG_CACHE_HOME nor HOME is set: cannot tell where to cache OBI",
        )?;
    Ok(base.join("mop"))
}

/// The cached binary of `version`: `<cache>/obi/<version>/obi`.
pub fn binary_path(cache: &Path, version: &str) -> PathBuf {
    cache.join("obi").join(version).join("obi")
}

/// What to build and where.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The cache key and the version stamped into the binary.
    pub version: String,
    /// A checkout of OBI's sources instead of the module proxy's copy.
    pub src: Option<PathBuf>,
    pub cache: PathBuf,
    /// The clang to use (default: the newest of [`CLANGS`] on PATH that has its llvm-strip).
    pub clang: Option<String>,
    /// A `--src` tree must be a git checkout at tag `version` (true when `version` is the pinned one:
    /// the cache must never hold a binary under a version it was not built from).
    pub require_tag: bool,
}

/// The cached binary when there is one; otherwise builds it. Returns its path.
pub fn build(options: &BuildOptions) -> anyhow::Result<PathBuf> {
    let target = binary_path(&options.cache, &options.version);
    if target.is_file() {
        return Ok(target);
    }
    let started = Instant::now();
    let go = tool_version("go", &["version"]).ok_or_else(|| {
        anyhow!(
            "step 1/6 (tools): `go` not found on PATH. Install Go >= 1.21 (it then fetches the newer \
             toolchain OBI's go.mod asks for by itself; Debian 12's golang-go is 1.19, too old): \
             put the upstream Go tarball's bin/ on PATH, or use `nix develop`."
        )
    })?;
    let clang = match &options.clang {
        Some(c) => c.clone(),
        None => pick_clang(on_path).ok_or_else(|| {
            anyhow!(
                "step 1/6 (tools): no clang with its llvm-strip on PATH (tried {CLANGS:?}). \
                 Install them: `apt-get install clang-19 llvm-19` (Debian 12) — \
                 `scripts/install-deps.sh` does."
            )
        })?,
    };
    say(&format!("[1/6] tools: {go}; {clang}"));

    let work_parent = options.cache.join("obi");
    std::fs::create_dir_all(&work_parent)
        .with_context(|| format!("cannot create {}", work_parent.display()))?;
    let work = work_parent.join(format!(".build-{}-{}", options.version, std::process::id()));
    let result = build_in(options, &work, &clang, &target);
    // The temporary tree (hundreds of MB with the Go build cache's outputs) goes either way.
    let _ = std::fs::remove_dir_all(&work);
    result?;
    say(&format!(
        "built {} in {:.0} s",
        target.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(target)
}

fn build_in(options: &BuildOptions, work: &Path, clang: &str, target: &Path) -> anyhow::Result<()> {
    let src = work.join("src");
    let tools = work.join("tools");
    std::fs::create_dir_all(&tools)?;

    let origin = match &options.src {
        Some(dir) => {
            check_checkout(dir, &options.version, options.require_tag)?;
            say(&format!("[2/6] source: {}", dir.display()));
            dir.clone()
        }
        None => {
            say(&format!(
                "[2/6] source: go mod download {MODULE}@{}",
                options.version
            ));
            module_dir(&options.version)?
        }
    };
    step(
        "2/6 (copy the module writable)",
        Command::new("cp").arg("-R").arg(&origin).arg(&src),
    )?;
    step(
        "2/6 (copy the module writable)",
        Command::new("chmod").args(["-R", "u+w"]).arg(&src),
    )?;

    let ebpf = step(
        "3/6 (read the cilium/ebpf version from go.mod)",
        Command::new("go")
            .args(["list", "-m", "-f", "{{.Version}}", "github.com/cilium/ebpf"])
            .current_dir(&src),
    )?;
    let ebpf = ebpf.trim();
    say(&format!(
        "[3/6] bpf2go@{ebpf} (the cilium/ebpf version OBI's go.mod requires)"
    ));
    step(
        "3/6 (go install bpf2go)",
        Command::new("go")
            .args([
                "install",
                &format!("github.com/cilium/ebpf/cmd/bpf2go@{ebpf}"),
            ])
            .env("GOBIN", &tools)
            .current_dir(&src),
    )?;

    say(&format!(
        "[4/6] eBPF objects: bpf2go with {clang} {BPF_CFLAGS}"
    ));
    // Only the bpf2go directives: other //go:generate lines (an agent jar download in some
    // versions) need the network beyond the module proxy and are not part of the binary's build.
    step(
        "4/6 (generate the eBPF objects: clang via bpf2go)",
        Command::new("go")
            .args(["generate", "-run", r"\$BPF2GO", "./pkg/..."])
            .env("BPF2GO", tools.join("bpf2go"))
            .env("BPF_CLANG", clang)
            .env("BPF_CFLAGS", BPF_CFLAGS)
            .current_dir(&src),
    )?;

    let main = ["cmd/obi", "cmd/ebpf-instrument"]
        .into_iter()
        .find(|m| src.join(m).is_dir())
        .with_context(|| {
            format!(
                "step 5/6: neither cmd/obi nor cmd/ebpf-instrument in {}",
                src.display()
            )
        })?;
    say(&format!("[5/6] go build ./{main} (CGO_ENABLED=0)"));
    let built = work.join("obi");
    step(
        "5/6 (go build)",
        Command::new("go")
            .args(["build", "-trimpath", "-ldflags"])
            .arg(format!(
                "-X {MODULE}/pkg/buildinfo.Version={}",
                options.version
            ))
            .arg("-o")
            .arg(&built)
            .arg(format!("./{main}"))
            .env("CGO_ENABLED", "0")
            .current_dir(&src),
    )?;

    let dir = target.parent().context("cache path has no parent")?;
    std::fs::create_dir_all(dir)?;
    std::fs::rename(&built, target)
        .with_context(|| format!("step 6/6: cannot move the binary to {}", target.display()))?;
    say(&format!("[6/6] cached: {}", target.display()));
    Ok(())
}

/// `go mod download -json`'s answer (the fields used).
#[derive(Debug, Deserialize)]
struct Download {
    #[serde(rename = "Dir")]
    dir: Option<PathBuf>,
    #[serde(rename = "Error")]
    error: Option<String>,
}

/// The module's read-only folder in Go's module cache.
fn module_dir(version: &str) -> anyhow::Result<PathBuf> {
    let out = Command::new("go")
        .args(["mod", "download", "-json", &format!("{MODULE}@{version}")])
        // Outside any module: the download must not touch a go.mod of the current folder.
        .current_dir(std::env::temp_dir())
        .output()
        .context("cannot run `go mod download`")?;
    parse_download(&String::from_utf8_lossy(&out.stdout), version)
}

fn parse_download(json: &str, version: &str) -> anyhow::Result<PathBuf> {
    let d: Download = serde_json::from_str(json)
        .with_context(|| format!("step 2/6: `go mod download` printed no JSON: {json}"))?;
    match (d.dir, d.error) {
        (Some(dir), None) => Ok(dir),
        (_, error) => bail!(
            "step 2/6 (download the module): the Go module proxy did not serve {MODULE}@{version}: {}\n\
             Build from a checkout of the tag instead: \
             `git clone --depth 1 --branch {version} <OBI's repository> DIR`, then \
             `lab obi build --src DIR`.",
            error
                .unwrap_or_else(|| "no folder in its answer".into())
                .trim()
        ),
    }
}

/// A `--src` folder must be OBI's module and, with `require_tag`, a git checkout at the tag being cached.
fn check_checkout(dir: &Path, version: &str, require_tag: bool) -> anyhow::Result<()> {
    let go_mod = std::fs::read_to_string(dir.join("go.mod"))
        .with_context(|| format!("step 2/6: {} has no go.mod", dir.display()))?;
    if go_mod.lines().next().map(str::trim) != Some(&format!("module {MODULE}")) {
        bail!("step 2/6: {} is not the {MODULE} module", dir.display());
    }
    if require_tag {
        let tag = Command::new("git")
            .args(["describe", "--tags", "--exact-match"])
            .current_dir(dir)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        if tag.as_deref() != Some(version) {
            bail!(
                "step 2/6: {} is at {}, not at git tag {version}; check the tag out, or cache the \
                 tree under a name of its own with --version NAME",
                dir.display(),
                tag.map_or("no tag".to_owned(), |t| format!("tag {t}"))
            );
        }
    }
    Ok(())
}

/// The newest clang of [`CLANGS`] for which `exists` finds both it and its llvm-strip (bpf2go strips
/// with `llvm-strip` plus the clang's version suffix).
fn pick_clang(exists: impl Fn(&str) -> bool) -> Option<String> {
    CLANGS
        .iter()
        .find(|c| exists(c) && exists(&format!("llvm-strip{}", c.trim_start_matches("clang"))))
        .map(|c| (*c).to_owned())
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

fn tool_version(tool: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(tool).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs one build step; on failure the error names the step and shows the tool's last lines.
fn step(name: &str, cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("step {name}: cannot run {:?}", cmd.get_program()))?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        let lines: Vec<&str> = text.lines().collect();
        bail!(
            "step {name} failed ({}); last lines:\n{}",
            out.status,
            lines[lines.len().saturating_sub(25)..].join("\n")
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[allow(clippy::print_stderr)]
fn say(line: &str) {
    eprintln!("obi build: {line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_daemonsets_image_tag() {
        let yaml =
            "spec:\n  containers:\n    - name: obi\n      image: otel/ebpf-instrument:v0.14.0\n";
        assert_eq!(version_from_daemonset(yaml).as_deref(), Some("v0.14.0"));
        assert_eq!(version_from_daemonset("image: prom/prometheus:v3\n"), None);
    }

    #[test]
    fn a_refused_download_says_how_to_build_from_a_checkout() {
        let json =
            r#"{"Path":"go.opentelemetry.io/obi","Version":"v0.14.0","Error":"403 Forbidden"}"#;
        let err = parse_download(json, "v0.14.0").unwrap_err().to_string();
        assert!(err.contains("403 Forbidden"), "{err}");
        assert!(err.contains("lab obi build --src DIR"), "{err}");
        let ok = r#"{"Path":"go.opentelemetry.io/obi","Dir":"/m/obi@v0.14.0"}"#;
        assert_eq!(
            parse_download(ok, "v0.14.0").unwrap(),
            Path::new("/m/obi@v0.14.0")
        );
    }

    #[test]
    fn clang_needs_its_own_llvm_strip() {
        let have = |names: &'static [&'static str]| move |n: &str| names.contains(&n);
        assert_eq!(
            pick_clang(have(&["clang-19", "llvm-strip-19", "clang", "llvm-strip"])).as_deref(),
            Some("clang-19")
        );
        // clang-19 without llvm-19's strip is no use to bpf2go.
        assert_eq!(
            pick_clang(have(&["clang-19", "clang", "llvm-strip"])).as_deref(),
            Some("clang")
        );
        assert_eq!(pick_clang(have(&["gcc"])), None);
    }

    #[test]
    fn a_cached_binary_is_returned_without_building() {
        let cache = std::env::temp_dir().join(format!("obi-cache-test-{}", std::process::id()));
        let bin = binary_path(&cache, "v9.9.9");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::fs::write(&bin, b"#!/bin/sh\n").unwrap();
        let options = BuildOptions {
            version: "v9.9.9".into(),
            src: Some("/nonexistent".into()),
            cache: cache.clone(),
            clang: Some("no-such-clang".into()),
            require_tag: true,
        };
        let started = Instant::now();
        assert_eq!(build(&options).unwrap(), bin);
        assert!(started.elapsed().as_secs() < 5);
        std::fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn a_source_tree_that_is_not_obi_is_refused() {
        let dir = std::env::temp_dir().join(format!("obi-src-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("go.mod"), "module example.com/other\n").unwrap();
        let err = check_checkout(&dir, "snap", false).unwrap_err().to_string();
        assert!(
            err.contains("is not the go.opentelemetry.io/obi module"),
            "{err}"
        );
        std::fs::write(
            dir.join("go.mod"),
            "module go.opentelemetry.io/obi\n\ngo 1.25\n",
        )
        .unwrap();
        check_checkout(&dir, "snap", false).unwrap();
        // Not a git checkout at the pinned tag: never cached under the pinned version.
        let err = check_checkout(&dir, "v0.14.0", true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not at git tag v0.14.0"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
