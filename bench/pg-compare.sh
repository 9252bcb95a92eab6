#!/usr/bin/env bash
# cairn vs PostgreSQL, side by side on this machine, one run:
# - cairn: a release `cairn-ledger serve` (redb, Durability::Immediate) fed
#   by `cairn-gate load` (receipts signed before the timed part; every answer
#   carries the checkpoint and the inclusion proof);
# - PostgreSQL (Debian's, installed if missing): synchronous_commit=on,
#   fsync=on, one row per transaction, the same receipt bytes, a table with
#   the indexes cairn keeps (leaf hash, (gate, idempotency key), subject,
#   surface, action, target, decision, decided_at), driven by pgbench;
# at concurrencies 1, 16, 64, 256 for SECONDS each (default 10); and, in the
# same run, the machine's limits (xtask machine-limits: verify_strict/s on
# every core, fdatasync/s, BLAKE3). Prints Markdown tables.
#
#   bench/pg-compare.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$pgbin" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
cargo build --quiet --release -p cairn-ledger -p cairn-gate -p xtask
work=$(mktemp -d /tmp/cairn-pgcmp.XXXXXX)
chmod 755 "$work"
pgport=55432
ledger_pid=""
cleanup() {
  [ -n "$ledger_pid" ] && kill "$ledger_pid" 2>/dev/null || true
  su postgres -s /bin/bash -c "$pgbin/pg_ctl -D $work/pg -m fast stop" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- PostgreSQL on loopback, durable commits.
mkdir -p "$work/pg" && chown postgres "$work/pg"
su postgres -s /bin/bash -c "$pgbin/initdb -D $work/pg -A trust >/dev/null"
cat >>"$work/pg/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pgport
unix_socket_directories = '$work/pg'
synchronous_commit = on
fsync = on
max_connections = 300
shared_buffers = 256MB
CONF
su postgres -s /bin/bash -c "$pgbin/pg_ctl -D $work/pg -l $work/pg/log -w start >/dev/null"
psql() { "$pgbin/psql" -h 127.0.0.1 -p $pgport -U postgres -q "$@"; }
psql -c "CREATE TABLE receipts (
  idx bigserial PRIMARY KEY, leaf bytea NOT NULL UNIQUE, gate text NOT NULL, idem text NOT NULL,
  subject text, surface text, action text, target text, decision text, decided_at timestamptz,
  break_glass boolean, body bytea NOT NULL, UNIQUE (gate, idem));
CREATE INDEX ON receipts (subject); CREATE INDEX ON receipts (surface); CREATE INDEX ON receipts (action);
CREATE INDEX ON receipts (target); CREATE INDEX ON receipts (decision); CREATE INDEX ON receipts (decided_at);"
# The same receipt bytes: one the demo writes.
target/release/cairn-gate demo --out "$work/demo" --approval-ms 100 >/dev/null
body=$(od -An -v -tx1 "$work/demo/receipt-0006.cose" | tr -d ' \n')
cat >"$work/insert.sql" <<SQL
\set n random(1, 9000000000000)
INSERT INTO receipts (leaf, gate, idem, subject, surface, action, target, decision, decided_at, break_glass, body)
VALUES (decode(md5(:client_id::text || '-' || :n::text), 'hex'), 'gate.example/eks-proxy', :client_id::text || '-' || :n::text,
        'agent:devops-helper', 'eks', 'delete_pod', 'staging:web', 'PERMIT', now(), false, decode('$body', 'hex'));
SQL

# --- cairn.
target/release/cairn-gate keygen --name bench.example/authority --out "$work/auth.key" >"$work/auth.vkey"
CAIRN_ADMIN_TOKEN=bench target/release/cairn-ledger serve --data-dir "$work/cairn" --listen 127.0.0.1:0 \
  --authority "@$work/auth.vkey" >"$work/serve.out" 2>"$work/serve.err" &
ledger_pid=$!
for _ in $(seq 1 100); do grep -q '^listening on' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
export CAIRN_LEDGER_URL=$(sed -n 's/^listening on //p' "$work/serve.out") CAIRN_ADMIN_TOKEN=bench
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(rustc --version), $("$pgbin/postgres" --version)"
echo
cargo run --quiet --release -p xtask -- machine-limits "$work"
echo
echo "| concurrency | cairn receipts/s | cairn p50 | cairn p99 | PostgreSQL rows/s | PostgreSQL p50 | PostgreSQL p99 | cairn / PostgreSQL |"
echo "|---|---|---|---|---|---|---|---|"
first=1
for c in 1 16 64 256; do
  # cairn: as many receipts as it can take in about SECONDS (measured rate x SECONDS).
  n=$(( c == 1 ? 350 * secs : 5000 * secs ))
  setup=()
  if [ $first = 1 ]; then setup=(--setup-with "$work/auth.key"); first=0; fi
  out=$(target/release/cairn-gate load --receipts "$n" --concurrency "$c" --json "${setup[@]}")
  read -r crps cp50 cp99 < <(python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["receipts_per_second"], v["latency_ms"]["p50"], v["latency_ms"]["p99"])' <<<"$out")
  rm -f "$work"/pgbench_log.*
  (cd "$work" && "$pgbin/pgbench" -h 127.0.0.1 -p $pgport -U postgres -n -c "$c" -j 2 -T "$secs" -f insert.sql -l postgres >"$work/pgbench.out" 2>&1)
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.out" | head -1)
  read -r pp50 pp99 < <(cat "$work"/pgbench_log.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.2f %.2f\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}')
  ratio=$(awk -v a="$crps" -v b="$tps" 'BEGIN {printf "%.2f", a/b}')
  printf '| %s | %.0f | %.2f ms | %.2f ms | %.0f | %s ms | %s ms | %s |\n' "$c" "$crps" "$cp50" "$cp99" "$tps" "$pp50" "$pp99" "$ratio"
done
