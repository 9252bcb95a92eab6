//! The test-vector cases. Each case is `(kind/name, JSON)`; the JSON has a
//! `desc`, the inputs, and `expected`: `"ok"`, an object of expected
//! results, or `{"error": "Variant.Path"}` (see
//! `cairn_api::examples::variant_path`).

use cairn_api::cbor;
use cairn_api::cose::{self, Sign1};
use cairn_api::entry::{Entry, EntryKind};
use cairn_api::examples::{self, EXAMPLE_NOW_MS, variant_path};
use cairn_api::keys::{KeyType, SignerKey, VerifierKey};
use cairn_api::merkle::{
    Hash, MemoryTree, MerkleHasher, Sha256, consistency_proof, inclusion_proof, verify_consistency, verify_inclusion,
};
use cairn_api::note::{Checkpoint, SignedNote};
use cairn_api::proof::{TlogProof, entry_header};
use cairn_api::receipt::{RECEIPT_CONTENT_TYPE, Receipt, VIEW};
use cairn_api::timestamp::Timestamp;
use serde_json::{Value, json};

pub type Case = (String, Value);

fn hexs(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(Hash::to_hex).collect()
}

/// A mutation that leaves the recomputed root unchanged verifies: say why.
fn explain(desc: &str, name: &str, expected: &Value) -> String {
    if name != "valid" && expected == &json!("ok") {
        format!(
            "{desc} (verifies: the mutation leaves the claim or the recomputed root unchanged; binding a size to a root is the \
             checkpoint signature's job)"
        )
    } else {
        desc.to_owned()
    }
}

fn outcome<T, E: std::fmt::Debug>(r: Result<T, E>) -> Value {
    match r {
        Ok(_) => json!("ok"),
        Err(e) => json!({ "error": variant_path(&format!("{e:?}")) }),
    }
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("static hex in the generator")
}

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap_or_else(|e| unreachable!("{e}"))
}

/// Leaf `i` of the Merkle vectors: the ASCII bytes `leaf <i>`.
fn leaf_data(i: u64) -> Vec<u8> {
    format!("leaf {i}").into_bytes()
}

fn tree(n: u64) -> MemoryTree<Sha256> {
    MemoryTree::from_leaf_hashes((0..n).map(|i| Sha256::hash_leaf(&leaf_data(i))))
}

pub fn all() -> Vec<Case> {
    let mut out = Vec::new();
    merkle_roots(&mut out);
    inclusion(&mut out);
    consistency(&mut out);
    cbor_cases(&mut out);
    receipts(&mut out);
    cose_cases(&mut out);
    notes(&mut out);
    tlog_proofs(&mut out);
    policy(&mut out);
    crate::vectors_tiles::tiles(&mut out);
    crate::vectors_tiles::key_histories(&mut out);
    crate::vectors_rules::operators(&mut out);
    crate::vectors_export::cases(&mut out);
    crate::vectors_receipt_rules::cases(&mut out);
    crate::vectors_keys::cases(&mut out);
    crate::vectors_audit_files::cases(&mut out);
    out
}

/// Golden decisions: every seed scenario request on both engines, with the
/// canonical bundle embedded so the case replays without the packer.
fn policy(out: &mut Vec<Case>) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies");
    for scenario in cairn_tools::scenarios::SCENARIOS {
        for engine in cairn_api::policy::registry::ENGINES.iter().map(|e| e.name()) {
            let bundle =
                cairn_gate::policy_dir::pack_dir(&root.join(scenario).join(engine)).expect("example bundle packs");
            let policy = cairn_api::policy::Policy::compile(&bundle).expect("example bundle compiles");
            let cases: Vec<Value> = cairn_tools::scenarios::requests(scenario)
                .into_iter()
                .map(|(label, input)| decision_case(&policy, &label, &input))
                .collect();
            out.push((
                format!("policy/{scenario}-{engine}"),
                json!({
                    "desc": format!("seed scenario {scenario} on {engine}: golden decisions"),
                    "bundle_cbor": hex::encode(bundle.as_bytes()),
                    "bundle_hash": bundle.hash().to_hex(),
                    "cases": cases,
                    "expected": "ok",
                }),
            ));
        }
    }
}

