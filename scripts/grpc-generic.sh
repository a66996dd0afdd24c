#!/usr/bin/env bash
# grpc-generic: start auth on a free port and drive it with a generic gRPC client (Python grpcio) that
# learns everything from server reflection — proof that grpcurl-style tools work without our .proto.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/mop-env.sh # the Python tools' virtual environment first on PATH
python3 -c 'import grpc, grpc_reflection, grpc_health' 2>/dev/null || {
  echo "python grpc modules not found: run scripts/install-deps.sh (it puts grpcio in $MOP_VENV)" >&2; exit 1; }
cargo build -q -p auth --bin auth
log=$(mktemp)
LISTEN_ADDR=127.0.0.1:0 SEED_USERS=5 target/debug/auth >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
addr=""
for _ in $(seq 200); do
  addr=$(grep -o '"addr":"[^"]*"' "$log" | head -1 | cut -d'"' -f4 || true)
  [ -n "$addr" ] && break; sleep 0.1
done
[ -n "$addr" ] || { echo "auth did not start:"; cat "$log"; exit 1; } >&2
python3 scripts/grpc_generic_client.py "$addr"
