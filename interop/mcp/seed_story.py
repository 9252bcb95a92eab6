"""The seed story through `cairn-gate mcp`, with real MCP parts: the official
MCP Python SDK is the agent, @modelcontextprotocol/server-filesystem (from
npm) the server, a real cairn ledger behind the gate.

    seed_story.py GATE_BIN LEDGER_URL WORKDIR SERVER_JS

WORKDIR holds gate.key, log.vkey and fs/ with staging/ and production/.
Prints `N passed, M failed` and exits 1 on any failure.
"""

import asyncio
import os
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from story import check, finish, log_size, silent_approver, text

GATE, LEDGER, WORK, SERVER_JS = sys.argv[1:5]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FS = os.path.join(WORK, "fs")


def gate_params(approver_url, extra=()):
    return StdioServerParameters(
        command=GATE,
        args=[
            "mcp",
            "--ledger", LEDGER,
            "--gate-key", os.path.join(WORK, "gate.key"),
            "--log-key", "@" + os.path.join(WORK, "log.vkey"),
            "--bundle", os.path.join(ROOT, "examples/policies/mcp-filesystem/cairn-rules"),
            "--spool", os.path.join(WORK, "spool"),
            "--approver", f"webhook:{approver_url}",
            "--approval-s", "2",
            "--server", "filesystem",
            "--agent", "agent:files-helper",
            "--resource-arg", "path",
            "--resource-arg", "source",
            "--redact", "content",
            *extra,
            "--",
            "node", SERVER_JS, FS,
        ],
        env={**os.environ, "CAIRN_LOG_FORMAT": "text"},
    )


async def direct_tools():
    params = StdioServerParameters(command="node", args=[SERVER_JS, FS])
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            return sorted(t.name for t in (await s.list_tools()).tools)


async def story(approver_url):
    prod, staging = os.path.join(FS, "production"), os.path.join(FS, "staging")
    before = log_size(LEDGER)
    async with stdio_client(gate_params(approver_url)) as (r, w):
        async with ClientSession(r, w) as s:
            init = await s.initialize()
            check("initialize passes through", init.server_info.name != "", init)
            tools = sorted(t.name for t in (await s.list_tools()).tools)
            check("tools/list passes through unchanged", tools == await direct_tools(), tools)

            # An agent writing in production is blocked; the server never sees it.
            target = os.path.join(prod, "config.yaml")
            res = await s.call_tool("write_file", {"path": target, "content": "replicas: 0\n"})
            check("a write in production is a tool error", res.is_error, res)
            check("with the policy's message", text(res).startswith("Action blocked by policy"), text(res))
            check("and the file is untouched", open(target).read() == "replicas: 3\n")

            # The same call on staging goes through.
            target = os.path.join(staging, "config.yaml")
            res = await s.call_tool("write_file", {"path": target, "content": "replicas: 0\n"})
            check("the same write in staging goes through", not res.is_error, res)
            check("and the server did it", open(target).read() == "replicas: 0\n")

            # A destructive call waits for a human, who does not answer: denied.
            started = time.monotonic()
            src, dst = os.path.join(prod, "data.db"), os.path.join(prod, "data.old")
            res = await s.call_tool("move_file", {"source": src, "destination": dst})
            waited = time.monotonic() - started
            check("a move in production waits for the approver", waited >= 1.5, f"{waited:.2f} s")
            check("and is denied when nobody approves", res.is_error and "approv" in text(res).lower(), text(res))
            check("and nothing moved", os.path.exists(src) and not os.path.exists(dst))

            res = await s.call_tool("read_text_file", {"path": os.path.join(prod, "config.yaml")})
            check("a read in production goes through", not res.is_error and "replicas: 3" in text(res), res)
    # Every decision is in the log: 4 calls, 4 receipts.
    check("every decision is logged", log_size(LEDGER) - before == 4, (before, log_size(LEDGER)))


def main():
    _silent, url = silent_approver()
    asyncio.run(story(url))
    finish()


main()
