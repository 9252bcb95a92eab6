//! `cairn-tools demo`: the seed stories end to end, and what it writes
//! verifies independently.

use std::process::Command;

use cairn_api::keys::VerifierKey;
use cairn_api::proof::TlogProof;

#[test]
fn the_demo_tells_every_story_and_its_output_verifies() {
    let dir = std::env::temp_dir().join(format!("cairn-gate-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_cairn-tools"))
            .args(["demo", "--approval-ms", "300", "--out"])
            .arg(&dir)
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // 1: production blocked, with the friendly denial; 2: staging permitted.
    assert!(
        stdout.contains("delete_pod on eks:production:web -> DENY (BLOCKED)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the agent is told: Action blocked by policy"),
        "{stdout}"
    );
    assert!(
        stdout.contains("delete_pod on eks:staging:web -> PERMIT (ALLOWED)"),
        "{stdout}"
    );
    // 3: approval asked, nobody answered, denied.
    assert!(stdout.contains("approval asked: \"Approve DROP"), "{stdout}");
    assert!(stdout.contains("no approval arrived in time"), "{stdout}");
    // 4: the lost acknowledgement fails closed; the retry gets the first entry.
    assert!(stdout.contains("acknowledgement was lost"), "{stdout}");
    assert!(
        stdout.contains("logged durably at index 8 (the entry the ledger already had)"),
        "{stdout}"
    );
    // 5: break-glass, recorded as such.
    assert!(stdout.contains("Allowed by a break-glass override"), "{stdout}");
    assert!(stdout.contains("the policy said DENY"), "{stdout}");
    // 6: the ledger stops; fail closed; the spool is delivered when it is back.
    assert!(
        stdout.contains("2 spooled SILENCE receipt(s) delivered, 0 waiting"),
        "{stdout}"
    );
    // The auditor's view.
    assert!(stdout.contains("7/7 receipts valid"), "{stdout}");
    assert!(stdout.contains("witnessed by 2 of 2 (w1, w2)"), "{stdout}");
    assert!(
        stdout.contains("(5 of 5 upgraded: cairn-gate proofs refresh)"),
        "{stdout}"
    );
    assert!(stdout.contains("4 receipts replayed, 0 replay mismatches"), "{stdout}");
    assert!(
        stdout.contains("1 break-glass overrides, 2 fail-closed SILENCE receipts"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("Result: VALID").count(), 2, "{stdout}");
    // The permitted receipt of story 2 and its proof verify with public keys.
    let log = VerifierKey::parse(std::fs::read_to_string(dir.join("keys/log.vkey")).unwrap().trim()).unwrap();
    let body = std::fs::read(dir.join("receipt-0006.cose")).unwrap();
    let proof = TlogProof::parse(&std::fs::read(dir.join("receipt-0006.tlog-proof")).unwrap()).unwrap();
    let (_, cp, _) = proof.verify_body(&body, &log, &[]).unwrap();
    assert_eq!(proof.index, 6);
    assert!(cp.size >= 7);
    // Running it again starts a fresh log in the same directory.
    let again = run();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(String::from_utf8_lossy(&again.stdout).contains("logged durably at index 5"));
    let usage = Command::new(env!("CARGO_BIN_EXE_cairn-tools"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(4));
    std::fs::remove_dir_all(&dir).unwrap();
}
