#!/usr/bin/env bash
# Builds (once) and enters the Debian sid chroot that holds a real Nix ≥ 2.31 for the flake checks:
# Debian 12's own nix-bin is 2.8, too old for crane, and the machines that run .ci/run have no Nix.
# Usage: nix/check/chroot.sh ROOT            -> ensure ROOT holds sid + nix-bin (cached; ~70 s fresh)
set -euo pipefail

root=${1:?usage: chroot.sh ROOT}
if [ -x "$root/usr/bin/nix" ] && [ -f "$root/.mop-ready" ]; then
  exit 0
fi
command -v mmdebstrap >/dev/null || {
  echo "mmdebstrap not found: apt-get install mmdebstrap (it builds the Debian sid chroot with Nix)" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || { echo "the Nix chroot check needs root (mmdebstrap --mode=root, mount, chroot)" >&2; exit 1; }
# The same mirror the host uses (the machines have no internet except package registries).
uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
uri=${uri:-http://deb.debian.org/debian}
rm -rf "$root"
mkdir -p "$(dirname "$root")"
# Check-Valid-Until off: a snapshot mirror's Release file may be past its validity date.
mmdebstrap --quiet --mode=root --variant=apt --aptopt='Acquire::Check-Valid-Until "false"' \
  --include=nix-bin,ca-certificates,git sid "$root" "deb $uri sid main"
touch "$root/.mop-ready"
