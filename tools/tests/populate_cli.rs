//! `cairn-tools populate`: a data directory the ledger's fsck accepts,
//! appended to by a second run.

mod common;

use common::TempDir;

use std::process::{Command, Output};

fn populate(dir: &std::path::Path, n: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn-tools"))
        .args(["populate", "--concurrency", "8", "--receipts", n, "--data-dir"])
        .arg(dir)
        .output()
        .unwrap()
}

fn fsck(dir: &std::path::Path) -> u64 {
    let key = cairn_host::keyfile::read_key(&dir.join("log.key")).unwrap();
    let store = cairn_ledger::store::RedbStore::open(&dir.join("ledger.redb")).unwrap();
    cairn_ledger::fsck::fsck(&store, &key.verifier()).unwrap().entries
}

#[test]
fn populates_a_ledger_fsck_accepts_and_appends() {
    let dir = TempDir::new("populate");
    let out = populate(&dir.0, "60");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("log size 62 entries"));
    for k in ["log", "gate", "authority"] {
        let text = std::fs::read_to_string(dir.0.join(format!("keys/{k}.vkey"))).unwrap();
        cairn_api::keys::VerifierKey::parse(text.trim()).unwrap();
    }
    let out = populate(&dir.0, "40");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("log size 102 entries"));
    assert_eq!(fsck(&dir.0), 102);
    for bad in ["0", "x"] {
        let out = populate(&dir.0, bad);
        assert_ne!(out.status.code(), Some(0), "--receipts {bad}");
    }
}
