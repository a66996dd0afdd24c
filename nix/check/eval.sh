#!/usr/bin/env bash
# The evaluation half of nix/check/run.sh, run by a real Nix >= 2.31 (in the chroot, or the host's):
# W holds mop/ (a copy of the checkout), stubs/ and expected.json.
set -euo pipefail
W=${1:?usage: eval.sh WORKDIR}
nix=(nix --extra-experimental-features "nix-command flakes" --option substitute false --option build-users-group "")
# Drop the notes Nix prints about the stub overrides and the uncommitted tree, keep everything else.
quiet() { grep -v -e "^warning: Git tree" -e "^warning: not writing modified lock file" -e "^• Updated input" \
  -e "^    .github:" -e "^  → .path:" || true; }
export GIT_CONFIG_GLOBAL=$W/gitconfig
git config --global --add safe.directory "*"
git config --global user.email check@mop.invalid
git config --global user.name check
cd "$W/mop" && git init -q && git add -A && git commit -qm snapshot
echo "nix: $(nix --version)"

echo "== nix-instantiate --parse every .nix file"
git ls-files "*.nix" | while read -r f; do
  nix-instantiate --option build-users-group "" --parse "$f" >/dev/null || { echo "parse error: $f"; exit 1; }
done

echo "== flake.lock matches flake.nix (no input to add, drop or re-lock)"
# Offline: a lock that matches needs nothing fetched; one that does not makes Nix try to re-lock.
if ! out=$("${nix[@]}" flake lock --no-update-lock-file --offline 2>&1); then
  echo "$out" | quiet | tail -3
  echo "flake.lock does not match flake.nix: re-lock (nix flake lock) with the pins in nix.md"
  exit 1
fi
git diff --exit-code flake.lock

overrides=(--override-input nixpkgs "path:$W/stubs/nixpkgs" --override-input crane "path:$W/stubs/crane"
  --override-input advisory-db "path:$W/stubs/advisory-db" --no-write-lock-file)
echo "== nix flake check --no-build --all-systems (stub inputs)"
"${nix[@]}" flake check --no-build --all-systems "${overrides[@]}" 2>&1 | quiet | grep -v -e "^checking derivation" -e "^derivation evaluated"

echo "== every package, image, check and the shell, for both systems"
for out in packages checks devShells; do
  "${nix[@]}" eval --impure --raw "${overrides[@]}" ".#$out" --apply "(import $W/mop/nix/check/expect.nix {
    expected = builtins.fromJSON (builtins.readFile $W/expected.json); }).$out" 2>&1 | quiet
  echo
done
