#!/usr/bin/env bash
# fuzz: start the local lab (`lab dev --free-ports`: PostgreSQL, Redis, the Kafka broker, every service)
# and let Schemathesis fuzz each REST service from its own /openapi.json — catalog, orders (on
# PostgreSQL), gateway (on Redis + catalog), events-producer (on the broker). Fails on any 5xx outside
# /error and /slow, and on any response the document does not describe. Prints the requests sent per
# service. Usage: scripts/fuzz.sh [SERVICE…] (default: all four); SEED=n picks the generator's seed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/mop-env.sh # the Python tools' virtual environment first on PATH
command -v st >/dev/null || { echo "schemathesis not found: run scripts/install-deps.sh (it puts it in $MOP_VENV)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found (it counts the requests): apt-get install python3" >&2; exit 1; }
[ -x target/debug/lab ] || { echo "target/debug/lab missing: cargo build --workspace --bins --locked" >&2; exit 1; }
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(catalog orders gateway events-producer)
state=$(mktemp -d "${TMPDIR:-/tmp}/mop-fuzz.XXXXXX")
# As root the lab runs PostgreSQL as `postgres`, which must reach into the state folder (mktemp's is 0700).
chmod 755 "$state"
lab() { LAB_STATE_DIR="$state" target/debug/lab "$@"; }
# The services inherit the lab's environment: REQUEST_TIMEOUT=1s makes /slow's documented 503 fast;
# RATE_LIMIT_PER_SECOND=0 keeps the fuzzer's bursts from being answered with 429s only. A small data set
# is enough: the fuzzer looks for wrong answers, not slow ones.
REQUEST_TIMEOUT=1s RATE_LIMIT_PER_SECOND=0 LAB_STATE_DIR="$state" \
  target/debug/lab dev --free-ports --seed-customers 200 --seed-orders 1000 >"$state/lab.out" 2>&1 &
lab_pid=$!
trap 'lab dev-down >/dev/null 2>&1 || true; wait "$lab_pid" 2>/dev/null || true; rm -rf "$state"' EXIT
for _ in $(seq 240); do
  grep -q '^lab: ready' "$state/lab.out" 2>/dev/null && break
  kill -0 "$lab_pid" 2>/dev/null || { echo "lab did not start:" >&2; cat "$state/lab.out" >&2; exit 1; }
  sleep 0.5
done
grep -q '^lab: ready' "$state/lab.out" || { echo "lab not ready after 120 s:" >&2; cat "$state/lab.out" >&2; exit 1; }
# shellcheck disable=SC1091
source "$state/lab.env"

seed=${SEED:-1}
declare -A url=([catalog]=$CATALOG_URL [orders]=$ORDERS_URL [gateway]=$GATEWAY_URL [events-producer]=$EVENTS_URL)
# Per operation at most this many cases: ≥ 1 000 requests per service (events-producer has 2 operations).
declare -A examples=([catalog]=100 [orders]=100 [gateway]=100 [events-producer]=500)
# One Schemathesis run; its requests are counted from the HAR report.
run() {
  local name=$1 har="$state/$1-$RANDOM.har"; shift
  st --config-file schemathesis.toml run "${url[$name]}/openapi.json" --checks all --seed "$seed" \
    --max-examples "${examples[$name]}" --no-color --report har --report-har-path "$har" "$@"
}
status=0
for name in "${services[@]}"; do
  echo "=== fuzzing $name (${url[$name]})"
  case $name in
    # /error and /slow answer 5xx by design (documented): fuzzed without the server-error checks.
    catalog)
      run catalog --exclude-path-regex '^/(error|slow)$' || status=1
      run catalog --include-path-regex '^/(error|slow)$' \
        --exclude-checks not_a_server_error,positive_data_acceptance || status=1 ;;
    *) run "$name" || status=1 ;;
  esac
  python3 -c 'import json,sys; print(sys.argv[1] + ": " + str(sum(len(json.load(open(f))["log"]["entries"]) for f in sys.argv[2:])) + " requests")' \
    "$name" "$state/$name"-*.har | tee -a "$state/summary"
done
echo "=== requests sent"; cat "$state/summary"
exit $status
