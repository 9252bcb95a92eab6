#!/usr/bin/env bash
# The MCP proxy with real MCP parts (issue 17): a ledger started here, the
# official MCP Python SDK as the agent, `cairn-gate mcp` in front of
#   - @modelcontextprotocol/server-filesystem from npm over stdio. The seed
#     story: a write in production is blocked, the same write in staging
#     goes through, a destructive move waits for a human and is denied on
#     timeout; every decision is logged (seed_story.py);
#   - @modelcontextprotocol/server-everything from npm over the streamable
#     HTTP transport (`--upstream`): allowed, blocked and approval-timed-out
#     calls, the server's own sampling request streamed back through the
#     proxy, and the agent's bearer token (an EdDSA JWT from PyJWT) verified
#     and recorded as the receipt's lineage (streamable_story.py).
# Each prints `N passed, M failed`.
#
#   interop/mcp/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

venv=target/mcp-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r interop/mcp/requirements.txt
(cd interop/mcp && npm ci --silent --no-audit --no-fund)
server_js=$root/interop/mcp/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js
cargo build --quiet --locked -p cairn-ledger -p cairn-gate-server
bin=$root/target/debug

work=$(mktemp -d)
ledger=""
cleanup() {
  [ -n "$ledger" ] && { kill "$ledger" 2>/dev/null || true; wait "$ledger" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
"$bin/cairn-ledger" keygen --name authority.example/root --out authority.key >authority.vkey
"$bin/cairn-gate" keygen --name gate.example/mcp --out gate.key >gate.vkey
(umask 077; head -c 24 /dev/urandom | base64 >admin.token)
"$bin/cairn-ledger" serve --data-dir data --listen 127.0.0.1:0 --authority @authority.vkey \
  --admin-token-file admin.token >serve.out 2>serve.err &
ledger=$!
for _ in $(seq 1 100); do
  grep -q '^listening on' serve.out 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' serve.out)
[ -n "$url" ] || { echo "the ledger did not start:"; cat serve.err; exit 1; }
cp data/log.vkey log.vkey
"$bin/cairn-gate" register --url "$url" --authority-key authority.key --key @gate.vkey --admin-token-file admin.token >/dev/null
for b in mcp-filesystem mcp-everything; do
  "$bin/cairn-gate" publish "$root/examples/policies/$b/cairn-rules" --url "$url" \
    --authority-key authority.key --admin-token-file admin.token >/dev/null
done
mkdir -p fs/staging fs/production
printf 'replicas: 3\n' >fs/staging/config.yaml
printf 'replicas: 3\n' >fs/production/config.yaml
printf 'rows\n' >fs/production/data.db
status=0
echo "-- stdio: server-filesystem"
"$root/$venv/bin/python" "$root/interop/mcp/seed_story.py" "$bin/cairn-gate" "$url" "$work" "$server_js" || status=1
echo "-- streamable HTTP: server-everything, the agent's token as lineage"
everything_js=$root/interop/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js
"$root/$venv/bin/python" "$root/interop/mcp/streamable_story.py" "$bin/cairn-gate" "$url" "$work" "$everything_js" || status=1
exit $status
