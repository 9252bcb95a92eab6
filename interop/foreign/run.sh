#!/usr/bin/env bash
# Foreign implementations check cairn's real output: a ledger started here,
# receipts from the gate (`cairn-gate decide` and `cairn-tools load`), then
#   - Python: pycose verifies every COSE_Sign1 in the log and signs a receipt
#     the ledger accepts; pymerkle computes every checkpoint's root and its
#     proofs verify against them (check_python.py);
#   - Go: golang.org/x/mod/sumdb/note verifies every checkpoint and
#     golang.org/x/mod/sumdb/tlog checks every inclusion and consistency
#     proof the ledger serves (go/main.go, Debian's packaged sources);
#   - Rust: Cloudflare's signed_note and tlog_tiles crates verify the
#     checkpoints, the proofs and the gate's tlog-proof files (cairn-interop);
#   - OpenTelemetry and OCSF: `cairn-ledger siem` delivers the log to a
#     collector that parses it with the official opentelemetry-proto
#     definitions, and as OCSF lines validated against the class's JSON
#     Schema and by ocsf-lib (check_siem.py);
#   - Prometheus' promtool checks /metrics, and tests the witnessing alert
#     rules of docs/operations.md (alerts.test.yml);
# and cairn's own verifier audits the log with the pycose receipt in it.
# Each check prints `N passed, M failed`; any failure fails the run.
#
#   interop/foreign/run.sh [RECEIPTS]    (default 200)
set -euo pipefail
cd "$(dirname "$0")/../.."
receipts=${1:-200}
root=$PWD

venv=target/foreign-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r interop/foreign/requirements.txt
cargo build --quiet --locked -p cairn-ledger -p cairn-gate-server -p cairn-verify -p cairn-tools -p cairn-witness -p cairn-interop
bin=$root/target/debug

work=$(mktemp -d)
server=""
witness=""
cleanup() {
  for p in $server $witness; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${FOREIGN_KEEP:-}" ] && trap - EXIT
cd "$work"
"$bin/cairn-ledger" keygen --name authority.example/root --out authority.key >authority.vkey
"$bin/cairn-gate" keygen --name gate.example/foreign --out gate.key >gate.vkey
(umask 077; head -c 24 /dev/urandom | base64 >admin.token)
export CAIRN_ADMIN_TOKEN
CAIRN_ADMIN_TOKEN=$(cat admin.token)
# A witness cosigns the log, so that every checkpoint the foreign libraries
# read carries a cosignature line beside the log's (they must verify the
# log's signature and ignore the line they do not know).
mkdir data
"$bin/cairn-ledger" keygen --name foreign.example/log --out data/log.key >data/log.vkey
"$bin/cairn-witness" keygen --name witness.example/foreign --out witness.key >witness.vkey
"$bin/cairn-witness" serve --key witness.key --log @data/log.vkey --data-dir witness-data --listen 127.0.0.1:0 \
  >witness.out 2>witness.err &
witness=$!
for _ in $(seq 1 100); do
  grep -q '^listening on' witness.out 2>/dev/null && break
  sleep 0.1
done
witness_url=$(sed -n 's/^listening on //p' witness.out)
[ -n "$witness_url" ] || { echo "the witness did not start:"; cat witness.err; exit 1; }
printf 'witness w %s %s\nquorum w\n' "$(cat witness.vkey)" "$witness_url" >witnesses.txt
"$bin/cairn-ledger" serve --data-dir data --listen 127.0.0.1:0 --authority @authority.vkey \
  --witnesses witnesses.txt --witness-interval-ms 100 >serve.out 2>serve.err &
server=$!
for _ in $(seq 1 100); do
  grep -q '^listening on' serve.out 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' serve.out)
[ -n "$url" ] || { echo "the ledger did not start:"; cat serve.err; exit 1; }
export CAIRN_LEDGER_URL=$url
"$bin/cairn-gate" register --authority-key authority.key --key @gate.vkey --admin-token-file admin.token >/dev/null
"$bin/cairn-gate" publish "$root/examples/policies/devops-staging/cairn-rules" --authority-key authority.key \
  --admin-token-file admin.token >/dev/null
for r in devops-delete-staging devops-delete-production; do
  "$bin/cairn-gate" decide "$root/examples/requests/$r.json" --gate-key gate.key --log-key @data/log.vkey \
    --bundle "$root/examples/policies/devops-staging/cairn-rules" --save proofs >/dev/null || [ $? -eq 1 ]
done
ls proofs/*.tlog-proof >/dev/null
"$bin/cairn-tools" load --receipts "$receipts" --concurrency 8 --setup-with authority.key \
  --admin-token-file admin.token >/dev/null
head=$(curl -fsS "$url/v1/checkpoints?from=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["checkpoints"][-1]["size"])')
for _ in $(seq 1 100); do
  [ "$(curl -fsS "$url/checkpoint" | sed -n 2p)" = "$head" ] && break
  sleep 0.1
done
curl -fsS "$url/checkpoint" | grep -q '^— witness.example/foreign ' || { echo "the witness did not cosign"; exit 1; }
"$bin/cairn-gate" proofs refresh --dir proofs --log-key @data/log.vkey --witnesses witnesses.txt >/dev/null
echo "ledger at $url: $head entries, cosigned by the witness at $witness_url"

status=0
step() { printf -- '-- %s\n' "$*"; }

step "Python: pycose, pymerkle"
"$root/$venv/bin/python" "$root/interop/foreign/check_python.py" "$url" "$work" || status=1
cp pycose.tlog-proof pycose.cose proofs/ 2>/dev/null || true

step "Go: golang.org/x/mod/sumdb/note and sumdb/tlog (Debian's golang-golang-x-mod-dev)"
GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE="$root/target/go-cache" \
  go run "$root/interop/foreign/go/main.go" "$url" data/log.vkey || status=1

step "Rust: signed_note and tlog_tiles (Cloudflare)"
"$bin/cairn-interop" "$url" data/log.vkey proofs || status=1

step "promtool check metrics (Prometheus text format 0.0.4)"
curl -fsS -H 'Accept: text/plain;version=0.0.4' "$url/metrics" >metrics.txt
if promtool check metrics <metrics.txt; then echo "promtool: 1 passed, 0 failed"; else echo "promtool: 0 passed, 1 failed"; status=1; fi

step "promtool test rules: the witnessing alert rules of docs/operations.md fire when they should"
python3 - "$root/docs/operations.md" >witness-rules.yml <<'PY'
import re, sys
blocks = re.findall(r"```yaml\n(.*?)```", open(sys.argv[1], encoding="utf-8").read(), re.S)
print("".join(b for b in blocks if "cairn-witnesses" in b), end="")
PY
cp "$root/interop/foreign/alerts.test.yml" .
if promtool check rules witness-rules.yml && promtool test rules alerts.test.yml; then
  echo "promtool rules: 1 passed, 0 failed"
else
  echo "promtool rules: 0 passed, 1 failed"; status=1
fi

step "SIEM: cairn-ledger siem to an OTLP collector (opentelemetry-proto parses it) and as OCSF lines (its JSON Schema, ocsf-lib)"
"$root/$venv/bin/python" "$root/interop/foreign/check_siem.py" "$url" data/log.vkey "$bin/cairn-ledger" "$work" || status=1

step "cairn-verify audits the log, the pycose receipt included"
printf 'log %s\nauthority %s\n' "$(cat data/log.vkey)" "$(cat authority.vkey)" >trust.txt
cat witnesses.txt >>trust.txt
"$bin/cairn-verify" audit --url "$url" --trust trust.txt | tail -5 || status=1
exit $status
