//! The fast decoder against the reference decoder: the same verdict, the
//! same receipt, the same error, on valid payloads of every shape, on
//! payloads broken one rule at a time, and on every one-bit mutation of
//! some payloads. And the fast path does read every valid payload (it is
//! not quietly handing them all to the reference decoder).

use serde_json::{Value, json};

use super::*;
use crate::examples;

/// Both decoders agree on `bytes`; returns whether they accepted.
fn agree(bytes: &[u8], what: &str) -> bool {
    let fast = Receipt::from_cbor(bytes);
    let reference = Receipt::from_cbor_reference(bytes);
    assert_eq!(fast, reference, "{what}");
    if fast.is_ok() {
        assert!(
            decode::parts(bytes).is_ok(),
            "{what}: valid, but the fast path missed it"
        );
    }
    fast.is_ok()
}

/// The canonical CBOR of a (possibly invalid) JSON view.
fn encoded(json: &Value) -> Vec<u8> {
    crate::view::encode(json, &VIEW).unwrap()
}

/// Valid receipts beyond the examples: optional blocks absent, every kind of
/// free-form value, extra non-deterministic inputs, every enum value.
fn shapes() -> Vec<Receipt> {
    let mut out: Vec<Receipt> = (0..40).map(examples::receipt).collect();
    let mut p = examples::receipt_parts(1);
    p.initiator = None;
    p.trace = None;
    p.request.context = None;
    p.request.subject.properties = None;
    p.request.action.properties = Some(serde_json::Map::new());
    p.lineage.clear();
    out.push(Receipt::new(p).unwrap());
    let mut p = examples::receipt_parts(5);
    p.request.resource.properties = json!({
        "neg": -9_223_372_036_854_775_808i64, "big": u64::MAX, "none": null, "yes": true, "no": false,
        "list": [1, "two", [3, {"four": []}], {}], "café": "thé", "long key over twenty-three bytes": 0
    })
    .as_object()
    .cloned();
    p.nd_inputs.other.insert("feature_flags".into(), json!({"beta": true}));
    p.nd_inputs.other.insert("a".into(), json!(-1));
    p.nd_inputs
        .other
        .insert("zzzzzzzzzzzzzzzzzzzzzzzzzzzz".into(), json!("after clock"));
    p.lineage[0].client_id = None;
    p.lineage[0].iat = None;
    p.lineage[1].sub_profile = SubProfile::Workload;
    out.push(Receipt::new(p).unwrap());
    let mut p = examples::receipt_parts(1);
    let a = examples::receipt_parts(0).approval.unwrap();
    p.approval = Some(Approval {
        required: false,
        outcome: Some(ApprovalOutcome::TimedOut),
        responded_at: None,
        approver: None,
        presented: None,
        ..a
    });
    out.push(Receipt::new(p).unwrap());
    out
}

#[test]
fn valid_payloads_of_every_shape_take_the_fast_path() {
    for (i, r) in shapes().iter().enumerate() {
        assert!(agree(r.as_cbor(), &format!("shape {i}")), "shape {i} refused");
        assert_eq!(&Receipt::from_cbor(r.as_cbor()).unwrap(), r);
    }
}

