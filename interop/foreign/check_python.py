"""Foreign checks of a live cairn ledger with Python libraries cairn did not
write: pycose (COSE_Sign1, RFC 9052) and pymerkle (RFC 9162 SHA-256 trees).

    python check_python.py URL WORK

URL is a running ledger; WORK holds `gate.key` (a gate key registered in
that log, cairn's private key file) written by interop/foreign/run.sh. Checks:

1. pycose verifies every receipt, key statement and policy bundle in the
   log under the key its kid names (keys from GET /v1/keys, the authority
   key from WORK/authority.vkey);
2. a receipt built and signed by pycose (a new receipt id, idempotency key
   and time on a payload the gate wrote) is accepted by the ledger (201),
   and its acknowledgement's proof holds;
3. pymerkle, fed the log's entries, computes the root of every stored
   checkpoint, and its own inclusion and consistency proofs verify against
   the roots the ledger signed.

Prints `N passed, M failed` per library and exits 1 if anything failed.
"""

import base64
import json
import os
import sys
import time
import urllib.request

import cbor2
import pymerkle
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm, ContentType
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message
from tally import Tally

RECEIPT_CT = "application/vnd.cairn.receipt.v1+cbor"


TOKEN = os.environ.get("CAIRN_ADMIN_TOKEN", "")


def get(url):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"} if TOKEN else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def post(url, body, ctype):
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def vkey_pub(text):
    name, kid, b64 = text.strip().split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    return f"{name}+{kid}", raw[1:]


def parse_checkpoint(note):
    lines = note.split("\n")
    return int(lines[1]), base64.b64decode(lines[2])


def uuid7():
    ms = int(time.time() * 1000)
    rand = bytearray(os.urandom(10))
    b = ms.to_bytes(6, "big") + bytes([0x70 | (rand[0] & 0x0F), rand[1], 0x80 | (rand[2] & 0x3F)]) + bytes(rand[3:10])
    h = b.hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def main(url, work):
    url = url.rstrip("/")
    cose, merkle = Tally("pycose"), Tally("pymerkle")
    keys = {}
    for item in json.loads(get(f"{url}/v1/keys"))["key_events"]:
        ref, pub = vkey_pub(item["key"])
        keys[ref] = pub
    with open(os.path.join(work, "authority.vkey")) as f:
        ref, pub = vkey_pub(f.read())
        keys[ref] = pub

    size, _ = parse_checkpoint(get(f"{url}/v1/checkpoint").decode())
    entries = [cbor2.loads(get(f"{url}/v1/entries/{i}")) for i in range(size)]
    raw_entries = [get(f"{url}/v1/entries/{i}") for i in range(size)]

    # 1. pycose verifies every signed body in the log.
    gate_ref = "+".join(open(os.path.join(work, "gate.vkey")).read().strip().split("+", 2)[:2])
    template = None
    for kind, _at, body in entries:
        msg = Sign1Message.decode(body)
        kid = msg.phdr[KID].decode()
        pub = keys.get(kid)
        if pub is None:
            cose.check(False, f"kid {kid} is not a registered key")
            continue
        msg.key = OKPKey(crv=Ed25519, x=pub)
        cose.check(msg.verify_signature(), f"{kind} signed by {kid}")
        if kind == "receipt" and kid == gate_ref and template is None:
            template = cbor2.loads(msg.payload)

    # 2. A receipt pycose builds and signs (with a trace context) is accepted
    #    by the ledger.
    with open(os.path.join(work, "gate.key")) as f:
        _, _, name, kid_hex, b64 = f.read().strip().split("+", 4)
    seed = base64.b64decode(b64)[1:]
    if template is None:
        cose.check(False, f"no receipt signed by {gate_ref} in the log to start from")
    else:
        now = int(time.time() * 1000)
        template["receipt_id"] = uuid7()
        template["idempotency_key"] = f"pycose-{now}"
        template["decided_at"] = now
        template["nd_inputs"]["clock"] = now
        # With a W3C trace context, which the gates do not set (check_siem.py
        # reads it back from the SIEM records).
        template["trace"] = {"trace_id": os.urandom(16).hex(), "span_id": os.urandom(8).hex()}
        msg = Sign1Message(
            phdr={Algorithm: EdDSA, ContentType: RECEIPT_CT, KID: f"{name}+{kid_hex}".encode()},
            payload=cbor2.dumps(template, canonical=True),
        )
        msg.key = OKPKey(crv=Ed25519, d=seed, x=keys[f"{name}+{kid_hex}"])
        status, body = post(f"{url}/v1/receipts", msg.encode(tag=True), "application/cose")
        cose.check(status == 201, f"the ledger answered {status} to a pycose receipt: {body[:300]!r}")
        if status == 201:
            with open(os.path.join(work, "pycose.cose"), "wb") as f:
                f.write(msg.encode(tag=True))
            with open(os.path.join(work, "pycose.tlog-proof"), "w") as f:
                f.write(json.loads(body)["tlog_proof"])

    # 3. pymerkle computes the same roots and its proofs verify against them.
    size, root = parse_checkpoint(get(f"{url}/v1/checkpoint").decode())
    while len(raw_entries) < size:
        raw_entries.append(get(f"{url}/v1/entries/{len(raw_entries)}"))
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    for e in raw_entries:
        tree.append_entry(e)
    merkle.check(tree.get_root(size) == root, f"root of the latest checkpoint ({size})")
    listed = json.loads(get(f"{url}/v1/checkpoints?from=1&to={size}"))["checkpoints"]
    sizes = []
    for item in listed:
        s, r = parse_checkpoint(item["note"])
        merkle.check(tree.get_root(s) == r, f"root of the checkpoint at {s}")
        sizes.append(s)
    for i in range(size):
        proof = tree.prove_inclusion(i + 1, size)
        leaf = tree.get_leaf(i + 1)
        try:
            pymerkle.verify_inclusion(leaf, root, proof)
            merkle.check(True, "")
        except pymerkle.InvalidProof as e:
            merkle.check(False, f"inclusion of {i} in {size}: {e}")
    for a, b in zip(sizes, sizes[1:]):
        proof = tree.prove_consistency(a, b)
        try:
            pymerkle.verify_consistency(tree.get_root(a), tree.get_root(b), proof)
            merkle.check(True, "")
        except pymerkle.InvalidProof as e:
            merkle.check(False, f"consistency {a} -> {b}: {e}")

    cose.report()
    merkle.report()
    return 0 if cose.failed == 0 and merkle.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
