//! `cairn-verify audit --tiles DIR` on the tile tree `cairn-ledger
//! export-tiles` writes: valid as written; a changed hash tile, a changed
//! entry in a bundle, or a higher tile that does not hold the roots below
//! it is tampering (exit 1, named); a missing tile cannot be evaluated
//! (exit 3).

mod common;

use std::path::Path;
use std::process::Command;

use cairn_api::entry::Entry;
use cairn_ledger::export_tiles::export_tiles;
use cairn_ledger::store::{CommitBatch, EntryRecord, MemoryStore, Store};
use common::{Log, TempDir, failures};

/// The log in a ledger store, written out as tiles into `dir/tiles`.
fn tiles(dir: &TempDir, log: &Log) -> std::path::PathBuf {
    let store = MemoryStore::new();
    for chunk in log.entries.chunks(100) {
        let records = chunk
            .iter()
            .map(|b| EntryRecord::from_entry(&Entry::from_cbor(b).unwrap()).unwrap())
            .collect();
        let (batch, _) = CommitBatch::build(&store.state().unwrap(), records, &log.log_key).unwrap();
        store.commit(&batch).unwrap();
    }
    let out = dir.0.join("tiles");
    export_tiles(&store, &out, |_| {}).unwrap();
    out
}

fn audit(dir: &TempDir, tiles: &Path) -> (i32, serde_json::Value) {
    let t = dir.write("trust", common::trust_text());
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-verify"))
        .args(["audit", "--json", "--tiles"])
        .arg(tiles)
        .arg("--trust")
        .arg(&t)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap(), v)
}

fn flip(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 1;
    std::fs::write(path, b).unwrap();
}

#[test]
fn a_tile_tree_is_audited_and_every_tile_checked() {
    let dir = TempDir::new("tiles");
    // 3 setup entries + 300 receipts: two level-0 tiles and a level-1 tile.
    let log = Log::standard(300, 1000);
    let t = tiles(&dir, &log);
    let (code, v) = audit(&dir, &t);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["receipts"]["valid"], 300, "{v:#}");

    let cases = [
        (
            "tile/0/000",
            32 * 7,
            "tile/0/000: hash 7 is not the hash the entries below it give",
        ),
        ("tile/0/001.p/47", 5, "tile/0/001.p/47: hash 0"),
        ("tile/1/000.p/1", 0, "tile/1/000.p/1: hash 0"),
        ("tile/entries/000", 40, "tile/0/000: hash 0"),
    ];
    for (path, at, want) in cases {
        let file = t.join(path);
        flip(&file, at);
        let (code, v) = audit(&dir, &t);
        assert_eq!(code, 1, "{path}: {v:#}");
        assert!(
            failures(&v)
                .iter()
                .any(|f| f.contains("the tiles contradict the entries") && f.contains(want)),
            "{path}: {v:#}"
        );
        flip(&file, at);
    }
    assert_eq!(audit(&dir, &t).0, 0);

    std::fs::remove_file(t.join("tile/1/000.p/1")).unwrap();
    let (code, v) = audit(&dir, &t);
    assert_eq!(code, 3, "{v:#}");
    assert!(
        v["cannot_evaluate"].as_str().unwrap().contains("tile/1/000.p/1"),
        "{v:#}"
    );
}

/// A server that answers every request one byte per second, for ever.
fn trickling_server() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                use std::io::{Read as _, Write as _};
                let mut s = s;
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
                let _ = s.write_all(answer);
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    if s.write_all(b"x").is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_trickling_server_is_given_up_on_within_the_request_deadline() {
    let dir = TempDir::new("trickle");
    let t = dir.write("trust", common::trust_text());
    let url = trickling_server();
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-verify"))
        .args(["audit", "--url", &url, "--request-timeout-s", "2", "--trust"])
        .arg(&t)
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(took < std::time::Duration::from_secs(30), "gave up after {took:?}");
}
