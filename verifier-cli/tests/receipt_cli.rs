//! `cairn-verify receipt` against real files: exit codes and messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_api::entry::{Entry, EntryKind};
use cairn_api::examples;
use cairn_api::merkle::{MemoryTree, Sha256, inclusion_proof};
use cairn_api::note::Checkpoint;
use cairn_api::proof::{TlogProof, entry_header};
use cairn_api::timestamp::Timestamp;

struct Fixture {
    dir: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Four logged receipts (9 is a break-glass), their proofs and the keys.
fn fixture(name: &str) -> Fixture {
    let dir = std::env::temp_dir().join(format!("cairn-verify-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ns = [0u64, 1, 2, 9];
    let entries: Vec<Entry> = ns
        .iter()
        .map(|&n| {
            let at = Timestamp::from_millis(examples::EXAMPLE_NOW_MS + n).unwrap();
            Entry::new(EntryKind::Receipt, at, examples::signed_receipt(n)).unwrap()
        })
        .collect();
    let tree = MemoryTree::<Sha256>::from_leaf_hashes(entries.iter().map(Entry::leaf_hash));
    let log = examples::log_key();
    let note = Checkpoint::new(log.name(), tree.size(), tree.root())
        .sign(&log)
        .unwrap();
    for (i, e) in entries.iter().enumerate() {
        let proof = TlogProof {
            extra: Some(entry_header(e.kind(), e.integrated_at())),
            index: i as u64,
            hashes: inclusion_proof::<Sha256, _>(&tree, i as u64, tree.size()).unwrap(),
            checkpoint: note.clone(),
        };
        std::fs::write(dir.join(format!("r{i}.cose")), e.body()).unwrap();
        std::fs::write(dir.join(format!("r{i}.tlog-proof")), proof.to_text()).unwrap();
    }
    for (k, key) in [
        ("log", log),
        ("gate", examples::gate_key()),
        ("operator", examples::operator_key()),
    ] {
        std::fs::write(dir.join(format!("{k}.vkey")), key.verifier().to_string()).unwrap();
    }
    Fixture { dir }
}

fn verify(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn-verify"))
        .current_dir(dir)
        .arg("receipt")
        .args(args)
        .output()
        .unwrap()
}

const FULL: &[&str] = &[
    "--log-key",
    "@log.vkey",
    "--gate-key",
    "@gate.vkey",
    "--operator-key",
    "@operator.vkey",
];

#[test]
fn valid_receipts_exit_0_and_say_what_was_not_checked() {
    let f = fixture("valid");
    for i in 0..4 {
        let (cose, proof) = (format!("r{i}.cose"), format!("r{i}.tlog-proof"));
        let mut args = vec![cose.as_str(), "--proof", proof.as_str()];
        args.extend_from_slice(FULL);
        let out = verify(&f.dir, &args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        assert!(stdout.contains("result: VALID"));
        assert!(stdout.contains("not checked:"));
    }
    // Receipt 3 is a break-glass: its counter-signature is checked.
    let mut args = vec!["r3.cose", "--proof", "r3.tlog-proof", "--json"];
    args.extend_from_slice(FULL);
    let out = verify(&f.dir, &args);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], true);
    assert!(
        json["checks"]
            .to_string()
            .contains("break-glass counter-signature valid")
    );
}

#[test]
fn tampering_exits_1_and_names_what_failed() {
    let f = fixture("tampered");
    // Receipt 1 with receipt 0's proof.
    let mut args = vec!["r1.cose", "--proof", "r0.tlog-proof"];
    args.extend_from_slice(FULL);
    let out = verify(&f.dir, &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("root mismatch"));
    // A flipped byte in the receipt.
    let mut body = std::fs::read(f.dir.join("r0.cose")).unwrap();
    let mid = body.len() / 2;
    body[mid] ^= 1;
    std::fs::write(f.dir.join("bad.cose"), body).unwrap();
    let mut args = vec!["bad.cose", "--proof", "r0.tlog-proof"];
    args.extend_from_slice(FULL);
    let out = verify(&f.dir, &args);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));
    // Checked against the wrong log key.
    let out = verify(
        &f.dir,
        &[
            "r0.cose",
            "--proof",
            "r0.tlog-proof",
            "--log-key",
            "@gate.vkey",
            "--gate-key",
            "@gate.vkey",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn usage_and_unreadable_input() {
    let f = fixture("usage");
    let out = verify(
        &f.dir,
        &["r0.cose", "--log-key", "not-a-key", "--proof", "r0.tlog-proof"],
    );
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("key"));
    let out = verify(&f.dir, &["r0.cose", "--proof", "r0.tlog-proof"]);
    assert_eq!(out.status.code(), Some(4), "--proof without --log-key");
    let out = verify(&f.dir, &["missing.cose"]);
    assert_eq!(out.status.code(), Some(3));
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-verify"))
        .arg("nonsense")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
}
