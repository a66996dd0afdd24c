#!/usr/bin/env bash
# The flake check this machine can run without nixpkgs: a real Nix >= 2.31 parses every .nix file,
# checks flake.lock against flake.nix, and evaluates every output for both systems against the stub
# inputs in nix/check/stubs (nix/check/expect.nix says what must exist); the stub nixpkgs has only the
# attributes nix/check/evidence.toml gives evidence for. The host's Nix when it is
# new enough; else Debian sid's nix-bin in a chroot cached at $MOP_NIX_CHROOT (needs root, ~60 s once).
# A real `nix build` / `nix develop` needs nixpkgs: the GitHub workflow (.github/workflows/nix.yml).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
root=${MOP_NIX_CHROOT:-/var/cache/mop-nix-chroot}
start=$(date +%s)

for tool in git python3 cargo tar; do
  command -v $tool >/dev/null || { echo "$tool not found: install it (scripts/install-deps.sh)" >&2; exit 1; }
done

host_nix_ok() {
  command -v nix >/dev/null || return 1
  local v; v=$(nix --version | awk '{print $NF}')
  [ "$(printf '%s\n2.31.2\n' "$v" | sort -V | head -1)" = 2.31.2 ]
}

if host_nix_ok; then
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  inner=$work
else
  "$repo/nix/check/chroot.sh" "$root"
  # One work folder per run, so two checks (parallel sessions) never share one.
  work=$root/work/$$; inner=/work/$$
  mounted=()
  cleanup() {
    for m in "${mounted[@]}"; do umount -R "$m" 2>/dev/null || true; done
    rm -rf "$work"
  }
  trap cleanup EXIT
  # Mounted per run (a second concurrent run gets its own): proc for Nix, /dev for /dev/null and
  # urandom — made a slave so unmounting it can never propagate to the host's /dev/pts or /dev/shm.
  if ! mountpoint -q "$root/proc"; then mount -t proc proc "$root/proc" && mounted+=("$root/proc"); fi
  if ! mountpoint -q "$root/dev"; then
    mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev" && mounted+=("$root/dev")
  fi
fi

# The flake sees only git-tracked files: copy tracked and new (not ignored) files into a fresh repo.
mkdir -p "$work/mop"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
  xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ |
  tar --null -T - -cf -) | tar -C "$work/mop" -xf -
cp -r "$repo/nix/check/stubs" "$work/stubs"
# The stub nixpkgs and crane are generated from the evidence list alone (their flake.nix reads it).
for stub in nixpkgs crane; do cp "$repo/nix/check/evidence.toml" "$work/stubs/$stub/evidence.toml"; done
# What must exist, from the sources of truth: the workspace's bin targets (cargo metadata), the
# files crates embed at build time (include_str!/include_bytes!/migrate!, build.rs inputs).
cargo metadata --format-version 1 --locked --manifest-path "$repo/Cargo.toml" |
  python3 "$repo/nix/check/expected.py" "$repo" >"$work/expected.json"

if host_nix_ok; then
  "$repo/nix/check/eval.sh" "$inner"
else
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin /bin/bash "$inner/mop/nix/check/eval.sh" "$inner"
fi
echo "nix flake check (stub inputs): ok in $(( $(date +%s) - start )) s"
