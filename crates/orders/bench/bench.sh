#!/usr/bin/env bash
# Benchmarks the orders service against a seeded PostgreSQL (see docs/benchmarks-orders.md).
#
# Starts a throw-away PostgreSQL in a temp dir (unless DATABASE_URL is set), seeds it
# (10 000 customers, 100 000 orders), starts the release binary on 127.0.0.1, then runs wrk:
# GET /orders/{id} and POST /orders throughput, N+1 vs batched latency at 10 and 50 orders,
# slow vs fast email search. Everything stays on loopback; every run is bounded by DURATION.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18083}
root=$(git rev-parse --show-toplevel)
here="$root/crates/orders/bench"
target=${CARGO_TARGET_DIR:-$root/target}

command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
cargo build --release -p orders --quiet
bin="$target/release/orders"

tmp=$(mktemp -d /tmp/orders-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ -n "${pg_ctl:-}" ]]; then $as_pg "$pg_ctl" stop -m fast -D "$tmp/data" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [[ -z "${DATABASE_URL:-}" ]]; then
  bindir=$(dirname "$(command -v initdb || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
  pg_ctl="$bindir/pg_ctl"
  as_pg=""
  if [[ $(id -u) == 0 ]]; then
    chown postgres: "$tmp"
    as_pg="setpriv --reuid=postgres --regid=postgres --init-groups --"
  fi
  $as_pg "$bindir/initdb" -D "$tmp/data" -U postgres --auth=trust -E UTF8 --no-locale -N >/dev/null
  pg_port=$((PORT + 1))
  cat >>"$tmp/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$tmp'
fsync = off
synchronous_commit = off
shared_buffers = 256MB
max_connections = 100
CONF
  $as_pg "$pg_ctl" start -w -s -D "$tmp/data" -l "$tmp/postgres.log"
  psql -q -h 127.0.0.1 -p "$pg_port" -U postgres -c "CREATE DATABASE orders"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/orders"
fi

"$bin" seed
# The per-IP rate limit would turn a benchmark into a 429 test: off. Logs go to a file (as in a pod).
RATE_LIMIT_PER_SECOND=0 LISTEN_ADDR="127.0.0.1:$PORT" DB_MAX_CONNECTIONS=${DB_MAX_CONNECTIONS:-16} \
  "$bin" >"$tmp/orders.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$base/ready" >/dev/null && break; sleep 0.1; done
curl -sf "$base/ready" >/dev/null || { echo "orders never became ready" >&2; cat "$tmp/orders.log" >&2; exit 1; }

sql() { psql -qAt "$DATABASE_URL" -c "$1"; }
# Customers with at least 10 / 50 orders, for the N+1 pages.
c10=$(sql "SELECT customer_id FROM orders GROUP BY customer_id HAVING count(*) >= 10 ORDER BY customer_id DESC LIMIT 1")
c50=$(sql "SELECT customer_id FROM orders GROUP BY customer_id HAVING count(*) >= 50 ORDER BY customer_id DESC LIMIT 1")
email=$(sql "SELECT email FROM customers WHERE id = 42")

section() { printf '\n### %s\n\n```\n' "$1"; }
endsection() { printf '```\n'; }

echo "# orders benchmark — $(date -u +%FT%TZ), $(nproc) cores, duration $DURATION"
# Warm-up (not reported): opens the pool's connections and prepares the statements.
wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -s "$here/get_order.lua" "$base" >/dev/null
section "GET /orders/{id} — throughput ($CONNECTIONS connections)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$here/get_order.lua" "$base" | tail -n +3
endsection
section "POST /orders — throughput ($CONNECTIONS connections)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$here/post_order.lua" "$base" | tail -n +3
endsection
for n in 10 50; do
  customer=$([[ $n == 10 ]] && echo "$c10" || echo "$c50")
  for strategy in n-plus-one batched; do
    section "GET /customers/$customer/orders?include=items&per_page=$n&strategy=$strategy — latency (1 connection)"
    wrk -t1 -c1 -d"$DURATION" --latency "$base/customers/$customer/orders?include=items&per_page=$n&strategy=$strategy" | tail -n +3
    endsection
  done
done
for path in "/customers/search?email_contains=example" "/customers/search?email_contains=0042" \
            "/customers/lookup?email=$email" "/customers/lookup?email_prefix=seed-00004"; do
  section "GET $path — latency (1 connection)"
  wrk -t1 -c1 -d"$DURATION" --latency "$base$path" | tail -n +3
  endsection
done

# Every answer the service gave during the runs, by route and status, from its access log: a run with
# errors must not pass for a fast one.
section "responses by route and status (access log)"
grep '"target":"access"' "$tmp/orders.log" | grep -o '"route":"[^"]*","status":[0-9]*' | sort | uniq -c | sort -rn
endsection
section "why: warnings in the service log"
grep '"level":"WARN"' "$tmp/orders.log" | grep -o '"error":"[^"]*"' | sort | uniq -c | sort -rn || echo "none"
endsection
