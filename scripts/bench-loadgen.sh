#!/usr/bin/env bash
# bench-loadgen: (a) accuracy of the open model at 5 000 req/s for 30 s against catalog (achieved rate,
# generator lateness, peak RSS); (b) closed-model max throughput vs oha on the same target, in
# alternating rounds (ROUNDS, default 5) with each tool's CPU per request; (c)
# coordinated omission: p99 against a server that stalls every request for 1 s every 10 s, ours (open
# model, from intended time) vs the analytical value (≈ 0.9 s) vs oha (closed loop). One run, loopback.
# Usage: scripts/bench-loadgen.sh [seconds for (a) and (c), default 30]   (prints a Markdown report)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
for tool in oha /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "$tool not found (oha: cargo install oha --locked; time: apt-get install time)" >&2; exit 1; }
done
bin=${CARGO_TARGET_DIR:-target}/release   # where cargo puts the release binaries
cargo build --release -q -p catalog --bin catalog -p loadgen --bin loadgen --example stall_server
out=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$out"' EXIT
RATE_LIMIT_PER_SECOND=0 RUST_LOG=warn LISTEN_ADDR=127.0.0.1:18281 "$bin"/catalog >/dev/null & pids+=($!)
LISTEN_ADDR=127.0.0.1:18299 "$bin"/examples/stall_server >/dev/null & pids+=($!)
for url in http://127.0.0.1:18281/products/42 http://127.0.0.1:18299/; do
  for _ in $(seq 100); do curl -sf "$url" >/dev/null && break; sleep 0.1; done
done
lg() { LOG_FORMAT=json RUST_LOG=warn "$bin"/loadgen "$@"; }
field() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

echo "## (a) accuracy: open model, 5 000 req/s for ${secs} s against catalog"
/usr/bin/time -v -o "$out/time.txt" "$bin"/loadgen http --url 'http://127.0.0.1:18281/products/{rand:1:1000}' \
  --rate 5000 --duration "${secs}s" --out "$out/a.json" >/dev/null 2>&1 || true
planned=$(field "$out/a.json" "r['total']['planned']")
done_=$(field "$out/a.json" "r['total']['completed']")
echo "| planned | completed | achieved rate | vs 5 000/s | dropped | generator lateness p99 | peak RSS |"
echo "|---|---|---|---|---|---|---|"
echo "| $planned | $done_ | $(field "$out/a.json" "round(r['total']['achieved_rate'], 1)") /s | $(field "$out/a.json" "f\"{(r['total']['achieved_rate']/5000-1)*100:+.2f} %\"") | $(field "$out/a.json" "r['total']['dropped']") | $(field "$out/a.json" "r['generator_lateness_ms']['p99']") ms | $(awk '/Maximum resident/ {printf "%.1f MiB", $6/1024}' "$out/time.txt") |"

echo
rounds=${ROUNDS:-5}
echo "## (b) closed model, max throughput, 64 concurrent, ${rounds} alternating rounds of 5 s, GET /products/42"
echo "CPU per request = the tool's own user+sys time ÷ its completed requests (the noise-free part of the comparison)."
echo
echo "| round | loadgen req/s | oha req/s | ratio | loadgen CPU/req | oha CPU/req |"
echo "|---|---|---|---|---|---|"
ratios=()
for r in $(seq "$rounds"); do
  /usr/bin/time -f "%U %S" -o "$out/tb" env LOG_FORMAT=json RUST_LOG=warn "$bin"/loadgen http \
    --url http://127.0.0.1:18281/products/42 --concurrency 64 --duration 5s --out "$out/b.json" >/dev/null
  /usr/bin/time -f "%U %S" -o "$out/to" oha -z 5s -c 64 --no-tui --output-format json \
    http://127.0.0.1:18281/products/42 >"$out/oha-b.json" 2>/dev/null
  row=$(python3 - "$out" <<'PY'
import json, sys
d = sys.argv[1]
l = json.load(open(f"{d}/b.json"))["total"]
o = json.load(open(f"{d}/oha-b.json"))["summary"]
cpu = lambda f: sum(map(float, open(f).read().split()[-2:]))
on = o["requestsPerSec"] * o["total"]
ratio = l["achieved_rate"] / o["requestsPerSec"]
print(f"{round(l['achieved_rate'])} | {round(o['requestsPerSec'])} | {ratio:.2f}× | "
      f"{cpu(f'{d}/tb') / l['completed'] * 1e6:.2f} µs | {cpu(f'{d}/to') / on * 1e6:.2f} µs {ratio:.4f}")
PY
)
  ratios+=("${row##* }")
  echo "| $r | ${row% *} |"
done
echo
echo "Median ratio: $(python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}×')" "${ratios[@]}")"

echo
echo "## (c) coordinated omission: stall 1 s every 10 s, ${secs} s"
lg http --url http://127.0.0.1:18299/ --rate 1000 --duration "${secs}s" --workers 64 --out "$out/c.json" >/dev/null
oha -z "${secs}s" -c 64 --no-tui --output-format json http://127.0.0.1:18299/ 2>/dev/null > "$out/oha-c.json"
echo "| measure | p99 |"
echo "|---|---|"
echo "| analytical (10 % of arrivals wait U(0, 1 s)) | ≈ 900 ms |"
echo "| loadgen, from intended time (1 000 req/s open) | $(field "$out/c.json" "r['total']['latency_from_intended_ms']['p99']") ms |"
echo "| loadgen, from send time | $(field "$out/c.json" "r['total']['latency_from_send_ms']['p99']") ms |"
echo "| oha, closed loop (64 connections) | $(python3 -c "import json; print(round(json.load(open('$out/oha-c.json'))['latencyPercentiles']['p99']*1000, 2))") ms |"