/// One golden decision of a `policy` vector: the input and what
/// `policy` decides for it.
pub(crate) fn decision_case(
    policy: &cairn_api::policy::Policy,
    label: &str,
    input: &cairn_api::policy::DecisionInput,
) -> Value {
    let d = policy.decide(input);
    json!({
        "label": label,
        "input": input,
        "expected": {
            "decision": d.decision,
            "determining_rules": d.determining_rules,
            "reason_code": d.reason.code,
        },
    })
}

fn merkle_roots(out: &mut Vec<Case>) {
    for n in 0..=64u64 {
        let leaves: Vec<String> = (0..n).map(|i| hex::encode(leaf_data(i))).collect();
        out.push((
            format!("merkle-root/size-{n:02}"),
            json!({
                "desc": format!("SHA-256 RFC 6962 root of {n} leaves; leaf i is the ASCII bytes 'leaf i'"),
                "hash": "sha256",
                "leaves": leaves,
                "expected": { "root": tree(n).root().to_hex() },
            }),
        ));
    }
}

fn inclusion(out: &mut Vec<Case>) {
    let t = tree(64);
    for (size, index) in [(1u64, 0u64), (13, 5), (13, 12), (64, 0), (64, 63), (37, 32)] {
        let case = format!("inclusion/s{size:02}-i{index:02}");
        let t_root = MemoryTree::<Sha256>::from_leaf_hashes((0..size).map(|i| Sha256::hash_leaf(&leaf_data(i)))).root();
        let proof = inclusion_proof::<Sha256, _>(&t, index, size).unwrap_or_default();
        let leaf = Sha256::hash_leaf(&leaf_data(index));
        let mut push = |name: &str, desc: &str, leaf: Hash, index: u64, size: u64, proof: &[Hash], root: Hash| {
            let expected = outcome(verify_inclusion::<Sha256>(&leaf, index, size, proof, &root.0));
            out.push((
                format!("{case}-{name}"),
                json!({
                    "desc": explain(desc, name, &expected),
                    "hash": "sha256",
                    "leaf_hash": leaf.to_hex(),
                    "index": index,
                    "tree_size": size,
                    "proof": hexs(proof),
                    "root": root.to_hex(),
                    "expected": expected,
                }),
            ));
        };
        let base = format!("inclusion proof for leaf {index} in a tree of {size}");
        push("valid", &base, leaf, index, size, &proof, t_root);
        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i].0[31] ^= 1;
            push(
                &format!("flip-proof{i}"),
                &format!("{base}, bit flipped in proof[{i}]"),
                leaf,
                index,
                size,
                &p,
                t_root,
            );
        }
        if !proof.is_empty() {
            push(
                "truncated",
                &format!("{base}, last hash removed"),
                leaf,
                index,
                size,
                &proof[..proof.len() - 1],
                t_root,
            );
        }
        let mut extra = proof.clone();
        extra.push(t_root);
        push(
            "extra-hash",
            &format!("{base}, a hash appended"),
            leaf,
            index,
            size,
            &extra,
            t_root,
        );
        let mut pre = vec![t_root];
        pre.extend_from_slice(&proof);
        push(
            "preceding-hash",
            &format!("{base}, a hash prepended"),
            leaf,
            index,
            size,
            &pre,
            t_root,
        );
        push(
            "index-plus-1",
            &format!("{base}, index + 1"),
            leaf,
            index + 1,
            size,
            &proof,
            t_root,
        );
        if index > 0 {
            push(
                "index-minus-1",
                &format!("{base}, index - 1"),
                leaf,
                index - 1,
                size,
                &proof,
                t_root,
            );
        }
        push(
            "index-equals-size",
            &format!("{base}, index = size"),
            leaf,
            size,
            size,
            &proof,
            t_root,
        );
        push(
            "size-plus-1",
            &format!("{base}, size + 1"),
            leaf,
            index,
            size + 1,
            &proof,
            t_root,
        );
        push(
            "size-doubled",
            &format!("{base}, size * 2"),
            leaf,
            index,
            size * 2,
            &proof,
            t_root,
        );
        let mut root = t_root;
        root.0[0] ^= 0x80;
        push(
            "wrong-root",
            &format!("{base}, bit flipped in the root"),
            leaf,
            index,
            size,
            &proof,
            root,
        );
        let mut l = leaf;
        l.0[0] ^= 1;
        push(
            "wrong-leaf",
            &format!("{base}, bit flipped in the leaf hash"),
            l,
            index,
            size,
            &proof,
            t_root,
        );
    }
}

