#!/usr/bin/env python3
"""Run the documentation's shell blocks, as a newcomer would, and fail on
any exit code a block does not expect.

A block is run only when the line just before its ```sh fence is a marker:

    <!-- run -->                          must exit 0
    <!-- run exit=N -->                   must exit N
    <!-- run background wait=URL -->      starts in the background (a server);
                                          the next block waits until URL answers
    <!-- run stop -->                     stops the background processes first
                                          (SIGTERM, as Ctrl-C would), then runs

Blocks without a marker are illustrations. The documents run in a fresh
clone of the repository (`git clone --local`; committed files only), each
from a clean tree (`git clean -ffdx` between them), its blocks in order, at
the clone's root, in one shell state: variables exported and directories
changed in one block hold in the next. In CI (`CI=true`) the target
directory is the one the tests built, so `cargo run -p ...` reuses that
build and the binaries on PATH are CI's (this is the last step: the
clone's build replaces `target/debug/cairn-*`); elsewhere it is
`target/docs-run-target`, so a developer's own binaries are left alone.
Usage:

    python3 .ci/docs_run.py README.md docs/operations.md docs/auditor-guide.md

Prints `N passed, M failed` (blocks) and exits 1 when any failed.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

MARKER = re.compile(r"^<!--\s*run(?P<args>[^>]*)-->\s*$")
BLOCK_TIMEOUT_S = 900
WAIT_TIMEOUT_S = 180


def blocks(path):
    """(line, options, text) of every marked ```sh block of a file."""
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        m = MARKER.match(lines[i].strip())
        if m and i + 1 < len(lines) and lines[i + 1].strip() in ("```sh", "```bash"):
            opts = {}
            for word in m.group("args").split():
                k, _, v = word.partition("=")
                opts[k] = v or True
            j = i + 2
            body = []
            while j < len(lines) and lines[j].strip() != "```":
                body.append(lines[j])
                j += 1
            out.append((i + 2, opts, "\n".join(body)))
            i = j
        i += 1
    return out


def wait_for(url):
    deadline = time.time() + WAIT_TIMEOUT_S
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return True
        except urllib.error.HTTPError:
            return True
        except Exception:
            time.sleep(0.5)
    return False


def stop(background):
    for p in background:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in background:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    background.clear()


def run_doc(repo, doc, tree):
    subprocess.run(["git", "-C", tree, "clean", "-q", "-ffdx"], check=True)
    state = os.path.join(tree, ".docs-run")
    os.makedirs(state)
    with open(os.path.join(state, "cwd"), "w") as f:
        f.write(tree)
    open(os.path.join(state, "env"), "w").close()
    target = docs_target(repo)
    env = dict(os.environ)
    env["CARGO_TARGET_DIR"] = target
    env["PATH"] = os.path.join(target, "debug") + os.pathsep + env["PATH"]
    env.pop("CAIRN_ADMIN_TOKEN", None)
    prelude = (
        f'S={shlex.quote(state)}; set -a; . "$S/env"; set +a; cd "$(cat "$S/cwd")"; '
        "set -eo pipefail\n"
    )
    epilogue = '\nexport -p > "$S/env"; pwd > "$S/cwd"\n'
    passed, failed, background, waiting = 0, 0, [], None
    for line, opts, text in blocks(os.path.join(repo, doc)):
        where = f"{doc}:{line}"
        if waiting and not wait_for(waiting):
            print(f"FAIL {where}: the background block never answered at {waiting}")
            failed += 1
            break
        waiting = None
        if "stop" in opts:
            stop(background)
        if "background" in opts:
            log = open(os.path.join(state, f"background-{line}.log"), "w")
            p = subprocess.Popen(
                ["bash", "-c", prelude + text],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            background.append(p)
            waiting = opts.get("wait") if isinstance(opts.get("wait"), str) else None
            print(f"ok   {where} (started in the background)")
            passed += 1
            continue
        want = int(opts.get("exit", 0)) if isinstance(opts.get("exit"), str) else 0
        started = time.time()
        r = subprocess.run(
            ["bash", "-c", prelude + text + epilogue],
            env=env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_S,
        )
        took = time.time() - started
        rebuilt = re.findall(r"^\s*Compiling (\S+)", r.stderr, re.M)
        if r.returncode == want:
            note = f", compiled {', '.join(rebuilt)}" if rebuilt else ""
            print(f"ok   {where} (exit {r.returncode}, {took:.1f} s{note})")
            passed += 1
        else:
            print(f"FAIL {where}: exit {r.returncode}, the block expects {want}")
            print("---- the block:\n" + text)
            print("---- stdout (end):\n" + r.stdout[-3000:])
            print("---- stderr (end):\n" + r.stderr[-3000:])
            failed += 1
            break
    for p in background:
        if p.poll() is not None and p.returncode not in (0, -signal.SIGTERM):
            print(f"note {doc}: a background block ended early with exit {p.returncode}")
    stop(background)
    return passed, failed


def docs_target(repo):
    shared = os.environ.get("CARGO_TARGET_DIR", os.path.join(repo, "target"))
    if os.environ.get("CI") == "true":
        return shared
    return os.path.join(shared, "docs-run-target")


def main():
    repo = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True)
    repo = repo.stdout.strip()
    tree = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(repo, "target")), "docs-run")
    shutil.rmtree(tree, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", "--local", repo, tree], check=True)
    if os.environ.get("CI") != "true":
        # The binaries on PATH are built from the clone, into its own target.
        subprocess.run(
            ["cargo", "build", "--quiet", "--locked", "--workspace", "--bins"],
            cwd=tree,
            env=dict(os.environ, CARGO_TARGET_DIR=docs_target(repo)),
            check=True,
        )
    total_p, total_f = 0, 0
    for doc in sys.argv[1:]:
        print(f"== {doc}")
        p, f = run_doc(repo, doc, tree)
        if p + f == 0:
            print(f"FAIL {doc}: no runnable block (mark them with <!-- run -->)")
            f = 1
        total_p, total_f = total_p + p, total_f + f
    print(f"{total_p} passed, {total_f} failed")
    sys.exit(1 if total_f else 0)


if __name__ == "__main__":
    main()
