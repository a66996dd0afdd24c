#!/usr/bin/env bash
# fuzz-catalog: start catalog on a free port and let Schemathesis fuzz it from its own /openapi.json.
# Fails on any 5xx (outside /error and the /slow timeout) or any response the document does not describe.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v st >/dev/null || { echo "schemathesis not found: pip install schemathesis==4.32.5" >&2; exit 1; }
cargo build -q -p catalog --bin catalog
log=$(mktemp)
# REQUEST_TIMEOUT=1s keeps /slow fuzzing fast (its 503 is the documented timeout); no rate limit so the
# fuzzer's burst is not answered with 429s only.
LISTEN_ADDR=127.0.0.1:0 REQUEST_TIMEOUT=1s RATE_LIMIT_PER_SECOND=0 target/debug/catalog >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
addr=""
for _ in $(seq 100); do
  addr=$(grep -o '"addr":"[^"]*"' "$log" | head -1 | cut -d'"' -f4 || true)
  [ -n "$addr" ] && break; sleep 0.1
done
[ -n "$addr" ] || { echo "catalog did not start:"; cat "$log"; exit 1; } >&2
url="http://$addr/openapi.json"
seed=${SEED:-1}
st --config-file schemathesis.toml run "$url" --checks all --exclude-path-regex '^/(error|slow)$' --seed "$seed" --no-color
st --config-file schemathesis.toml run "$url" --checks all --include-path-regex '^/(error|slow)$' \
  --exclude-checks not_a_server_error,positive_data_acceptance --seed "$seed" --no-color
