# MOP — the entry point for people. `just --list` shows every recipe with its comment.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Every recipe finds the Python tools scripts/install-deps.sh put in their virtual environment (first,
# so its pinned versions win) and cargo's bin folder — the same PATH as scripts/mop-env.sh.
export PATH := (env('MOP_CACHE', env('XDG_CACHE_HOME', env('HOME') / '.cache') / 'mop') / 'venv/bin') + ':' + env('PATH') + ':' + (env('HOME') / '.cargo/bin')

# Recipes of individual services live next to this file, one file per service.
import? 'just/auth.just'
import? 'just/orders.just'
import? 'just/gateway.just'
import? 'just/events.just'

# Show the recipes.
default:
    @just --list

# Run every test: the workspace's tests (incl. the whole-lab end-to-end and fault drills), the API
# fuzzing of every REST service, and a generic gRPC client against auth.
test:
    # The lab tests run the service and loadgen binaries from target/debug: build them fresh first.
    cargo build --workspace --bins --locked
    cargo test --workspace --locked
    just fuzz
    just grpc-generic
    just check-nix

# Prove scripts/install-deps.sh on a fresh Debian 12 root: install, again (no-op), build, `just dev --help` (root).
test-install:
    scripts/test-install.sh

# OBI for real: the lab with OBI in a qemu VM (Debian 13's kernel: kprobes and BTF; TCG) under `mixed` at
# 5/s for 60 s; prints and asserts verify's grid from OBI's real output. `just test-obi --record` also
# refreshes the reference recording crates/lab/recordings/obi-<version>/.
test-obi *ARGS:
    cargo build --workspace --bins --locked
    cargo run -q -p lab --locked -- vm obi --check {{ARGS}}

# The VM runner: `just vm check` (does this kernel need it?), `just vm kernel`, `just vm run -- CMD`.
vm *ARGS:
    cargo run -q -p lab --locked -- vm {{ARGS}}

# Regenerate grafana/dashboards/*.json from their TypeScript definitions in grafana/src (commit the result).
dashboards:
    cd grafana && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npx tsx src/generate.ts

# Only the docs' checks: links and anchors, OBI names, recipes, runs= blocks, panel titles, config quotes.
test-docs:
    cargo test -p xtask --locked --test it docs::

# Build the real etcd + kube-apiserver (the kind node's version) the API-server test starts, into the cache.
kube-build:
    scripts/kube-build.sh

# Only the dashboards' checks: generator output, Grafana's schema, PromQL names, a real Prometheus on a fixture.
test-dashboards:
    cargo test -p xtask --locked --test it dashboards

# Lints that CI enforces: formatting, clippy with warnings as errors, and the architecture invariants.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    python3 scripts/check-invariants.py

# Format all code.
fmt:
    cargo fmt --all

# Run the catalog on :8081 with human-readable logs (pass extra flags, e.g. `just run-catalog --seed-products 50`).
run-catalog *ARGS:
    LOG_FORMAT=${LOG_FORMAT:-pretty} cargo run -p catalog --bin catalog -- {{ARGS}}

# Fuzz every REST service of a local lab (PostgreSQL, Redis, broker behind them) from its own OpenAPI
# document with Schemathesis (fails on 5xx or undocumented responses); e.g. `just fuzz orders`.
fuzz *SERVICES:
    scripts/fuzz.sh {{SERVICES}}

# Drive auth with a generic gRPC client that learns the API from server reflection (Python grpcio).
grpc-generic:
    scripts/grpc-generic.sh

# Run the whole lab on this machine (PostgreSQL, Redis, Kafka broker, all services) until Ctrl-C.
dev *ARGS:
    cargo build --workspace --bins --locked
    cargo run -q -p lab --locked -- dev {{ARGS}}

# Phases and probes: crates/lab/scenarios/README.md (`local:`); one or more ids, or none for all of them.
# Prove every scenario's trigger on a local lab of its own (healthy, fault, recovery; effects measured from outside).
scenario-local *IDS:
    cargo build --workspace --bins --locked
    cargo xtask scenario-local {{IDS}}

# Build OBI (the pinned version, from its Go module: bpf2go + clang, then go build) once, cached in
# ${MOP_CACHE:-~/.cache/mop}/obi/<version>/obi; prints the path. `just dev --obi` runs it (as root).
obi-build *ARGS:
    cargo run -q -p lab --locked -- obi build {{ARGS}}

# Stop a lab started by `just dev` in another terminal.
dev-down:
    cargo run -q -p lab --locked -- dev-down