fn consistency(out: &mut Vec<Case>) {
    let t = tree(64);
    let root = |n: u64| tree(n).root();
    for (old, new) in [(1u64, 13u64), (5, 13), (8, 64), (13, 64), (63, 64), (64, 64)] {
        let case = format!("consistency/{old:02}-{new:02}");
        let proof = consistency_proof::<Sha256, _>(&t, old, new).unwrap_or_default();
        let mut push = |name: &str, desc: &str, old: u64, new: u64, proof: &[Hash], r1: Hash, r2: Hash| {
            let expected = outcome(verify_consistency::<Sha256>(old, new, proof, &r1.0, &r2.0));
            out.push((
                format!("{case}-{name}"),
                json!({
                    "desc": explain(desc, name, &expected),
                    "hash": "sha256",
                    "size1": old,
                    "size2": new,
                    "root1": r1.to_hex(),
                    "root2": r2.to_hex(),
                    "proof": hexs(proof),
                    "expected": expected,
                }),
            ));
        };
        let base = format!("consistency proof from size {old} to {new}");
        let (r1, r2) = (root(old), root(new));
        push("valid", &base, old, new, &proof, r1, r2);
        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i].0[7] ^= 4;
            push(
                &format!("flip-proof{i}"),
                &format!("{base}, bit flipped in proof[{i}]"),
                old,
                new,
                &p,
                r1,
                r2,
            );
        }
        if !proof.is_empty() {
            push(
                "truncated",
                &format!("{base}, last hash removed"),
                old,
                new,
                &proof[..proof.len() - 1],
                r1,
                r2,
            );
        }
        let mut extra = proof.clone();
        extra.push(r2);
        push(
            "extra-hash",
            &format!("{base}, a hash appended"),
            old,
            new,
            &extra,
            r1,
            r2,
        );
        push(
            "swapped-roots",
            &format!("{base}, roots swapped"),
            old,
            new,
            &proof,
            r2,
            r1,
        );
        push(
            "size1-plus-1",
            &format!("{base}, size1 + 1"),
            old + 1,
            new,
            &proof,
            r1,
            r2,
        );
        push(
            "size2-minus-1",
            &format!("{base}, size2 - 1"),
            old,
            new - 1,
            &proof,
            r1,
            r2,
        );
        push(
            "size1-zero",
            &format!("{base}, size1 = 0 (proves nothing)"),
            0,
            new,
            &proof,
            r1,
            r2,
        );
        let mut wrong = r1;
        wrong.0[3] ^= 1;
        push(
            "wrong-root1",
            &format!("{base}, bit flipped in root1"),
            old,
            new,
            &proof,
            wrong,
            r2,
        );
        let mut wrong = r2;
        wrong.0[3] ^= 1;
        push(
            "wrong-root2",
            &format!("{base}, bit flipped in root2"),
            old,
            new,
            &proof,
            r1,
            wrong,
        );
    }
}

