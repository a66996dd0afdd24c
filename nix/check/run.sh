#!/usr/bin/env bash
# The flake check this machine can run without nixpkgs: a real Nix (Debian sid's nix-bin, in a cached
# chroot) parses every .nix file, checks flake.lock against flake.nix, and evaluates every output for
# both systems against the stub inputs in nix/check/stubs (nix/check/expect.nix says what must exist).
# A real `nix build` / `nix develop` needs nixpkgs: the GitHub workflow does that.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
root=${MOP_NIX_CHROOT:-/var/cache/mop-nix-chroot}
start=$(date +%s)

for tool in git python3 cargo; do
  command -v $tool >/dev/null || { echo "$tool not found: install it (scripts/install-deps.sh)" >&2; exit 1; }
done
"$repo/nix/check/chroot.sh" "$root"

# The flake sees only git-tracked files: copy tracked and new (not ignored) files into a fresh repo.
work=$root/work/mop
rm -rf "$root/work" && mkdir -p "$work"
git -C "$repo" ls-files -z --cached --others --exclude-standard |
  (cd "$repo" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _) |
  tar -C "$repo" --null -T - -cf - | tar -C "$work" -xf -
cp -r "$repo/nix/check/stubs" "$root/work/stubs"

# What must exist, from the sources of truth: the workspace's [[bin]] targets (cargo metadata) and
# the files crates embed at build time (include_str!/include_bytes!/migrate!, and build.rs inputs).
cargo metadata --no-deps --format-version 1 --locked --manifest-path "$repo/Cargo.toml" |
  python3 "$repo/nix/check/expected.py" "$repo" >"$root/work/expected.json"

mounted=()
cleanup() { for m in "${mounted[@]}"; do umount -R "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
mount --rbind /dev "$root/dev" && mounted+=("$root/dev")

chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin /bin/bash -euo pipefail -c '
  nix=(nix --extra-experimental-features "nix-command flakes" --option substitute false --option build-users-group "")
  # Drop the notes Nix prints about the stub overrides and the uncommitted tree, keep everything else.
  quiet() { grep -v -e "^warning: Git tree" -e "^warning: not writing modified lock file" -e "^• Updated input" \
    -e "^    .github:" -e "^  → .path:" || true; }
  git config --global --add safe.directory "*"
  git config --global user.email check@mop.invalid; git config --global user.name check
  cd /work/mop && git init -q && git add -A && git commit -qm snapshot
  echo "nix: $(nix --version)"
  echo "== nix-instantiate --parse every .nix file"
  git ls-files "*.nix" | while read -r f; do nix-instantiate --option build-users-group "" --parse "$f" >/dev/null || { echo "parse error: $f"; exit 1; }; done
  echo "== flake.lock matches flake.nix (no input to add, drop or re-lock)"
  # Offline: a lock that matches needs nothing fetched; one that does not makes Nix try to re-lock.
  if ! out=$("${nix[@]}" flake lock --no-update-lock-file --offline 2>&1); then
    echo "$out" | quiet | tail -3
    echo "flake.lock does not match flake.nix: re-lock (nix flake lock) with the pins in nix.md"; exit 1
  fi
  git diff --exit-code flake.lock
  overrides=(--override-input nixpkgs path:/work/stubs/nixpkgs --override-input crane path:/work/stubs/crane
             --override-input advisory-db path:/work/stubs/advisory-db --no-write-lock-file)
  echo "== nix flake check --no-build --all-systems (stub inputs)"
  "${nix[@]}" flake check --no-build --all-systems "${overrides[@]}" 2>&1 | quiet
  echo "== every package, image, check and the shell, for both systems"
  for out in packages checks devShells; do
    "${nix[@]}" eval --impure --raw "${overrides[@]}" ".#$out" --apply "(import /work/mop/nix/check/expect.nix {
      expected = builtins.fromJSON (builtins.readFile /work/expected.json); }).$out" 2>&1 | quiet
    echo
  done
'
echo "nix flake check (stub inputs): ok in $(( $(date +%s) - start )) s"
