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
    // Two key entries, then five receipts at indices 2..=6.
    for index in 2..=6 {
        let body = std::fs::read(dir.join(format!("receipt-{index:04}.cose"))).unwrap();
        let proof =
            TlogProof::parse(&std::fs::read(dir.join(format!("receipt-{index:04}.tlog-proof"))).unwrap()).unwrap();
        let (_, cp, _) = proof.verify_body(&body, &log, &[]).unwrap();
        assert_eq!((proof.index, cp.size), (index, 7));
    }
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
