#!/usr/bin/env bash
# Builds (once) the Debian sid chroot that holds a real Nix ≥ 2.31 for the flake checks:
# Debian 12's own nix-bin is 2.8, too old for crane, and the machines that run .ci/run have no Nix.
# Usage: nix/check/chroot.sh ROOT            -> ensure ROOT holds sid + nix-bin (cached; ~70 s fresh)
set -euo pipefail
root=${1:?usage: chroot.sh ROOT}
# A chroot made before debian-root.sh recorded its request is kept as it is.
if [ -x "$root/usr/bin/nix" ] && [ -f "$root/.mop-ready" ]; then
  exit 0
fi
exec "$(dirname "$0")/../../scripts/debian-root.sh" "$root" sid nix-bin,ca-certificates,git
