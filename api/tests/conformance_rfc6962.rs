//! The published RFC 6962 / RFC 9162 proof cases of the transparency-dev
//! Merkle library, run against the production verifier (cairn's tree is
//! RFC 6962 SHA-256): every case must give its expected outcome.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cairn_api::merkle::{Hash, Sha256, verify_consistency, verify_inclusion};
use serde_json::Value;

fn bytes(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().unwrap()).unwrap()
}

/// The proof's hashes; a hash that is not 32 bytes makes the proof malformed,
/// which is a rejection.
fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(vec![]),
        Value::Array(items) => items.iter().map(|h| Hash::from_slice(&bytes(h)).ok()).collect(),
        _ => panic!("proof is neither null nor an array"),
    }
}

fn run(kind: &str, check: impl Fn(&Value) -> bool) {
    let cases = common::json_files(&common::conformance_dir().join("rfc6962-sha256").join(kind));
    assert!(cases.len() > 50, "too few {kind} cases: {}", cases.len());
    let mut failures = Vec::new();
    for (path, case) in &cases {
        let want_err = case["wantErr"].as_bool().unwrap();
        let accepted = check(case);
        if accepted == want_err {
            failures.push(format!("{}: accepted={accepted} wantErr={want_err}", path.display()));
        }
    }
    println!(
        "rfc6962-sha256/{kind}: {}/{} cases passed",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn inclusion_cases() {
    run("inclusion", |c| {
        let (Ok(leaf), Some(proof)) = (Hash::from_slice(&bytes(&c["leafHash"])), proof(&c["proof"])) else {
            return false;
        };
        let index = c["leafIdx"].as_u64().unwrap();
        let size = c["treeSize"].as_u64().unwrap();
        verify_inclusion::<Sha256>(&leaf, index, size, &proof, &bytes(&c["root"])).is_ok()
    });
}

#[test]
fn consistency_cases() {
    run("consistency", |c| {
        let Some(proof) = proof(&c["proof"]) else { return false };
        verify_consistency::<Sha256>(
            c["size1"].as_u64().unwrap(),
            c["size2"].as_u64().unwrap(),
            &proof,
            &bytes(&c["root1"]),
            &bytes(&c["root2"]),
        )
        .is_ok()
    });
}
