"""The MCP proxy's added latency per tool call: the same `read_text_file`
call N times through the official MCP Python SDK, straight to
@modelcontextprotocol/server-filesystem and through `cairn-gate mcp` (each
call decided, signed and durably logged before it is forwarded).

    mcp-latency.py GATE_BIN LEDGER_URL WORKDIR SERVER_JS [N]

WORKDIR holds gate.key, log.vkey and fs/staging/config.yaml. Prints one
JSON object: median and p99 in ms of each, and the added median and p99.
"""

import asyncio
import json
import os
import statistics
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

GATE, LEDGER, WORK, SERVER_JS = sys.argv[1:5]
N = int(sys.argv[5]) if len(sys.argv) > 5 else 300
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FS = os.path.join(WORK, "fs")


async def timed(params):
    path = os.path.join(FS, "staging", "config.yaml")
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            for _ in range(20):  # warm-up
                await s.call_tool("read_text_file", {"path": path})
            out = []
            for _ in range(N):
                t = time.perf_counter()
                res = await s.call_tool("read_text_file", {"path": path})
                out.append((time.perf_counter() - t) * 1000)
                if res.is_error:
                    raise SystemExit(f"the call failed: {res}")
            return sorted(out)


def p99(v):
    return v[min(len(v) - 1, round(0.99 * (len(v) - 1)))]


def main():
    direct = StdioServerParameters(command="node", args=[SERVER_JS, FS])
    proxied = StdioServerParameters(
        command=GATE,
        args=[
            "mcp", "--ledger", LEDGER,
            "--gate-key", os.path.join(WORK, "gate.key"),
            "--log-key", "@" + os.path.join(WORK, "log.vkey"),
            "--bundle", os.path.join(ROOT, "examples/policies/mcp-filesystem/cairn-rules"),
            "--spool", os.path.join(WORK, "mcp-spool"),
            "--server", "filesystem", "--agent", "agent:files-helper", "--resource-arg", "path",
            "--", "node", SERVER_JS, FS,
        ],
    )
    d = asyncio.run(timed(direct))
    p = asyncio.run(timed(proxied))
    print(json.dumps({
        "calls": N,
        "direct_ms": {"p50": statistics.median(d), "p99": p99(d)},
        "proxied_ms": {"p50": statistics.median(p), "p99": p99(p)},
        "added_ms": {"p50": statistics.median(p) - statistics.median(d), "p99": p99(p) - p99(d)},
    }))


main()
