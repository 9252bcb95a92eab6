#!/usr/bin/env python3
"""Split a `perf script` dump of the served ledger into the parts of a receipt.

Usage: perf script -i perf.data | bench/perf-breakdown.py RECEIPTS CPU_US

Each sample is given to the first part (in the order below) that has a
frame anywhere in its call stack, so the shares are inclusive and sum to
100 %; RECEIPTS and CPU_US (the ledger's measured CPU per receipt) turn
them into microseconds per receipt. Allocator time is also reported on its
own ("of which"), since it runs inside every part. docs/benchmarks.md
says how the profile it reads was taken.
"""

import re
import sys

# (part, patterns): the first part with a frame matching one of its patterns
# takes the sample. Order matters: the signature check runs inside the
# admission task, the commit inside the writer, and so on; every sample of
# the follower's thread is the follower's.
PARTS = [
    ("verify_strict (Ed25519, the acceptance rule)", [r"verify_strict", r"curve25519_dalek"]),
    ("query-index follower (its thread, after the ack)", [r"query_index::"]),
    ("redb commit (Durability::Immediate, fdatasync)", [r"redb::transactions::WriteTransaction::commit"]),
    ("receipt, COSE and entry decode (strict, typed)", [r"SignedReceipt::parse", r"Receipt::from_cbor", r"Sign1::parse", r"Entry::from_cbor"]),
    ("entry, leaf hash and tree (SHA-256)", [r"Entry::new", r"sha2::", r"merkle::"]),
    ("acknowledgement (proofs, checkpoint, JSON body)", [r"writer::answer", r"proof_text", r"to_wire", r"serde_json::ser"]),
    ("redb writes of the batch before its commit (entries, nodes, checkpoint, admission indexes)", [r"redb::"]),
    ("sequencer and admission (queue, batching, checks)", [r"cairn_ledger::sequencer"]),
    ("HTTP: hyper, axum and the socket calls they make", [r"hyper::", r"axum::", r"tower::", r"httparse", r"tcp_", r"sock_", r"__sys_sendto", r"__sys_recvfrom"]),
    ("scheduler, futex, epoll and thread wake-ups", [r"futex", r"schedule", r"epoll", r"park", r"try_to_wake_up"]),
]
# perf truncates the thread name to 15 bytes.
FOLLOWER_THREAD = "cairn-query-ind"
# glibc's allocator entry points and internals, and Vec growth.
ALLOC = re.compile(
    r"\b(__libc_malloc|__libc_free|__libc_realloc|__libc_calloc|malloc|free|realloc|calloc|cfree"
    r"|_int_malloc|_int_free|_int_realloc|malloc_consolidate|unlink_chunk)\b|alloc::raw_vec::"
)


def samples(lines):
    stack = []
    header = None
    for line in lines:
        if not line.strip():
            if header is not None:
                yield header, stack
            header, stack = None, []
        elif not line.startswith(("\t", " ")):
            header = line
        else:
            stack.append(line.strip())
    if header is not None:
        yield header, stack


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    receipts, cpu_us = int(sys.argv[1]), float(sys.argv[2])
    compiled = [(name, [re.compile(p) for p in pats]) for name, pats in PARTS]
    counts = {name: 0 for name, _ in PARTS}
    counts["the rest"] = 0
    alloc = 0
    total = 0
    for header, stack in samples(sys.stdin):
        total += 1
        # The follower's thread, whatever it runs (its own redb commits too).
        if header.startswith(FOLLOWER_THREAD):
            stack = stack + ["query_index::"]
        if any(ALLOC.search(f) for f in stack[:3]):
            alloc += 1
        for name, pats in compiled:
            if any(p.search(f) for f in stack for p in pats):
                counts[name] += 1
                break
        else:
            counts["the rest"] += 1
    if total == 0:
        sys.exit("no samples on stdin")
    print(f"{total} samples, {receipts} receipts, {cpu_us:.0f} µs of ledger CPU per receipt\n")
    print("| part | share | µs per receipt |")
    print("|---|---|---|")
    for name, n in counts.items():
        share = n / total
        print(f"| {name} | {share:.1%} | {share * cpu_us:.0f} |")
    print(f"| total | 100 % | {cpu_us:.0f} |")
    print(f"| of which in the allocator (malloc/free, any part) | {alloc / total:.1%} | {alloc / total * cpu_us:.0f} |")


if __name__ == "__main__":
    main()
