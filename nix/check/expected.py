#!/usr/bin/env python3
"""What the flake must provide, from the sources of truth (read by nix/check/expect.nix).

stdin: `cargo metadata --no-deps` JSON. argv[1]: the repository root.
- binaries: every [[bin]] target of the workspace (so a new binary without a package fails the check);
- embedded: every file or folder a crate embeds or reads at build time, relative to the root — the
  arguments of include_str!/include_bytes! (relative to the file), sqlx::migrate! (relative to the
  crate), and the proto root crates/proto/build.rs compiles. The flake's fileset must keep them.
"""
import json
import os
import re
import sys

meta = json.load(sys.stdin)
repo = os.path.realpath(sys.argv[1])
binaries, embedded = {}, set()
for pkg in meta["packages"]:
    crate_dir = os.path.dirname(pkg["manifest_path"])
    for target in pkg["targets"]:
        if "bin" in target["kind"]:
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
            if name == "build.rs":
                for arg in re.findall(r'join\("(\.\./[^"]+)"\)', text):
                    embedded.add(os.path.join(crate_dir, arg))
# The tools the justfile, README and scripts call that the devShell must provide.
tools = ["kind", "kubectl", "kustomize", "just", "jq", "yq-go", "grpcurl", "kcat", "protobuf", "cmake",
         "postgresql", "redis", "tansu", "cargo-nextest", "cargo-deny", "actionlint", "zizmor", "python3-env",
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
json.dump({"binaries": binaries, "embedded": rel, "tools": tools, "kustomize": kustomize}, sys.stdout, indent=1, sort_keys=True)
