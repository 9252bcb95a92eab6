//! The shared signed-note cases: the C2SP worked example, the Go
//! `golang.org/x/mod/sumdb/note` example (also re-signed byte for byte from
//! its private key), and two that must be rejected.

mod common;

use cairn_api::keys::{SignerKey, VerifierKey};
use cairn_api::note::SignedNote;

#[test]
fn signed_note_cases() {
    let path = common::conformance_dir().join("signed-note/cases.json");
    let cases: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(cases.len(), 4);
    let mut passed = 0;
    let mut resigned = 0;
    for case in &cases {
        let desc = case["desc"].as_str().unwrap();
        let vkey = VerifierKey::parse(case["vkey"].as_str().unwrap()).unwrap();
        let note = case["note"].as_str().unwrap();
        let result = SignedNote::parse(note.as_bytes()).and_then(|n| n.verify(std::slice::from_ref(&vkey)).map(|_| n));
        if case["wantErr"].as_bool().unwrap() {
            assert!(result.is_err(), "{desc}: accepted");
        } else {
            let n = result.unwrap_or_else(|e| panic!("{desc}: {e}"));
            assert_eq!(n.text(), case["text"].as_str().unwrap(), "{desc}");
            assert_eq!(n.to_text(), note, "{desc}: re-encoding differs");
        }
        if let Some(skey) = case["skey"].as_str() {
            let signer = SignerKey::parse(skey).unwrap();
            assert_eq!(signer.verifier(), vkey, "{desc}: skey and vkey differ");
            let signed = SignedNote::sign(case["text"].as_str().unwrap(), &[&signer]).unwrap();
            assert_eq!(signed.to_text(), note, "{desc}: signing did not reproduce the note");
            resigned += 1;
        }
        passed += 1;
    }
    assert_eq!(resigned, 1);
    println!(
        "signed-note: {passed}/{} cases passed, {resigned} note re-signed byte for byte",
        cases.len()
    );
}
