"""What the MCP stories share: counting checks, the log's size, a tool
result's text, and an approval webhook that never answers."""

import socket
import sys
import urllib.request

counts = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    if ok:
        counts["passed"] += 1
        print(f"ok   {name}")
    else:
        counts["failed"] += 1
        print(f"FAIL {name}: {detail}")


def log_size(ledger):
    with urllib.request.urlopen(f"{ledger}/checkpoint", timeout=10) as r:
        return int(r.read().decode().split("\n")[1])


def text(result):
    return " ".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def silent_approver():
    """A webhook that accepts connections and never answers (kept open by
    the returned socket): every approval times out."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s, f"http://127.0.0.1:{s.getsockname()[1]}/approve"


def finish():
    print(f"{counts['passed']} passed, {counts['failed']} failed")
    sys.exit(1 if counts["failed"] else 0)