fn cbor_cases(out: &mut Vec<Case>) {
    let mut deep = vec![0x81u8; cbor::MAX_DEPTH + 1];
    deep.push(0);
    let mut at_limit = vec![0x81u8; cbor::MAX_DEPTH];
    at_limit.push(0);
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "valid-map",
            "a canonical map {\"a\": 1, \"bb\": [-1, h'00']}",
            h("a261610162626282204100"),
        ),
        ("int-not-shortest", "24 written with a 1-byte argument for 5", h("1805")),
        (
            "len-not-shortest",
            "a 1-byte string whose length uses 2 bytes",
            h("580161"),
        ),
        ("indefinite-array", "indefinite-length array", h("9f01ff")),
        ("indefinite-text", "indefinite-length text", h("7f6161ff")),
        ("keys-misordered", "map keys not in bytewise order", h("a2616201616102")),
        (
            "keys-length-order",
            "longer key before shorter key",
            h("a262626201616100"),
        ),
        ("duplicate-key", "the same key twice", h("a2616101616102")),
        (
            "float-half",
            "half-precision float 1.0: cairn formats use no floats",
            h("f93c00"),
        ),
        (
            "float32-integral",
            "float32 holding the integer -2193196200394752 (a fuzzer finding)",
            h("fad8f965d6"),
        ),
        ("float64", "double 1.5", h("fb3ff8000000000000")),
        ("trailing-byte", "one byte after the item", h("0100")),
        ("truncated-text", "a 5-byte text with 2 bytes", h("656162")),
        (
            "huge-array-claim",
            "an array claiming 2^32 items",
            h("9b0000000100000000"),
        ),
        ("empty", "no bytes at all", vec![]),
        ("reserved-info", "additional information 28", h("1c")),
        ("stray-break", "a break with nothing to end", h("ff")),
        ("bad-utf8", "text that is not UTF-8", h("61ff")),
        ("not-nfc", "text 'e' + U+0301 (NFD, not NFC)", h("6365cc81")),
        ("too-deep", "arrays nested one deeper than the limit", deep),
        ("depth-at-limit", "arrays nested exactly to the limit", at_limit),
    ];
    for (name, desc, bytes) in cases {
        out.push((
            format!("cbor/{name}"),
            json!({
                "desc": desc,
                "max_depth": cbor::MAX_DEPTH,
                "max_bytes": cbor::MAX_CBOR_BYTES,
                "cbor": hex::encode(&bytes),
                "expected": outcome(cbor::decode(&bytes)),
            }),
        ));
    }
}

/// A valid receipt's vector: payload, signed form, log entry and the
/// hashes a verifier must compute.
fn receipt_case(name: String, desc: String, r: &Receipt, cose: Vec<u8>, at: Timestamp) -> Option<Case> {
    let entry = Entry::new(EntryKind::Receipt, at, cose.clone()).ok()?;
    Some((
        name,
        json!({
            "desc": desc,
            "gate_vkey": examples::gate_key().verifier().to_string(),
            "operator_vkey": examples::operator_key().verifier().to_string(),
            "content_type": RECEIPT_CONTENT_TYPE,
            "json": r.to_json(),
            "payload_cbor": hex::encode(r.to_cbor()),
            "cose_sign1": hex::encode(&cose),
            "integrated_at": at.millis(),
            "entry_cbor": hex::encode(entry.to_cbor()),
            "expected": {
                "valid": true,
                "leaf_hash": entry.leaf_hash().to_hex(),
                "request_hash": r.request_hash().to_hex(),
            },
        }),
    ))
}

