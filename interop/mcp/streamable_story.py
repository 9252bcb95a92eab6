"""The MCP proxy over the streamable HTTP transport, with real MCP parts:
the official MCP Python SDK is the agent, @modelcontextprotocol/server-everything
(from npm) the server, `cairn-gate mcp --upstream` between them, a real
cairn ledger behind the gate. The agent presents an OAuth bearer token
(an EdDSA JWT that PyJWT signs), whose delegation chain the gate verifies
and records as the receipt's lineage.

    streamable_story.py GATE_BIN LEDGER_URL WORKDIR EVERYTHING_JS

WORKDIR holds gate.key and log.vkey. Prints `N passed, M failed` and exits
1 on any failure.
"""

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from story import check, finish, log_size, silent_approver, text

GATE, LEDGER, WORK, EVERYTHING_JS = sys.argv[1:5]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ISSUER = "https://auth.example"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server():
    port = free_port()
    proc = subprocess.Popen(
        ["node", EVERYTHING_JS, "streamableHttp"],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:
        if "listening on port" in line:
            break
    # Keep draining it: a full pipe would stall the server.
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    return proc, f"http://127.0.0.1:{port}"


def start_gate(upstream, approver_url, issuers_file):
    proc = subprocess.Popen(
        [
            GATE, "mcp",
            "--upstream", upstream,
            "--listen", "127.0.0.1:0",
            "--ledger", LEDGER,
            "--gate-key", os.path.join(WORK, "gate.key"),
            "--log-key", "@" + os.path.join(WORK, "log.vkey"),
            "--bundle", os.path.join(ROOT, "examples/policies/mcp-everything/cairn-rules"),
            "--spool", os.path.join(WORK, "spool-http"),
            "--approver", f"webhook:{approver_url}",
            "--approval-s", "2",
            "--server", "everything",
            "--agent", "agent:helper",
            "--token-issuers", issuers_file,
        ],
        stdout=subprocess.PIPE,
        stderr=open(os.path.join(WORK, "gate-http.err"), "w"),
        text=True,
        env={**os.environ, "CAIRN_LOG_FORMAT": "text"},
    )
    line = proc.stdout.readline()
    check("the proxy starts and says where", " on http://" in line, line)
    return proc, line.split(" on ")[1].split(" for ")[0]


def token(key, claims):
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "mcp.example", "iat": now, "exp": now + 600, "jti": os.urandom(8).hex(), **claims}
    return jwt.encode(body, key, algorithm="EdDSA", headers={"kid": "k1"})


def client(url, bearer):
    return streamable_http_client(url, http_client=create_mcp_http_client(headers={"Authorization": f"Bearer {bearer}"}))


async def sampled(context, params):
    return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="sampled by the agent"), model="test")


async def direct_tools(upstream):
    async with streamable_http_client(f"{upstream}/mcp") as (r, w):
        async with ClientSession(r, w, sampling_callback=sampled) as s:
            await s.initialize()
            return sorted(t.name for t in (await s.list_tools()).tools)


def receipts(action):
    with urllib.request.urlopen(f"{LEDGER}/v1/receipts?surface=everything&action={action}", timeout=10) as r:
        return json.load(r)["receipts"]


async def story(proxy, upstream, key, other_key):
    delegated = token(key, {"sub": "alice@example.com", "act": {"sub": "agent:helper"}})
    own = token(key, {"sub": "agent:helper"})
    forged = token(other_key, {"sub": "alice@example.com", "act": {"sub": "agent:helper"}})
    before = log_size(LEDGER)
    async with client(f"{proxy}/mcp", delegated) as (r, w):
        async with ClientSession(r, w, sampling_callback=sampled) as s:
            init = await s.initialize()
            check("initialize passes through", init.server_info.name != "", init)
            tools = sorted(t.name for t in (await s.list_tools()).tools)
            check("tools/list passes through unchanged", tools == await direct_tools(upstream), tools)

            res = await s.call_tool("echo", {"message": "hello through the gate"})
            check("an allowed call goes through", not res.is_error and "hello through the gate" in text(res), res)

            res = await s.call_tool("get-env", {})
            check("reading the server's environment is a tool error", res.is_error, res)
            check("with the policy's message", text(res).startswith("Action blocked by policy"), text(res))
            check("and no environment came back", "PATH" not in text(res), text(res))

            res = await s.call_tool("trigger-sampling-request", {"prompt": "hi", "maxTokens": 5})
            check("the server's own request to the agent streams through (SSE)",
                  not res.is_error and "sampled by the agent" in text(res), res)

            res = await s.call_tool("get-structured-content", {"location": "Chicago"})
            check("a call a person delegated is allowed by the lineage rule", not res.is_error, res)

            started = time.monotonic()
            res = await s.call_tool("get-sum", {"a": 1, "b": 2})
            waited = time.monotonic() - started
            check("a sum waits for the approver", waited >= 1.5, f"{waited:.2f} s")
            check("and is denied when nobody approves", res.is_error and "approv" in text(res).lower(), text(res))

    async with client(f"{proxy}/mcp", own) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            res = await s.call_tool("get-structured-content", {"location": "Chicago"})
            check("the same call with no person in the lineage is blocked", res.is_error, res)

    async with client(f"{proxy}/mcp", forged) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            res = await s.call_tool("echo", {"message": "forged"})
            check("a token its issuer did not sign is refused", res.is_error and "token" in text(res), text(res))
    # Every decision is in the log: 6 decided calls, 6 receipts (the
    # forged token's call was refused before any decision).
    check("every decision is logged", log_size(LEDGER) - before == 6, (before, log_size(LEDGER)))
    hits = receipts("get-structured-content")
    chains = sorted([link["sub"] for link in h["receipt"]["lineage"]] for h in hits)
    check("the receipts record the verified chains, root first",
          chains == [["agent:helper"], ["alice@example.com", "agent:helper"]], chains)
    profiles = sorted(h["receipt"]["lineage"][0]["sub_profile"] for h in hits)
    check("with who each is", profiles == ["ai_agent", "human"], profiles)
    transports = {h["receipt"]["request"]["context"]["mcp_transport"] for h in hits}
    check("and the transport", transports == {"streamable-http"}, transports)


def main():
    key, other_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    x = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": base64.urlsafe_b64encode(x).rstrip(b"=").decode()}
    issuers = os.path.join(WORK, "issuers.json")
    with open(issuers, "w") as f:
        json.dump({"issuers": [{"iss": ISSUER, "keys": [jwk]}]}, f)
    _silent, approver = silent_approver()
    server, upstream = start_server()
    gate, proxy = start_gate(upstream, approver, issuers)
    try:
        asyncio.run(story(proxy, upstream, key, other_key))
    finally:
        for p in (gate, server):
            p.terminate()
            p.wait(timeout=10)
    finish()


main()
