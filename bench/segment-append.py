#!/usr/bin/env python3
"""What an append-only segment file with group fdatasync sustains here.

Usage: bench/segment-append.py [DIR] [SECONDS]   (defaults: target/bench, 3)

For groups of 1, 8, 24, 64 and 256 records of 1,300 bytes (a log entry's
size), appends one group to a fresh file with one write and makes it
durable with one fdatasync, for SECONDS each, and prints groups/s,
records/s and the mean time of one group's append and sync. This is the
storage the performance issue asked to measure against redb's commit:
docs/benchmarks.md sets its numbers beside the sequencer's mean group
commit (`cairn_append_seconds`, printed by bench/profile).
"""

import os
import sys
import time

RECORD = 1300
GROUPS = [1, 8, 24, 64, 256]


def measure(directory, group, seconds):
    path = os.path.join(directory, f"segment-{group}.bin")
    payload = os.urandom(RECORD * group)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    try:
        n = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            os.write(fd, payload)
            os.fdatasync(fd)
            n += 1
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
        os.unlink(path)
    return n / elapsed, n * group / elapsed, elapsed / n * 1e3


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "target/bench"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    os.makedirs(directory, exist_ok=True)
    print("| records per group | groups/s | records/s | ms per group (append + fdatasync) |")
    print("|---|---|---|---|")
    for group in GROUPS:
        groups, records, ms = measure(directory, group, seconds)
        print(f"| {group} | {groups:,.0f} | {records:,.0f} | {ms:.3f} |")


if __name__ == "__main__":
    main()