fn receipts(out: &mut Vec<Case>) {
    for n in 0..10u64 {
        let r = examples::receipt(n);
        let p = r.parts();
        let desc = format!(
            "receipt {n}: {} {} on {}:{}{}{}",
            p.decision,
            p.request.action.name,
            p.request.resource.kind,
            p.request.resource.id,
            if p.approval.is_some() { ", with approval" } else { "" },
            if p.break_glass.is_some() { ", break-glass" } else { "" },
        );
        let at = ts(EXAMPLE_NOW_MS + n * 1000 + 7);
        out.extend(receipt_case(
            format!("receipt/example-{n}"),
            desc,
            &r,
            examples::signed_receipt(n),
            at,
        ));
    }
    // What AuthZEN allows: fractions, empty identifiers, keys and values.
    let r = examples::authzen_edge_receipt();
    if let Ok(cose) = cose::sign(&r.to_cbor(), RECEIPT_CONTENT_TYPE, &examples::gate_key()) {
        out.extend(receipt_case(
            "receipt/authzen-edges".into(),
            "receipt 1 with numbers with a fraction (decimal fractions, tag 4), an empty subject id, an empty key and an empty value".into(),
            &r,
            cose,
            ts(EXAMPLE_NOW_MS + 10_007),
        ));
    }
    // Invalid receipts: the JSON view of example 1 with one rule broken,
    // encoded to CBOR without validation.
    let base = examples::receipt(1).to_json();
    type Mutation = Box<dyn Fn(&mut Value)>;
    let mutations: Vec<(&str, &str, Mutation)> = vec![
        ("version-2", "v is 2", Box::new(|j| j["v"] = json!(2))),
        (
            "uuid-v4",
            "receipt_id is a UUIDv4",
            Box::new(|j| j["receipt_id"] = json!("9b2f6a4e-8f4e-4c1b-9a3e-1c2d3e4f5a6b")),
        ),
        (
            "unknown-field",
            "an unknown top-level field",
            Box::new(|j| j["extra"] = json!(1)),
        ),
        (
            "missing-decision",
            "decision missing",
            Box::new(|j| {
                j.as_object_mut().map(|o| o.remove("decision"));
            }),
        ),
        (
            "bad-decision",
            "decision ALLOW (not a cairn decision)",
            Box::new(|j| j["decision"] = json!("ALLOW")),
        ),
        (
            "long-subject-id",
            "request.subject.id of 257 bytes",
            Box::new(|j| j["request"]["subject"]["id"] = json!("i".repeat(257))),
        ),
        (
            "gate-with-space",
            "gate has a space",
            Box::new(|j| j["gate"] = json!("gate one")),
        ),
        (
            "null-optional",
            "trace is null rather than absent",
            Box::new(|j| j["trace"] = Value::Null),
        ),
        (
            "idempotency-key-space",
            "idempotency key with a space",
            Box::new(|j| j["idempotency_key"] = json!("a b")),
        ),
        (
            "lineage-exp-before-iat",
            "lineage[0].exp before iat",
            Box::new(|j| j["lineage"][0]["exp"] = json!("2000-01-01T00:00:00.000Z")),
        ),
        (
            "trace-zero",
            "trace_id all zero",
            Box::new(|j| j["trace"]["trace_id"] = json!("0".repeat(32))),
        ),
    ];
    for (name, desc, f) in mutations {
        let mut j = base.clone();
        f(&mut j);
        let Ok(bytes) = cairn_api::view::encode(&j, &VIEW) else {
            continue;
        };
        out.push((
            format!("receipt-invalid/{name}"),
            json!({
                "desc": format!("receipt payload with {desc}"),
                "payload_cbor": hex::encode(&bytes),
                "expected": outcome(Receipt::from_cbor(&bytes)),
            }),
        ));
    }
    // A decimal fraction not in its one canonical form: 0.5 as 50e-2
    // (4([-2, 50])) in place of 4([-1, 5]).
    out.extend(ratio_case(
        &base,
        json!(0.5),
        b"\xc4\x82\x20\x05",
        b"\xc4\x82\x21\x18\x32",
        "decimal-not-shortest",
        "receipt payload with 0.5 in request.context written as the decimal fraction 50e-2, not its shortest form 5e-1",
    ));
    // A float has no place in a receipt: fractions are decimal fractions.
    out.extend(ratio_case(
        &base,
        json!(0),
        b"\x00",
        b"\xf9\x38\x00",
        "float-in-context",
        "receipt payload with the half-precision float 0.5 in request.context (a fraction is a decimal fraction, never a float)",
    ));
}

