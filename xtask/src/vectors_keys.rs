//! Key statement payloads (spec section 9.2): decoded, or refused.

use cairn_api::cbor::{self, CBOR, Map};
use cairn_api::entry::{KeyAction, KeyStatement};
use cairn_api::examples;
use serde_json::{Value, json};

use crate::vectors::Case;

/// The outcome of decoding a payload.
pub fn decode(bytes: &[u8]) -> Value {
    match KeyStatement::from_cbor(bytes) {
        Ok(s) => json!({
            "action": if s.action == KeyAction::Register { "register" } else { "revoke" },
            "role": s.role.as_str(),
            "key": s.key.to_string(),
            "issued_at": s.issued_at.millis(),
            "reason": s.reason,
        }),
        Err(e) => json!({ "error": examples::variant_path(&format!("{e:?}")) }),
    }
}

/// A statement's fields, in the order given.
type Fields = Vec<(&'static str, CBOR)>;

/// The cases.
pub fn cases(out: &mut Vec<Case>) {
    let gate = examples::gate_key().verifier().to_string();
    let witness = examples::witness_key().verifier().to_string();
    let base = |f: &dyn Fn(&mut Fields)| {
        let mut fields: Fields = vec![
            ("v", CBOR::from(1u64)),
            ("action", CBOR::from("register")),
            ("role", CBOR::from("gate")),
            ("key", CBOR::from(gate.as_str())),
            ("issued_at", CBOR::from(examples::EXAMPLE_NOW_MS)),
        ];
        f(&mut fields);
        let mut m = Map::new();
        for (k, v) in fields {
            m.insert(k, v);
        }
        cbor::encode(&CBOR::from(m))
    };
    let set = |k: &'static str, v: CBOR| {
        move |f: &mut Fields| {
            f.retain(|(n, _)| *n != k);
            f.push((k, v.clone()));
        }
    };
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("register", "a gate key registration", base(&|_| {})),
        (
            "revoke-with-reason",
            "an operator key revocation with a reason",
            base(&|f| {
                set("action", CBOR::from("revoke"))(f);
                set("role", CBOR::from("operator"))(f);
                set("reason", CBOR::from("laptop lost"))(f);
            }),
        ),
        ("version-2", "v is 2", base(&set("v", CBOR::from(2u64)))),
        (
            "bad-action",
            "action suspend",
            base(&set("action", CBOR::from("suspend"))),
        ),
        ("bad-role", "role auditor", base(&set("role", CBOR::from("auditor")))),
        (
            "witness-key",
            "a cosignature (type 0x04) key",
            base(&set("key", CBOR::from(witness.as_str()))),
        ),
        ("empty-reason", "an empty reason", base(&set("reason", CBOR::from("")))),
        (
            "long-reason",
            "a reason of 4,097 bytes",
            base(&set("reason", CBOR::from("r".repeat(4097).as_str()))),
        ),
        ("unknown-field", "an unknown field", base(&set("note", CBOR::from("x")))),
        (
            "missing-issued-at",
            "no issued_at",
            base(&|f| f.retain(|(n, _)| *n != "issued_at")),
        ),
        (
            "issued-at-text",
            "issued_at as text",
            base(&set("issued_at", CBOR::from("2026-11-21"))),
        ),
    ];
    for (name, desc, bytes) in cases {
        out.push((
            format!("key-statement/{name}"),
            json!({ "desc": desc, "payload_cbor": hex::encode(&bytes), "expected": decode(&bytes) }),
        ));
    }
}
