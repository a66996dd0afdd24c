#!/usr/bin/env python3
"""check-invariants: the architecture rules of docs/architecture.md, checked from `cargo metadata` and
Cargo.lock so they cannot silently rot. Exit 1 with every violation listed.

- zero-code: no opentelemetry* crate anywhere in the dependency graph;
- plaintext: no TLS stack (rustls, native-tls, openssl) anywhere;
- services never depend on each other (dev-dependencies for tests are allowed);
- loadgen depends only on common and proto among the workspace crates;
- common knows no database, cache or broker client — except behind an optional feature that only a
  crate using that same client turns on (`kafka`: the events service and loadgen read their own
  librdkafka clients' statistics with it);
- only orders among the services uses sqlx, and besides it only testkit, lab, xtask and loadgen (its SQL driver).
"""

import json
import subprocess
import sys

SERVICES = {"catalog", "auth", "orders", "gateway", "events"}
FORBIDDEN_ANYWHERE = ("opentelemetry", "rustls", "native-tls", "openssl", "openssl-sys", "tokio-rustls")
BACKEND_CLIENTS = {"sqlx", "redis", "rdkafka", "tokio-postgres", "postgres"}
SQLX_USERS = {"orders", "testkit", "lab", "xtask", "loadgen"}

meta = json.loads(subprocess.check_output(["cargo", "metadata", "--format-version", "1", "--locked"]))
members = {p["id"]: p for p in meta["packages"] if p["id"] in meta["workspace_members"]}
names = {p["name"] for p in members.values()}
problems = []

# The resolved graph (what really gets built), not just what manifests mention.
resolved = {node["id"]: node for node in meta["resolve"]["nodes"]}
by_id = {p["id"]: p for p in meta["packages"]}
for pkg in by_id.values():
    if pkg["name"].startswith(FORBIDDEN_ANYWHERE[0]) or pkg["name"] in FORBIDDEN_ANYWHERE[1:]:
        # Only a problem if something in the resolved graph actually depends on it.
        if pkg["id"] in resolved:
            users = [by_id[n["id"]]["name"] for n in resolved.values() if any(d["pkg"] == pkg["id"] for d in n["deps"])]
            problems.append(f"{pkg['name']} is in the build (used by {', '.join(sorted(set(users))) or '?'})")

for pkg in members.values():
    normal = {d["name"] for d in pkg["dependencies"] if d["kind"] is None}
    internal = normal & names
    if pkg["name"] in SERVICES and internal & SERVICES:
        problems.append(f"service {pkg['name']} depends on service(s) {sorted(internal & SERVICES)}")
    if pkg["name"] == "loadgen" and internal - {"common", "proto"}:
        problems.append(f"loadgen depends on {sorted(internal - {'common', 'proto'})} (only common and proto allowed)")
    all_kinds = {d["name"] for d in pkg["dependencies"]}
    if "sqlx" in all_kinds and pkg["name"] not in SQLX_USERS:
        problems.append(f"{pkg['name']} depends on sqlx (only {sorted(SQLX_USERS)} may)")
    if pkg["name"] == "common":
        required = {d["name"] for d in pkg["dependencies"] if d["kind"] is None and not d["optional"]}
        if required & BACKEND_CLIENTS:
            problems.append(f"common depends on backend client(s) {sorted(required & BACKEND_CLIENTS)}")

# common's optional clients: a crate may turn one on only when it uses that client itself.
common = next(p for p in members.values() if p["name"] == "common")
for pkg in members.values():
    turned_on = {f for d in pkg["dependencies"] if d["name"] == "common" for f in d["features"]}
    turned_on |= {f.split("/", 1)[1] for fs in pkg["features"].values() for f in fs if f.startswith("common/")}
    own = {d["name"] for d in pkg["dependencies"] if d["kind"] != "dev"}
    for feature in turned_on:
        clients = {f.removeprefix("dep:") for f in common["features"].get(feature, [])} & BACKEND_CLIENTS
        if clients - own:
            problems.append(f"{pkg['name']} turns on common/{feature} ({sorted(clients)}) without using it itself")

if problems:
    print("invariants violated:")
    for p in problems:
        print(f"  - {p}")
    sys.exit(1)
print(f"invariants ok: {len(members)} workspace crates, no telemetry SDK, no TLS stack, no service-to-service dependency")
