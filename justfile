# MOP — the entry point for people. `just --list` shows every recipe with its comment.

set shell := ["bash", "-euo", "pipefail", "-c"]

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
    cargo run -q -p lab --locked -- up {{ARGS}}

# Stop a lab started by `just dev` in another terminal.
dev-down:
    cargo run -q -p lab --locked -- down

# Run a load profile (constant, spike, ramp, mixed) or a scenario file against the local lab.
load PROFILE *ARGS:
    if [ -f "${LAB_STATE_DIR:-${TMPDIR:-/tmp}/mop-lab}/lab.env" ]; then source "${LAB_STATE_DIR:-${TMPDIR:-/tmp}/mop-lab}/lab.env"; fi; \
    cargo run --release -q -p loadgen --locked -- run {{PROFILE}} {{ARGS}}

# Benchmark loadgen: 5 000 req/s accuracy, closed-model throughput vs oha, coordinated omission vs oha.
bench-loadgen SECONDS="30":
    scripts/bench-loadgen.sh {{SECONDS}}

# Benchmark GET /products/{id}: catalog vs a bare axum handler, same run (SECONDS per round, ROUNDS).
bench-catalog SECONDS="10" ROUNDS="3":
    scripts/bench-catalog.sh {{SECONDS}} {{ROUNDS}}