# Run a load profile (constant, spike, ramp, mixed) or a scenario file: against the local lab when
# `just dev` runs (its lab.env exists), else in the kind lab as a Job (exits with loadgen's code).
load PROFILE *ARGS:
    state="${LAB_STATE_DIR:-${TMPDIR:-/tmp}/mop-lab}"; \
    if [ -f "$state/lab.env" ]; then source "$state/lab.env"; \
      cargo run --release -q -p loadgen --locked -- run {{PROFILE}} {{ARGS}}; \
    else cargo run -q -p lab --locked -- load {{PROFILE}} {{ARGS}}; fi

# The kind lab: doctor, cluster, Nix-built images, observability, OBI Ready, then the apps; converges
# when it runs already (`just up --dry-run` prints the plan and the overlay's phases).
up *ARGS:
    cargo run -q -p lab --locked -- up {{ARGS}}

# Delete the kind lab's cluster.
down *ARGS:
    cargo run -q -p lab --locked -- down {{ARGS}}

# What runs in the kind lab, and why anything is not ready.
status:
    cargo run -q -p lab --locked -- status

# Logs of one kind-lab workload (catalog, obi, grafana, …); `-f` follows.
logs NAME *ARGS:
    cargo run -q -p lab --locked -- logs {{NAME}} {{ARGS}}

# Check the host for the kind lab (Docker/podman, kernel, BTF, kprobes, cgroup v2, inotify, ports, Nix).
doctor:
    cargo run -q -p lab --locked -- doctor

# Pull and save every third-party image the kind overlay runs, so a later `just up` works offline.
prefetch *ARGS:
    cargo run -q -p lab --locked -- prefetch {{ARGS}}

# What can be checked of the Nix/kind half without Nix, Docker or a cluster: a real Nix (the host's if
# >= 2.31, else Debian sid's in a cached chroot: root) evaluates every flake output against stub
# inputs; the workflows pass actionlint and zizmor; the justfile parses and `up` prints its plan.
check-nix:
    nix/check/run.sh
    actionlint
    zizmor --offline --persona=auditor .github/workflows
    just --dry-run up 2>&1 | grep -q 'lab --locked -- up'
    cargo run -q -p lab --locked -- up --dry-run

# Benchmark loadgen: 5 000 req/s accuracy, closed-model throughput vs oha, coordinated omission vs oha.
bench-loadgen SECONDS="30":
    scripts/bench-loadgen.sh {{SECONDS}}

# Benchmark GET /products/{id}: catalog vs a bare axum handler, same run (SECONDS per round, ROUNDS).
bench-catalog SECONDS="10" ROUNDS="3":
    scripts/bench-catalog.sh {{SECONDS}} {{ROUNDS}}

# Dependency policy (deny.toml): RustSec advisories (offline snapshot), banned crates, licences, sources.
deny:
    scripts/cargo-deny.sh

# Soak the local lab: `mixed` for MINUTES (default 10) at half the sustainable rate (`--probe-rates 100,200,…` finds it); RSS and fds sampled.
soak MINUTES="10" *ARGS:
    cargo build --release --workspace --bins --locked
    target/release/xtask soak --minutes {{MINUTES}} {{ARGS}}

# Wire visibility: capture a fresh local lab under `mixed` with tshark (root or CAP_NET_RAW on `lo`) and print what
# Wireshark's dissectors find per protocol — TLS, routes, gRPC :path, SQL statements, RESP commands, Kafka versions.
wire *ARGS:
    cargo build --workspace --bins --locked
    target/debug/xtask wire {{ARGS}}

# Line coverage of each service crate and loadgen by its own tests (table; HTML + LCOV in target/coverage).
coverage:
    scripts/coverage.sh

# Check the Kubernetes manifests without a cluster: render, validate, Pod Security, NetworkPolicies,
# OBI config, footprint, and every app container run against the real binaries (needs root; ~1 min).
test-manifests:
    cargo build --workspace --bins --locked
    cargo test -p xtask --test it --locked manifests

# Prove OBI's telemetry arrived in the kind lab: protocol × signal grid, then completeness of a measured run (docs/verify.md).
verify *ARGS:
    # The grid's HTTP rows come from each service binary's OpenAPI document.
    cargo build --workspace --bins --locked
    cargo run -q -p lab --locked -- verify {{ARGS}}

# What OBI costs on the kind lab: one fixed-rate run without and one with OBI, CPU and latency compared (docs/benchmarks.md).
bench-obi *ARGS:
    cargo xtask bench-obi {{ARGS}}

# Troubleshooting scenarios (crates/lab/scenarios/*.yaml): `just scenario --list`, `just scenario ID
# --dry-run` prints the plan; `just scenario ID --assert` (or `--all --assert`) runs it on the kind lab:
# load → inject → assert the signal → revert → assert recovery, a report each (docs/scenarios.md).
scenario *ARGS:
    cargo run -q -p lab --locked -- scenario {{ARGS}}
