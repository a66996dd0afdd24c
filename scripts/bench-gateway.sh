#!/usr/bin/env bash
# bench-gateway: what the cache buys. In one run, on loopback, with release builds:
#   hit path  — GET /products/42 through the gateway (L1 hit), through a gateway without L1 (Redis hit),
#               and straight from catalog;
#   miss path — distinct ids after FLUSHALL (every request misses: Redis GET, catalog call, Redis SET)
#               vs the same distinct ids straight from catalog.
# Usage: scripts/bench-gateway.sh [seconds per measurement]   (prints a Markdown table)
# Env: CONNS (default 32), PORT_BASE (default 18280).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; conns=${CONNS:-32}; base=${PORT_BASE:-18280}
for bin in wrk redis-server redis-cli curl; do
  command -v "$bin" >/dev/null || { echo "$bin not found: apt-get install wrk redis-server redis-tools curl" >&2; exit 1; }
done
target=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p catalog --bin catalog -p gateway --bin gateway

redis_port=$((base + 9)); catalog_port=$((base + 1)); gw_port=$((base + 4)); gw_l2_port=$((base + 5))
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 & pids+=($!)
# Rate limiters on (their cost is part of the services) with limits no benchmark reaches.
limits=(RATE_LIMIT_PER_SECOND=1000000000 RATE_LIMIT_BURST=1000000)
env "${limits[@]}" LISTEN_ADDR=127.0.0.1:$catalog_port SEED_PRODUCTS=200000 RUST_LOG=warn \
  "$target/release/catalog" >/dev/null & pids+=($!)
common=("${limits[@]}" REDIS_URL=redis://127.0.0.1:$redis_port/0 CATALOG_URL=http://127.0.0.1:$catalog_port RUST_LOG=warn)
env "${common[@]}" LISTEN_ADDR=127.0.0.1:$gw_port "$target/release/gateway" >/dev/null & pids+=($!)
env "${common[@]}" LISTEN_ADDR=127.0.0.1:$gw_l2_port L1_CAPACITY=0 KEY_PREFIX=gw \
  "$target/release/gateway" >/dev/null & pids+=($!)
for port in $catalog_port $gw_port $gw_l2_port; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
done
cmp <(curl -s "http://127.0.0.1:$catalog_port/products/42") <(curl -s "http://127.0.0.1:$gw_port/products/42") \
  || { echo "gateway and catalog answer different bodies" >&2; exit 1; }

# Walks ids 1, 2, 3, … (one wrk thread, so one counter): every request is for a new id.
cat >"$tmp/walk.lua" <<'LUA'
local id = 0
request = function()
  id = id % 200000 + 1
  return wrk.format("GET", "/products/" .. id)
end
LUA

# wrk → "req/s | p50 | p99"
measure() { # measure URL [lua script]
  local out
  out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency ${2:+-s "$2"} "$1")
  awk '/Requests\/sec/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {printf "%s | %s | %s", rps, p50, p99}' <<<"$out"
}
stat() { curl -s "http://127.0.0.1:$1/cache/stats" | python3 -c "import json,sys; s=json.load(sys.stdin); print(s['$2'])"; }

echo "| path | target | req/s | p50 | p99 |"
echo "|---|---|---|---|---|"
echo "| hit | catalog direct, /products/42 | $(measure "http://127.0.0.1:$catalog_port/products/42") |"
echo "| hit | gateway, L1 hit | $(measure "http://127.0.0.1:$gw_port/products/42") |"
curl -s "http://127.0.0.1:$gw_l2_port/products/42" >/dev/null
echo "| hit | gateway without L1, Redis hit | $(measure "http://127.0.0.1:$gw_l2_port/products/42") |"
echo "| miss | catalog direct, distinct ids | $(measure "http://127.0.0.1:$catalog_port/" "$tmp/walk.lua") |"
redis-cli -p "$redis_port" FLUSHALL >/dev/null
m0=$(stat $gw_l2_port misses); h0=$(stat $gw_l2_port hits)
echo "| miss | gateway without L1, distinct ids after FLUSHALL | $(measure "http://127.0.0.1:$gw_l2_port/" "$tmp/walk.lua") |"
m1=$(stat $gw_l2_port misses); h1=$(stat $gw_l2_port hits)
echo
echo "Miss run: $((m1 - m0)) misses, $((h1 - h0)) hits (ids wrap after 200000 requests)."
echo "wrk -t1 -c$conns -d${secs}s --latency; $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%MZ)"
