#!/usr/bin/env bash
# debian-root.sh: builds (once) a Debian root folder with mmdebstrap from the host's own mirror — the Nix
# chroot of the flake check (nix/check/chroot.sh: sid + nix-bin) and the fresh Debian 12 of the install
# test (scripts/test-install.sh: bookworm, nothing added) are both made here.
# Usage: scripts/debian-root.sh ROOT SUITE [PACKAGE,…]  -> ROOT holds SUITE (+ PACKAGEs); kept while the
# request is the same (ROOT/.mop-ready records it), made anew when it changes. Needs root.
set -euo pipefail

root=${1:?usage: debian-root.sh ROOT SUITE [PACKAGE,…]}
suite=${2:?usage: debian-root.sh ROOT SUITE [PACKAGE,…]}
include=${3:-}
want="$suite variant=apt include=$include"
if [ "$(cat "$root/.mop-ready" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
command -v mmdebstrap >/dev/null || {
  echo "mmdebstrap not found: apt-get install mmdebstrap (it builds the Debian $suite root)" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || {
  echo "building the Debian $suite root needs root (mmdebstrap --mode=root, mount, chroot)" >&2
  exit 1
}
# The same mirror the host uses (the machines have no internet except package registries).
uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
uri=${uri:-http://deb.debian.org/debian}
# Never delete through a mount (a chroot in use has the host's /dev bound into it).
if [ -d "$root" ] && findmnt -rn -o TARGET | grep -q "^$root/"; then
  echo "$root has mounts under it (in use?): not rebuilding it; unmount them first" >&2
  exit 1
fi
rm -rf "$root"
mkdir -p "$(dirname "$root")"
# Check-Valid-Until off: a snapshot mirror's Release file may be past its validity date. The apt
# variant: Essential packages and apt, nothing else — what every Debian has.
mmdebstrap --quiet --mode=root --variant=apt --aptopt='Acquire::Check-Valid-Until "false"' \
  ${include:+--include="$include"} "$suite" "$root" "deb $uri $suite main"
# mmdebstrap can leave its /sys bind behind (seen with the host's cgroup mounts under /sys): unmount
# whatever is still mounted below the root, so copies and deletions of it stay on this file system.
# (grep finds nothing when mmdebstrap cleaned up after itself: not an error under pipefail.)
findmnt -rn -o TARGET | { grep "^$root/" || true; } | sort -r | while read -r m; do umount -R "$m" 2>/dev/null || true; done
echo "$want" >"$root/.mop-ready"
