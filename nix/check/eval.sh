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

evidence=$W/mop/nix/check/evidence.toml
# A name the flake uses without evidence: Nix says "attribute 'X' missing" (pkgs.X, lib.X) or
# "undefined variable 'X'" (`with pkgs; [ X ]`). Say where evidence goes, and why X is known absent.
explain() {
  local names
  names=$(grep -o -E "attribute '[^']+' missing|undefined variable '[^']+'" "$1" | sed -E "s/.*'([^']+)'.*/\1/" | sort -u)
  for n in $names; do
    echo "nix/check: '$n' has no evidence in nix/check/evidence.toml (its file in nixpkgs nixos-26.05 or crane v0.23.4: path @ commit)"
    grep -E "^\"?$n\"? = \"" "$evidence" | sed -E 's/^[^=]*= "(.*)"$/  known absent: \1/' || true
  done
}
# run_nix LOG CMD...: run Nix quietly; on failure show its error and explain it.
run_nix() {
  local log=$1; shift
  if ! "$@" >"$log" 2>&1; then
    quiet <"$log" | grep -v -e "^checking derivation" -e "^derivation evaluated" | tail -25
    explain "$log"
    exit 1
  fi
  quiet <"$log" | grep -v -e "^checking derivation" -e "^derivation evaluated" || true
}
with_stubs() { # with_stubs DIR: the override flags for the stub inputs in DIR
  echo --override-input nixpkgs "path:$1/nixpkgs" --override-input crane "path:$1/crane" \
    --override-input advisory-db "path:$1/advisory-db" --no-write-lock-file
}
read -ra overrides <<<"$(with_stubs "$W/stubs")"
echo "== nix flake check --no-build --all-systems (stub nixpkgs generated from nix/check/evidence.toml)"
run_nix "$W/check.log" "${nix[@]}" flake check --no-build --all-systems "${overrides[@]}"

echo "== every package, image, check and the shell, for both systems"
for out in packages checks devShells; do
  run_nix "$W/$out.log" "${nix[@]}" eval --impure --raw "${overrides[@]}" ".#$out" --apply "(import $W/mop/nix/check/expect.nix {
    expected = builtins.fromJSON (builtins.readFile $W/expected.json); }).$out"
  echo
done

echo "== the check misses no name: without its evidence entry, the flake's use of it fails naming it"
# One package (the shell's kind), one lib function (the source's fileset.unions), one crane function.
for probe in "kind devShells" '"fileset.unions" packages' "cargoDeny checks"; do
  read -r key out <<<"$probe"
  name=${key//\"/}
  rm -rf "$W/stubs-without"; cp -r "$W/stubs" "$W/stubs-without"
  grep -v -F "$key = " "$evidence" >"$W/stubs-without/nixpkgs/evidence.toml" || true
  cp "$W/stubs-without/nixpkgs/evidence.toml" "$W/stubs-without/crane/evidence.toml"
  if cmp -s "$evidence" "$W/stubs-without/nixpkgs/evidence.toml"; then
    echo "nix/check: evidence.toml has no entry $key to take out: update the probe in eval.sh"; exit 1
  fi
  read -ra without <<<"$(with_stubs "$W/stubs-without")"
  if "${nix[@]}" eval --raw "${without[@]}" ".#$out.x86_64-linux" --apply 'o: builtins.concatStringsSep " " (map (n: o.${n}.drvPath) (builtins.attrNames o))' >"$W/without.log" 2>&1; then
    echo "nix/check: the flake evaluated without evidence for $name: the stub is not strict"; exit 1
  fi
  explained=$(explain "$W/without.log")
  grep -q -F "'${name##*.}'" <<<"$explained" || {
    tail -5 "$W/without.log"; echo "nix/check: the failure without $name does not name it"; exit 1; }
  echo "without $key: $(head -1 <<<"$explained")"
done
