#!/usr/bin/env python3
"""What the flake must provide, from the sources of truth (read by nix/check/expect.nix).

stdin: `cargo metadata` JSON (with dependencies). argv[1]: the repository root.
- binaries: every [[bin]] target of the workspace (so a new binary without a package fails the check);
- embedded: every file or folder a crate embeds or reads at build time, relative to the root — the
  arguments of include_str!/include_bytes! (relative to the file), sqlx::migrate! (relative to the
  crate), and the proto root crates/proto/build.rs compiles. The flake's fileset must keep them;
- test_reads: every repository path a crate's src/ names in a string literal ("kustomize/base",
  "../../grafana", "README.md"): what the unit tests read at run time. The unit-tests check's source
  must hold them;
- fails here (before Nix runs) when the workspace's rust-version is older than a dependency's.
"""
import json
import os
import re
import subprocess
import sys

meta = json.load(sys.stdin)
repo = os.path.realpath(sys.argv[1])
binaries, embedded = {}, set()
members = set(meta["workspace_members"])
workspace = [p for p in meta["packages"] if p["id"] in members]


def version(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


# Cargo refuses a dependency whose rust-version is newer than the toolchain, so the workspace's own
# rust-version (what it promises to build with, and what nixpkgs' rustc must meet) is at least theirs.
needed = max((p for p in meta["packages"] if p.get("rust_version")), key=lambda p: version(p["rust_version"]))
for pkg in workspace:
    if version(pkg.get("rust_version") or "0") < version(needed["rust_version"]):
        sys.exit(f"{pkg['name']}: rust-version {pkg.get('rust_version')} is older than the "
                 f"{needed['rust_version']} its dependency {needed['name']} needs: raise [workspace.package] "
                 f"rust-version in Cargo.toml")

tracked = set(subprocess.run(["git", "-C", repo, "ls-files"], capture_output=True, text=True,
                             check=True).stdout.split())
top_files = {p for p in tracked if "/" not in p}
test_reads = set()
for pkg in workspace:
    crate_dir = os.path.dirname(pkg["manifest_path"])
    for target in pkg["targets"]:
        # xtask's binary is run with cargo from a checkout (`cargo xtask …`), never installed: the
        # flake makes no package of it.
        if "bin" in target["kind"] and pkg["name"] != "xtask":
            binaries[target["name"]] = pkg["name"]
    for dirpath, _dirs, files in os.walk(crate_dir):
        if "/target" in dirpath:
            continue
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            text = open(path, encoding="utf-8").read()
            for arg in re.findall(r'include_(?:str|bytes)!\(\s*"([^"]+)"', text):
                embedded.add(os.path.join(dirpath, arg))
            for arg in re.findall(r'migrate!\(\s*"([^"]+)"', text):
                embedded.add(os.path.join(crate_dir, arg))
            if "/src" in path[len(crate_dir):]:
                for lit in re.findall(r'"((?:\.\./)*[\w.-]+(?:/[\w.-]+)*)/?"', text):
                    rel = re.sub(r"^(\.\./)+", "", lit)
                    if not (lit.startswith("../") or "/" in rel or rel in top_files):
                        continue
                    if rel.split("/")[0] in ("crates", "target"):
                        continue
                    if rel in tracked or any(p.startswith(rel + "/") for p in tracked):
                        test_reads.add(rel)
            if name == "build.rs":
                for arg in re.findall(r'join\("(\.\./[^"]+)"\)', text):
                    embedded.add(os.path.join(crate_dir, arg))
# The tools the justfile, README and scripts call that the devShell must provide (from nixpkgs; the
# Python tools nixpkgs lacks come from scripts/python-tools.txt, see nix/shell.nix).
tools = ["kind", "kubectl", "kustomize", "just", "jq", "yq-go", "grpcurl", "kcat", "protobuf", "cmake",
         "postgresql", "redis", "jdk17_headless", "maven", "cargo-nextest", "cargo-deny", "actionlint", "zizmor", "python3",
         "prometheus", "util-linux", "nodejs", "oha", "wrk", "wireshark-cli", "iproute2"]
# Folders (migrations, proto) stand for every file in them: the check looks for files, not folders.
files = set()
for p in map(os.path.realpath, embedded):
    if os.path.isdir(p):
        files.update(os.path.join(d, f) for d, _, fs in os.walk(p) for f in fs)
    else:
        files.add(p)
rel = sorted(os.path.relpath(p, repo) for p in files)
kustomize = os.path.exists(os.path.join(repo, "kustomize/overlays/kind/kustomization.yaml"))
# A folder stands for the tracked files in it (the stub's fileset keeps every folder, empty or not).
test_files = sorted(p for p in tracked if any(p == r or p.startswith(r + "/") for r in test_reads))
json.dump({"binaries": binaries, "embedded": rel, "test_reads": test_files, "tools": tools,
           "kustomize": kustomize}, sys.stdout, indent=1, sort_keys=True)