#[test]
fn the_test_vectors_get_the_same_verdicts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testvectors");
    let mut seen = 0;
    for sub in ["receipt", "receipt-invalid"] {
        for f in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = f.unwrap().path();
            let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let Some(hexed) = v["payload_cbor"].as_str() else {
                continue;
            };
            let valid = agree(&hex::decode(hexed).unwrap(), &path.display().to_string());
            assert_eq!(valid, sub == "receipt", "{}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 40, "only {seen} vectors");
}

#[test]
fn payloads_broken_one_rule_at_a_time_get_the_same_errors() {
    let base = examples::receipt(4).to_json();
    type Edit = Box<dyn Fn(&mut Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        ("null optional block", Box::new(|j| j["trace"] = Value::Null)),
        (
            "null optional field",
            Box::new(|j| j["lineage"][0]["jti"] = Value::Null),
        ),
        ("null required field", Box::new(|j| j["gate"] = Value::Null)),
        ("unknown top-level key", Box::new(|j| j["zzz"] = json!(1))),
        (
            "unknown nested key",
            Box::new(|j| j["policy"]["engine"]["x"] = json!("y")),
        ),
        (
            "missing required",
            Box::new(|j| drop(j.as_object_mut().unwrap().remove("errors"))),
        ),
        (
            "missing nested",
            Box::new(|j| drop(j["request"]["subject"].as_object_mut().unwrap().remove("id"))),
        ),
        (
            "missing clock",
            Box::new(|j| drop(j["nd_inputs"].as_object_mut().unwrap().remove("clock"))),
        ),
        ("number for text", Box::new(|j| j["receipt_id"] = json!(7))),
        ("text for number", Box::new(|j| j["v"] = json!("1"))),
        ("negative version", Box::new(|j| j["v"] = json!(-1))),
        ("version 2", Box::new(|j| j["v"] = json!(2))),
        ("unknown decision", Box::new(|j| j["decision"] = json!("MAYBE"))),
        ("unknown mode", Box::new(|j| j["mode"] = json!("enforce"))),
        (
            "unknown outcome",
            Box::new(|j| j["approval"]["outcome"] = json!("LATER")),
        ),
        (
            "unknown profile",
            Box::new(|j| j["lineage"][1]["sub_profile"] = json!("robot")),
        ),
        ("text for bool", Box::new(|j| j["approval"]["required"] = json!("true"))),
        ("array for object", Box::new(|j| j["request"]["context"] = json!([1]))),
        ("object for array", Box::new(|j| j["lineage"] = json!({}))),
        ("short hash", Box::new(|j| j["policy"]["bundle_hash"] = json!("00ff"))),
        (
            "rule broken after decoding",
            Box::new(|j| j["idempotency_key"] = json!("has space")),
        ),
        (
            "too deep",
            Box::new(|j| j["request"]["context"] = json!({"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}})),
        ),
        (
            "empty map key in typed struct",
            Box::new(|j| j["reason"][""] = json!("x")),
        ),
    ];
    for (what, edit) in edits {
        let mut j = base.clone();
        edit(&mut j);
        match crate::view::encode(&j, &VIEW) {
            Ok(bytes) => assert!(!agree(&bytes, what), "{what} was accepted"),
            Err(e) => panic!("{what}: the edit does not encode: {e}"),
        }
    }
    // Nested past the CBOR depth limit (the JSON view cannot encode it): a
    // marker string replaced by 40 nested arrays.
    let mut j = base.clone();
    j["request"]["context"] = json!({ "deep": "MARKER" });
    let bytes = encoded(&j);
    let marker = b"\x66MARKER";
    let at = bytes.windows(marker.len()).position(|w| w == marker).unwrap();
    let deep = [&bytes[..at], &[0x81; 40], &[0x01], &bytes[at + marker.len()..]].concat();
    assert!(!agree(&deep, "too deep for CBOR"));
    // A time out of range and a byte string off the typed paths, written by
    // hand (the JSON view cannot say them either).
    let mut m = crate::cbor::decode(&encoded(&base)).unwrap();
    if let crate::cbor::CBORCase::Map(map) = m.as_case() {
        let mut map = map.clone();
        map.insert("decided_at", crate::timestamp::MAX_TIMESTAMP_MS + 1);
        m = crate::cbor::CBOR::from(map);
    }
    assert!(!agree(&crate::cbor::encode(&m), "time out of range"));
    if let crate::cbor::CBORCase::Map(map) = m.as_case() {
        let mut map = map.clone();
        map.insert("decided_at", 1u64);
        map.insert("gate", crate::cbor::CBOR::to_byte_string([1u8, 2]));
        m = crate::cbor::CBOR::from(map);
    }
    assert!(!agree(&crate::cbor::encode(&m), "bytes for text"));
}

#[test]
fn every_one_bit_mutation_gets_the_same_verdict() {
    let mut accepted = 0;
    for n in [4u64, 9] {
        let bytes = examples::receipt(n).to_cbor();
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            accepted += usize::from(agree(&b, &format!("receipt {n}, bit {bit}")));
        }
        for cut in 0..bytes.len() {
            assert!(!agree(&bytes[..cut], &format!("receipt {n} cut at {cut}")));
        }
    }
    // Some flips land in text and stay valid: both paths must have read them.
    assert!(accepted > 100, "{accepted}");
}
