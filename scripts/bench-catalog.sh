#!/usr/bin/env bash
# bench-catalog: max requests/s of `GET /products/{id}` on catalog vs a bare axum handler returning the
# same JSON, measured with wrk in one run, alternating the two targets so machine noise hits both.
# Usage: scripts/bench-catalog.sh [seconds per round] [rounds]   (prints a Markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; rounds=${2:-3}; conns=${CONNS:-64}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p catalog --bin catalog --example bare
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
# The rate limiter stays on (its cost is part of catalog) but with a limit no benchmark reaches.
LISTEN_ADDR=127.0.0.1:18181 RATE_LIMIT_PER_SECOND=1000000000 RATE_LIMIT_BURST=1000000 RUST_LOG=warn \
  target/release/catalog >/dev/null & pids+=($!)
LISTEN_ADDR=127.0.0.1:18191 target/release/examples/bare >/dev/null & pids+=($!)
for port in 18181 18191; do
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/products/42" >/dev/null && break; sleep 0.1; done
done
cmp <(curl -s http://127.0.0.1:18181/products/42) <(curl -s http://127.0.0.1:18191/products/42) \
  || { echo "catalog and bare answer different bodies" >&2; exit 1; }
rps() { wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$1/products/42" | awk '/Requests\/sec/ {print $2}'; }
echo "| round | catalog req/s | bare req/s | ratio |"
echo "|---|---|---|---|"
for r in $(seq "$rounds"); do
  c=$(rps 18181); b=$(rps 18191)
  echo "| $r | $c | $b | $(python3 -c "print(f'{$c/$b:.1%}')") |"
done
