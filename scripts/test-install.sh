#!/usr/bin/env bash
# test-install.sh (`just test-install`): proves scripts/install-deps.sh on a fresh Debian 12 root. A
# minimal bookworm (mmdebstrap's apt variant: no Python, no CA bundle, no compiler) is copied afresh,
# this checkout (git-tracked and new files) is copied in, and inside a chroot: install-deps.sh, then the
# same script again (it must change nothing), the Python tools through scripts/mop-env.sh, no system
# PostgreSQL/Redis left running, `cargo build --workspace --bins --locked`, and `just dev --help`.
# Rust: rustup's download server is out of reach on the project's machines, so the host's Rust
# (~/.rustup, and ~/.cargo/bin as /opt/rust/bin: with whatever `cargo install` put there) is
# bound in read-only; Go (for kube-build.sh) likewise, from the host's /usr/local/go.
# Cached between runs under $MOP_CACHE/test-install: the pristine root, apt's .deb files, pip's and
# npm's caches, cargo's registry and the build's target folder. Needs root (mmdebstrap, mount, chroot).
# TEST_INSTALL_KEEP=1 keeps the run's root for a look afterwards.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/mop-env.sh"
start=$(date +%s)
step() { printf '\n==> test-install (%ss): %s\n' "$(($(date +%s) - start))" "$*"; }

[ "$(id -u)" = 0 ] || { echo "test-install needs root (mmdebstrap, mount, chroot): sudo just test-install" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "mmdebstrap not found: apt-get install mmdebstrap" >&2; exit 1; }
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
[ -x "$cargo_bin/cargo" ] && [ -d "$rustup_home/toolchains" ] || {
  echo "no rustup toolchain at $rustup_home and $cargo_bin: install Rust with rustup first" >&2; exit 1; }

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then PATH="$PATH:/usr/local/go/bin"; fi
command -v go >/dev/null || {
  echo "no Go: install Go >= 1.26 first (go.dev/dl; install-deps.sh builds kube-apiserver with it)" >&2; exit 1; }
go_root=$(go env GOROOT)
go_modcache=$(go env GOMODCACHE)
go_buildcache=$(go env GOCACHE)

cache=$MOP_CACHE/test-install
step "the pristine Debian 12 root (built once: $cache/bookworm)"
"$repo/scripts/debian-root.sh" "$cache/bookworm" bookworm

root=$(mktemp -d /var/tmp/mop-test-install.XXXXXX)
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -R "${mounted[$i]}" 2>/dev/null || umount -lR "${mounted[$i]}" || true; done
  if [ "${TEST_INSTALL_KEEP:-0}" = 1 ]; then echo "kept: $root"; else rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT
cp -ax --reflink=auto "$cache/bookworm/." "$root/"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The network as the host has it: the project's machines reach the package registries through a TLS
# proxy whose CA only the host's bundle holds. Handed over as local CAs, one file each (Java's keystore
# hook takes one certificate per file), they join the fresh root's trust when install-deps.sh installs
# ca-certificates (and ca-certificates-java); pip and npm, which bring CA lists of their own, are
# pointed at that bundle, as the host's pip is.
mkdir -p "$root/usr/local/share/ca-certificates/host"
awk -v dir="$root/usr/local/share/ca-certificates/host" \
  '/BEGIN CERTIFICATE/ { n++; f = sprintf("%s/host-%03d.crt", dir, n) } f { print > f } /END CERTIFICATE/ { close(f); f = "" }' \
  /etc/ssl/certs/ca-certificates.crt

# The checkout as a fresh clone would have it: tracked and new (not ignored) files, no target/ or
# node_modules/ (the same file list nix/check/run.sh gives the flake).
mkdir -p "$root/src/mop"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
  xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ |
  tar --null -T - -cf -) | tar -C "$root/src/mop" -xf -

bind() { # bind SOURCE TARGET [ro]
  mkdir -p "$1" "$root$2"
  mount --bind "$1" "$root$2" && mounted+=("$root$2")
  [ "${3:-}" != ro ] || mount -o remount,bind,ro "$root$2"
}
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
# /dev made a slave so unmounting it can never propagate to the host's /dev/pts or /dev/shm.
mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev" && mounted+=("$root/dev")
bind "$rustup_home" /root/.rustup ro
bind "$cargo_bin" /opt/rust/bin ro
# Go, like Rust, from its own distribution (Debian 12's golang is 1.19; kube-build.sh needs the version
# k8s.io/kubernetes' go.mod names): the host's, read-only where install-deps.sh looks for it
# (/usr/local/go), with the host's module and build caches so the API server's build reuses them.
bind "$go_root" /usr/local/go ro
bind "$go_modcache" /root/go/pkg/mod
bind "$go_buildcache" /root/.cache/go-build
bind "$cache/apt-archives" /var/cache/apt/archives
bind "$cache/pip" /root/.cache/pip
bind "$cache/npm" /root/.npm
bind "$cache/cargo-registry" /root/.cargo/registry
bind "$cache/target" /src/mop/target

step "inside the fresh root: install-deps.sh, again, tools, services, build, just dev --help"
bundle=/etc/ssl/certs/ca-certificates.crt
chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb CARGO_TERM_COLOR=never \
  PIP_CERT=$bundle NODE_EXTRA_CA_CERTS=$bundle \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/rust/bin \
  /bin/bash -euo pipefail -c '
    cd /src/mop
    t0=$(date +%s)
    # Each of its steps stamped with the seconds since the start, to see where the time goes.
    scripts/install-deps.sh 2>&1 | while IFS= read -r line; do
      case $line in "==> "*) printf "[%4ss] %s\n" "$(($(date +%s) - t0))" "$line" ;; *) printf "%s\n" "$line" ;; esac
    done
    t1=$(date +%s)
    echo "==> install-deps.sh on the fresh root: $((t1 - t0)) s; again:"
    scripts/install-deps.sh >/tmp/again.log 2>&1 || { cat /tmp/again.log; exit 1; }
    # One step may run again: the OBI build when the first run could not build it (it says so, and
    # trying again is right: the reason may be gone). Anything else is a second install.
    steps=$(grep "^==> " /tmp/again.log || true)
    if grep -q "^warning: OBI was not built" /tmp/again.log; then steps=$(printf "%s\n" "$steps" | grep -v "^==> OBI:" || true); fi
    if [ -n "$steps" ]; then echo "the second run installed something:"; cat /tmp/again.log; exit 1; fi
    echo "==> install-deps.sh again: nothing to do, $(($(date +%s) - t1)) s"
    . scripts/mop-env.sh
    for tool in just st kubectl kubernetes-validate cargo-deny actionlint zizmor; do
      printf "%-20s %s\n" "$tool" "$(command -v "$tool")"
    done
    just --version; st --version; cargo-deny --version; kubectl version --client 2>/dev/null | head -1
    python3 -c "import grpc, grpc_reflection, grpc_health; print(\"grpcio\", grpc.__version__)"
    [ ! -e /usr/sbin/policy-rc.d ] || { echo "policy-rc.d left behind"; exit 1; }
    cargo build --workspace --bins --locked
    just dev --help
  '
# A server the packages started would run with its root in ours: none may.
for p in /proc/[0-9]*; do
  if [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ]; then
    echo "a process from the fresh root is still running: $(tr '\0' ' ' <"$p/cmdline")" >&2
    exit 1
  fi
done
step "passed: install-deps.sh on a fresh Debian 12 root, then the workspace build and just dev --help"