/// An invalid receipt: the view `base` with `ratio` in its context,
/// encoded, and the encoding `old` of that value replaced by `new`.
fn ratio_case(base: &Value, ratio: Value, old: &[u8], new: &[u8], name: &str, desc: &str) -> Option<Case> {
    let mut j = base.clone();
    j["request"]["context"]["ratio"] = ratio;
    let mut bytes = cairn_api::view::encode(&j, &VIEW).ok()?;
    let key = b"\x65ratio";
    let at = bytes
        .windows(key.len() + old.len())
        .position(|w| w.starts_with(key) && w.ends_with(old))?
        + key.len();
    bytes.splice(at..at + old.len(), new.iter().copied());
    Some((
        format!("receipt-invalid/{name}"),
        json!({
            "desc": desc,
            "payload_cbor": hex::encode(&bytes),
            "expected": outcome(Receipt::from_cbor(&bytes)),
        }),
    ))
}

fn cose_cases(out: &mut Vec<Case>) {
    let gate = examples::gate_key();
    let good = examples::signed_receipt(1);
    let check = |bytes: &[u8], key: &str| -> Value {
        let r = VerifierKey::parse(key)
            .map_err(|e| format!("Key({e:?})"))
            .and_then(|k| {
                Sign1::parse(bytes, RECEIPT_CONTENT_TYPE)
                    .and_then(|m| m.verify(&k))
                    .map_err(|e| format!("{e:?}"))
            });
        match r {
            Ok(()) => json!("ok"),
            Err(e) => json!({ "error": variant_path(&e) }),
        }
    };
    let mut push = |name: &str, desc: &str, bytes: &[u8], key: String| {
        out.push((
            format!("cose/{name}"),
            json!({
                "desc": desc,
                "content_type": RECEIPT_CONTENT_TYPE,
                "cose_sign1": hex::encode(bytes),
                "vkey": key,
                "expected": check(bytes, &key),
            }),
        ));
    };
    push(
        "valid",
        "a receipt signed by the gate key",
        &good,
        gate.verifier().to_string(),
    );
    let other =
        SignerKey::from_seed(gate.name(), KeyType::Ed25519, &[0x99; 32]).unwrap_or_else(|e| unreachable!("{e}"));
    push(
        "wrong-key",
        "checked against another key of the same name",
        &good,
        other.verifier().to_string(),
    );
    // Same kid, other key material: impossible with honest key IDs, so forge
    // by signing with another key under the gate's kid.
    let payload = examples::receipt(1).to_cbor();
    let forged = {
        let mut b = cose::sign(&payload, RECEIPT_CONTENT_TYPE, &other).unwrap_or_default();
        let (old, new) = (other.verifier().key_ref(), gate.verifier().key_ref());
        if let Some(at) = b.windows(old.len()).position(|w| w == old.as_bytes()) {
            b.splice(at..at + old.len(), new.bytes());
        }
        b
    };
    push(
        "signed-by-other-key",
        "the gate's kid, signed by another key",
        &forged,
        gate.verifier().to_string(),
    );
    let mut flipped = good.clone();
    if let Some(at) = flipped.windows(payload.len()).position(|w| w == payload.as_slice()) {
        flipped[at + payload.len() / 2] ^= 0x01;
    }
    push(
        "flipped-payload-bit",
        "one bit of the payload flipped",
        &flipped,
        gate.verifier().to_string(),
    );
    let mut sig_flip = good.clone();
    let last = sig_flip.len() - 1;
    sig_flip[last] ^= 1;
    push(
        "flipped-signature-bit",
        "one bit of the signature flipped",
        &sig_flip,
        gate.verifier().to_string(),
    );
    // alg ES256 (-7): protected header byte 0x27 for -8 becomes 0x26.
    let mut es = good.clone();
    if let Some(at) = es.windows(2).position(|w| w == [0x01, 0x27]) {
        es[at + 1] = 0x26;
    }
    push(
        "wrong-alg",
        "alg -7 (ES256) in the protected header",
        &es,
        gate.verifier().to_string(),
    );
    let mut trailing = good.clone();
    trailing.push(0x00);
    push(
        "trailing-byte",
        "a byte after the message",
        &trailing,
        gate.verifier().to_string(),
    );
    push(
        "untagged",
        "COSE_Sign1 without tag 18",
        &good[1..],
        gate.verifier().to_string(),
    );
    // The identity point is a small-order (weak) key.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let id = cairn_api::keys::key_id(gate.name(), KeyType::Ed25519, &identity);
    let mut raw = vec![1u8];
    raw.extend_from_slice(&identity);
    use base64::Engine as _;
    let weak = format!(
        "{}+{id:08x}+{}",
        gate.name(),
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    push("weak-key", "a small-order public key, refused when loaded", &good, weak);
    crate::vectors_ed25519::cases(out, &check);
}

fn notes(out: &mut Vec<Case>) {
    let log = examples::log_key();
    let authority = examples::authority_key();
    let witness = examples::witness_key();
    let root = Sha256::hash_leaf(b"example");
    let cp = Checkpoint::new(log.name(), 1234, root);
    let signed = cp.sign(&log).unwrap_or_else(|e| unreachable!("{e}"));
    let text = signed.to_text();
    let check = |note: &str, keys: &[&VerifierKey]| -> Value {
        let keys: Vec<VerifierKey> = keys.iter().map(|k| (*k).clone()).collect();
        match SignedNote::parse(note.as_bytes()).and_then(|n| n.verify(&keys).map(|v| (n, v))) {
            Ok((n, v)) => json!({
                "text": n.text(),
                "verified_by": v.iter().map(|s| s.key.to_string()).collect::<Vec<_>>(),
            }),
            Err(e) => json!({ "error": variant_path(&format!("{e:?}")) }),
        }
    };
    let mut push = |name: &str, desc: &str, note: &str, keys: &[&VerifierKey]| {
        out.push((
            format!("note/{name}"),
            json!({
                "desc": desc,
                "note": note,
                "vkeys": keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
                "expected": check(note, keys),
            }),
        ));
    };
    let (lv, av, wv) = (log.verifier(), authority.verifier(), witness.verifier());
    push("valid", "a checkpoint note signed by the log key", &text, &[&lv]);
    push(
        "tampered-text",
        "the size line changed after signing",
        &text.replacen("1234", "1235", 1),
        &[&lv],
    );
    push(
        "unknown-key-only",
        "checked against a key that did not sign it",
        &text,
        &[&av],
    );
    let two = SignedNote::sign(signed.text(), &[&log, &authority]).unwrap_or_else(|e| unreachable!("{e}"));
    push(
        "extra-unknown-signature",
        "signed by the log and by a key the verifier does not know: the unknown one is ignored",
        &two.to_text(),
        &[&lv],
    );
    let dup = format!("{text}{}", text.lines().last().unwrap_or_default());
    push(
        "duplicate-signature",
        "the log key's signature line twice",
        &format!("{dup}\n"),
        &[&lv],
    );
    push(
        "no-signature-block",
        "text without a blank line and signatures",
        "just text\n",
        &[&lv],
    );
    push(
        "control-character",
        "a carriage return in the text",
        &text.replacen('\n', "\r\n", 1),
        &[&lv],
    );
    let mut cosigned = signed.clone();
    if cosigned.add_cosignature(&witness, 1_795_266_060).is_ok() {
        push(
            "cosigned",
            "a checkpoint with a tlog-cosignature (type 0x04) from a witness",
            &cosigned.to_text(),
            &[&lv, &wv],
        );
    }
    // Checkpoint bodies.
    let checkpoint = |name: &str, desc: &str, note: &str| {
        let r = Checkpoint::verify(note.as_bytes(), &lv, std::slice::from_ref(&wv));
        let expected = match r {
            Ok((c, _, cosigs)) => json!({
                "origin": c.origin,
                "size": c.size,
                "root": c.root.to_hex(),
                "cosignature_timestamps": cosigs.iter().filter_map(|s| s.timestamp).collect::<Vec<_>>(),
            }),
            Err(e) => json!({ "error": variant_path(&format!("{e:?}")) }),
        };
        (
            format!("checkpoint/{name}"),
            json!({ "desc": desc, "note": note, "log_vkey": lv.to_string(), "witness_vkeys": [wv.to_string()], "expected": expected }),
        )
    };
    out.push(checkpoint("valid", "a cairn checkpoint", &text));
    out.push(checkpoint(
        "cosigned",
        "a cairn checkpoint with a witness cosignature",
        &cosigned.to_text(),
    ));
    let other_origin = SignedNote::sign("other.example/log\n5\n".to_string().as_str(), &[&log])
        .map(|n| n.to_text())
        .unwrap_or_default();
    out.push(checkpoint(
        "no-root-line",
        "signed by the log key but missing the root line",
        &other_origin,
    ));
    let leading = SignedNote::sign(&format!("{}\n01234\n{}\n", log.name(), root.to_base64()), &[&log])
        .map(|n| n.to_text())
        .unwrap_or_default();
    out.push(checkpoint(
        "size-leading-zero",
        "size with a leading zero, signed",
        &leading,
    ));
    let mut bad_cosig = cosigned.to_text();
    if let Some(line) = bad_cosig.lines().last().map(str::to_owned) {
        let mut chars: Vec<char> = line.chars().collect();
        let i = chars.len() - 6;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        bad_cosig = bad_cosig.replacen(&line, &chars.into_iter().collect::<String>(), 1);
    }
    out.push(checkpoint(
        "bad-cosignature",
        "a known witness's cosignature that does not verify",
        &bad_cosig,
    ));
}

fn tlog_proofs(out: &mut Vec<Case>) {
    let log = examples::log_key();
    let n = 11u64;
    let entries: Vec<Entry> = (0..n)
        .filter_map(|i| Entry::new(EntryKind::Receipt, ts(EXAMPLE_NOW_MS + i), examples::signed_receipt(i)).ok())
        .collect();
    let t = MemoryTree::<Sha256>::from_leaf_hashes(entries.iter().map(Entry::leaf_hash));
    let Ok(note) = Checkpoint::new(log.name(), n, t.root()).sign(&log) else {
        return;
    };
    let lv = log.verifier();
    for (i, e) in entries.iter().enumerate() {
        let i = i as u64;
        if i != 0 && i != 6 && i != 10 {
            continue;
        }
        let proof = TlogProof {
            extra: Some(entry_header(e.kind(), e.integrated_at())),
            index: i,
            hashes: inclusion_proof::<Sha256, _>(&t, i, n).unwrap_or_default(),
            checkpoint: note.clone(),
        };
        let mut push = |name: &str, desc: &str, text: &str, body: &[u8]| {
            let r = TlogProof::parse(text.as_bytes()).and_then(|p| p.verify_body(body, &lv, &[]));
            out.push((
                format!("tlog-proof/entry{i:02}-{name}"),
                json!({
                    "desc": desc,
                    "log_vkey": lv.to_string(),
                    "cose_sign1": hex::encode(body),
                    "tlog_proof": text,
                    "expected": match r {
                        Ok((entry, cp, _)) => json!({"leaf_hash": entry.leaf_hash().to_hex(), "tree_size": cp.size}),
                        Err(e) => json!({ "error": variant_path(&format!("{e:?}")) }),
                    },
                }),
            ));
        };
        let text = proof.to_text();
        push(
            "valid",
            &format!("proof that receipt {i} is in a log of {n}"),
            &text,
            e.body(),
        );
        let other = &entries[((i + 1) % n) as usize];
        push(
            "other-body",
            "the proof checked against another receipt",
            &text,
            other.body(),
        );
        let wrong_index = proof.clone();
        let wrong_index = TlogProof {
            index: (i + 1) % n,
            ..wrong_index
        };
        push(
            "wrong-index",
            "the index line changed",
            &wrong_index.to_text(),
            e.body(),
        );
        let no_extra = TlogProof {
            extra: None,
            ..proof.clone()
        };
        push(
            "no-extra",
            "no extra line, so the entry cannot be rebuilt",
            &no_extra.to_text(),
            e.body(),
        );
        push(
            "bad-header",
            "wrong first line",
            &text.replacen("tlog-proof@v1", "tlog-proof@v2", 1),
            e.body(),
        );
    }
}
