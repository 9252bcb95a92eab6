//! The offline commands (`fsck`, `export`, `export-tiles`, `recover`) on
//! real database files: they read without writing, say when a file needs
//! recovery, report a damaged page instead of panicking, and need only the
//! log's public key.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use cairn_api::merkle::MerkleHasher as _;
use common::server::{TempDir, populated};

fn ledger(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn digest(p: &Path) -> cairn_api::merkle::Hash {
    cairn_api::merkle::Sha256::digest(&[&std::fs::read(p).unwrap()])
}

#[test]
fn fsck_and_export_never_write_the_database_and_need_only_the_public_key() {
    let dir = TempDir::new("offline-ro");
    populated(&dir.0, 20).terminate();
    let db = dir.0.join("ledger.redb");
    // Only the public key: the secret one is elsewhere (a copy for audit).
    std::fs::remove_file(dir.0.join("log.key")).unwrap();
    assert!(dir.0.join("log.vkey").exists());
    let before = digest(&db);
    let mtime = std::fs::metadata(&db).unwrap().modified().unwrap();
    let o = ledger(&["fsck"], &dir.0);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = dir.0.join("x.export");
    let o = ledger(&["export", "--out", out.to_str().unwrap()], &dir.0);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let tiles = dir.0.join("tiles");
    let o = ledger(&["export-tiles", "--out", tiles.to_str().unwrap()], &dir.0);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(digest(&db), before, "the database file changed");
    assert_eq!(std::fs::metadata(&db).unwrap().modified().unwrap(), mtime);
}

#[test]
fn a_database_left_by_a_crash_is_recovered_only_on_request() {
    let dir = TempDir::new("offline-crash");
    drop(populated(&dir.0, 5)); // SIGKILL
    let before = digest(&dir.0.join("ledger.redb"));
    let o = ledger(&["fsck"], &dir.0);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("cairn-ledger recover"), "{}", text(&o));
    assert_eq!(digest(&dir.0.join("ledger.redb")), before);
    let o = ledger(&["recover"], &dir.0);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("7 entries"), "{}", text(&o));
    let o = ledger(&["fsck"], &dir.0);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_damaged_page_is_reported_not_a_panic() {
    let dir = TempDir::new("offline-damaged");
    populated(&dir.0, 200).terminate();
    let db = dir.0.join("ledger.redb");
    let clean = std::fs::read(&db).unwrap();
    const PAGE: usize = 4096;
    let mut damaged_seen = 0;
    // Zero a page after the header (the first pages, where redb keeps its
    // roots and allocator state, then a spread over the file): whatever
    // fsck and export say, they never panic (exit 101), and a damage they
    // notice is exit 1.
    let pages = clean.len() / PAGE;
    let mut chosen: Vec<usize> = (1..pages.min(9)).collect();
    chosen.extend((1..16).map(|k| k * pages / 16).filter(|&p| p >= 9 && p < pages));
    for page in chosen {
        let mut bytes = clean.clone();
        bytes[page * PAGE..(page + 1) * PAGE].fill(0);
        std::fs::write(&db, &bytes).unwrap();
        for args in [vec!["fsck"], vec!["export", "--out", "/dev/null"]] {
            let _ = std::fs::remove_file(dir.0.join("x.export"));
            let o = ledger(&args, &dir.0);
            let code = o.status.code();
            assert!(
                code == Some(0) || code == Some(1),
                "page {page}, {args:?}: exit {code:?}: {}",
                text(&o)
            );
            assert!(!text(&o).contains("panicked"), "page {page}, {args:?}: {}", text(&o));
            if code == Some(1) && args[0] == "fsck" {
                damaged_seen += 1;
            }
        }
    }
    assert!(damaged_seen > 0, "no zeroed page was noticed");
}
