//! The published schemas agree with the implementation: every example
//! receipt, entry and key statement validates against the CDDL and the JSON
//! Schema, and invalid ones are refused.

use std::path::PathBuf;

use cairn_api::entry::{Entry, EntryKind, KeyAction, KeyRole, KeyStatement};
use cairn_api::examples;
use cairn_api::timestamp::Timestamp;

fn schema(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Validate CBOR against a CDDL document whose first rule is `root`.
fn cddl_ok(doc: &str, root: &str, cbor: &[u8]) -> Result<(), String> {
    let doc = format!("root = {root}\n{doc}");
    cddl::validate_cbor_from_slice(&doc, cbor, None).map_err(|e| e.to_string())
}

#[test]
fn receipts_match_the_cddl() {
    let doc = schema("receipt.cddl");
    for n in 0..40 {
        let payload = examples::receipt(n).to_cbor();
        cddl_ok(&doc, "receipt", &payload).unwrap_or_else(|e| panic!("receipt {n}: {e}"));
    }
    let edges = examples::authzen_edge_receipt().to_cbor();
    cddl_ok(&doc, "receipt", &edges).unwrap_or_else(|e| panic!("AuthZEN edges: {e}"));
    // The invalid-receipt vectors that are structurally wrong fail the CDDL too.
    let vectors = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testvectors/receipt-invalid");
    for name in [
        "version-2",
        "unknown-field",
        "missing-decision",
        "bad-decision",
        "uuid-v4",
        "long-subject-id",
        "float-in-context",
    ] {
        let case: serde_json::Value =
            serde_json::from_slice(&std::fs::read(vectors.join(format!("{name}.json"))).unwrap()).unwrap();
        let bytes = hex::decode(case["payload_cbor"].as_str().unwrap()).unwrap();
        assert!(cddl_ok(&doc, "receipt", &bytes).is_err(), "{name} passed the CDDL");
    }
}

#[test]
fn entries_and_key_statements_match_the_cddl() {
    let doc = schema("entry.cddl");
    let at = Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap();
    let e = Entry::new(EntryKind::Receipt, at, examples::signed_receipt(4)).unwrap();
    cddl_ok(&doc, "entry", &e.to_cbor()).unwrap();
    cddl_ok(&doc, "cose-sign1", e.body()).unwrap();
    let statement = KeyStatement {
        action: KeyAction::Revoke,
        role: KeyRole::Operator,
        key: examples::operator_key().verifier(),
        issued_at: at,
        reason: Some("rotated".into()),
    };
    cddl_ok(&doc, "key-statement", &statement.to_cbor()).unwrap();
    let body = statement.sign(&examples::authority_key()).unwrap();
    let k = Entry::new(EntryKind::Key, at, body).unwrap();
    cddl_ok(&doc, "entry", &k.to_cbor()).unwrap();
    cddl_ok(&doc, "entry-header", &cairn_api::proof::entry_header(k.kind(), at)).unwrap();
    assert!(
        cddl_ok(
            &doc,
            "entry",
            &cairn_api::cbor::encode(&cairn_api::cbor::CBOR::from(vec![1u64]))
        )
        .is_err()
    );
}

#[test]
fn receipt_json_views_match_the_json_schema() {
    let s: serde_json::Value = serde_json::from_str(&schema("receipt.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&s).unwrap();
    for n in 0..40 {
        let json = examples::receipt(n).to_json();
        let errors: Vec<String> = validator.iter_errors(&json).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "receipt {n}: {errors:?}");
    }
    let mut bad = examples::receipt(1).to_json();
    bad["decision"] = "ALLOW".into();
    assert!(!validator.is_valid(&bad));
    let edges = examples::authzen_edge_receipt().to_json();
    let errors: Vec<String> = validator.iter_errors(&edges).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "AuthZEN edges: {errors:?}");
    let mut bad = examples::receipt(1).to_json();
    bad["request"]["subject"]["id"] = "i".repeat(257).into();
    assert!(!validator.is_valid(&bad));
    let mut bad = examples::receipt(1).to_json();
    bad["policy"]["bundle_hash"] = "ABC".into();
    assert!(!validator.is_valid(&bad));
}
