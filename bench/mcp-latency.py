"""The MCP proxy's added latency per tool call, through the official MCP
Python SDK, straight to the server and through `cairn-gate mcp` (each call
decided, signed and durably logged before it is forwarded):

- `stdio`: the same `read_text_file` call N times to
  @modelcontextprotocol/server-filesystem (WORKDIR holds fs/staging/config.yaml);
- `http`: the same `echo` call N times to @modelcontextprotocol/server-everything
  over the streamable HTTP transport, the proxy started with `--upstream`.

    mcp-latency.py stdio|http GATE_BIN LEDGER_URL WORKDIR SERVER_JS [N]

WORKDIR holds gate.key and log.vkey. Prints one JSON object: median and
p99 in ms of each, and the added median and p99.
"""

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

MODE, GATE, LEDGER, WORK, SERVER_JS = sys.argv[1:6]
N = int(sys.argv[6]) if len(sys.argv) > 6 else 300
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FS = os.path.join(WORK, "fs")


async def timed(transport, tool, args):
    async with transport as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            for _ in range(20):  # warm-up
                await s.call_tool(tool, args)
            out = []
            for _ in range(N):
                t = time.perf_counter()
                res = await s.call_tool(tool, args)
                out.append((time.perf_counter() - t) * 1000)
                if res.is_error:
                    raise SystemExit(f"the call failed: {res}")
            return sorted(out)


def p99(v):
    return v[min(len(v) - 1, round(0.99 * (len(v) - 1)))]


def gate_args(bundle, server, agent, extra):
    return [
        "mcp", "--ledger", LEDGER,
        "--gate-key", os.path.join(WORK, "gate.key"),
        "--log-key", "@" + os.path.join(WORK, "log.vkey"),
        "--bundle", os.path.join(ROOT, f"examples/policies/{bundle}/cairn-rules"),
        "--spool", os.path.join(WORK, f"mcp-spool-{MODE}"),
        "--server", server, "--agent", agent, *extra,
    ]


def stdio():
    path = os.path.join(FS, "staging", "config.yaml")
    direct = StdioServerParameters(command="node", args=[SERVER_JS, FS])
    proxied = StdioServerParameters(
        command=GATE,
        args=gate_args("mcp-filesystem", "filesystem", "agent:files-helper",
                       ["--resource-arg", "path", "--", "node", SERVER_JS, FS]),
    )
    d = asyncio.run(timed(stdio_client(direct), "read_text_file", {"path": path}))
    p = asyncio.run(timed(stdio_client(proxied), "read_text_file", {"path": path}))
    return d, p


def started(cmd, env, stream, marker):
    """Start `cmd`, wait for `marker` on its `stream`, then keep draining
    that stream (a full pipe would stall the process); the other stream is
    discarded."""
    pipes = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, stream: subprocess.PIPE}
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, text=True, **pipes)
    out = getattr(proc, stream)
    for line in out:
        if marker in line:
            threading.Thread(target=lambda: [None for _ in out], daemon=True).start()
            return proc, line
    raise SystemExit(f"{cmd[0]} did not start")


def http():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server, _ = started(["node", SERVER_JS, "streamableHttp"], {"PORT": str(port)}, "stderr", "listening on port")
    upstream = f"http://127.0.0.1:{port}"
    gate, line = started(
        [GATE, *gate_args("mcp-everything", "everything", "agent:helper",
                          ["--upstream", upstream, "--listen", "127.0.0.1:0"])],
        {}, "stdout", "MCP proxy on",
    )
    proxy = line.split(" on ")[1].split(" for ")[0]
    try:
        args = {"message": "latency"}
        d = asyncio.run(timed(streamable_http_client(f"{upstream}/mcp"), "echo", args))
        p = asyncio.run(timed(streamable_http_client(f"{proxy}/mcp"), "echo", args))
    finally:
        for proc in (gate, server):
            proc.terminate()
            proc.wait(timeout=10)
    return d, p


def main():
    d, p = {"stdio": stdio, "http": http}[MODE]()
    print(json.dumps({
        "transport": MODE,
        "calls": N,
        "direct_ms": {"p50": statistics.median(d), "p99": p99(d)},
        "proxied_ms": {"p50": statistics.median(p), "p99": p99(p)},
        "added_ms": {"p50": statistics.median(p) - statistics.median(d), "p99": p99(p) - p99(d)},
    }))


main()
