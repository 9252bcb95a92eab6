//! `cairn-gate demo` writes receipts and proofs that verify independently.

use std::process::Command;

use cairn_api::keys::VerifierKey;
use cairn_api::proof::TlogProof;

#[test]
fn demo_writes_verifiable_receipts_and_refuses_bad_counts() {
    let dir = std::env::temp_dir().join(format!("cairn-gate-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let status = Command::new(env!("CARGO_BIN_EXE_cairn-gate"))
        .args(["demo", "--count", "5", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let log = VerifierKey::parse(std::fs::read_to_string(dir.join("keys/log.vkey")).unwrap().trim()).unwrap();
    // Two key registrations and the policy bundle, then five receipts at
    // indices 3..=7, each acknowledged under the checkpoint of its batch.
    for index in 3..=7 {
        let body = std::fs::read(dir.join(format!("receipt-{index:04}.cose"))).unwrap();
        let proof =
            TlogProof::parse(&std::fs::read(dir.join(format!("receipt-{index:04}.tlog-proof"))).unwrap()).unwrap();
        let (_, cp, _) = proof.verify_body(&body, &log, &[]).unwrap();
        assert_eq!((proof.index, cp.size), (index, index + 1));
    }
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(stdout.contains("5/5 receipts durably logged"), "{stdout}");
    assert!(stdout.contains("5/5 replay identically"), "{stdout}");
    // Running it again starts a fresh log in the same directory.
    let again = Command::new(env!("CARGO_BIN_EXE_cairn-gate"))
        .args(["demo", "--count", "2", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(!dir.join("receipt-0005.cose").exists());
    let bad = Command::new(env!("CARGO_BIN_EXE_cairn-gate"))
        .args(["demo", "--count", "0", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--count must be"));
    let usage = Command::new(env!("CARGO_BIN_EXE_cairn-gate"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(4));
    std::fs::remove_dir_all(&dir).unwrap();
}
