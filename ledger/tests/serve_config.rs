//! `cairn-ledger serve` checks its whole configuration before it creates
//! anything: a failed start leaves no log key (a new key is a new log
//! identity) and exits 4; an existing log key's origin cannot be changed;
//! a database another ledger serves is named as such.

mod common;

use std::process::{Command, Output};

use cairn_api::examples;
use common::server::{TempDir, start, start_with};

fn serve(dir: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_failed_start_creates_nothing_and_exits_4() {
    let dir = TempDir::new("cfg-nothing");
    let authority = examples::authority_key().verifier().to_string();
    // An unreadable authority key file.
    let o = serve(&dir.0, &["--authority", "@/no/such/authority.vkey"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("/no/such/authority.vkey"), "{}", stderr(&o));
    assert!(!dir.0.exists(), "nothing may be created");
    // An admin credential file that is not there.
    let o = serve(
        &dir.0,
        &["--authority", &authority, "--admin-token-file", "/no/such/token"],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(!dir.0.exists());
    // A listen address already in use.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let o = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["serve", "--listen", &addr, "--authority", &authority, "--data-dir"])
        .arg(&dir.0)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains(&addr), "{}", stderr(&o));
    assert!(!dir.0.exists(), "a busy port must not leave a log key behind");
    // A witness file that is missing, names a witness without a URL, or
    // lacks its quorum line.
    let files = TempDir::new("cfg-witnesses");
    std::fs::create_dir_all(&files.0).unwrap();
    let w = examples::witness_key().verifier();
    for (name, text, says) in [
        ("no-url.txt", format!("witness w1 {w}\nquorum w1\n"), "has no URL"),
        (
            "no-quorum.txt",
            format!("witness w1 {w} http://127.0.0.1:9\n"),
            "quorum",
        ),
        ("missing.txt", String::new(), "missing.txt"),
    ] {
        let path = files.0.join(name);
        if !text.is_empty() {
            std::fs::write(&path, text).unwrap();
        }
        let o = serve(
            &dir.0,
            &["--authority", &authority, "--witnesses", path.to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
        assert!(stderr(&o).contains(says), "{name}: {}", stderr(&o));
        assert!(!dir.0.exists(), "a bad witness file must not leave a log key behind");
    }
}

#[test]
fn the_origin_of_an_existing_log_cannot_change() {
    let dir = TempDir::new("cfg-origin");
    let server = start(&dir.0);
    let first = server.log_key.clone();
    drop(server);
    // The same origin (start's e2e.example/log), or none: the same key.
    let again = start_with(&dir.0, &[]);
    assert_eq!(again.log_key, first);
    drop(again);
    let o = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--origin",
            "other.example/log",
            "--data-dir",
        ])
        .arg(&dir.0)
        .arg("--authority")
        .arg(examples::authority_key().verifier().to_string())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("other.example/log") && stderr(&o).contains("e2e.example/log"),
        "{}",
        stderr(&o)
    );
    // A database without its log key: refused, no new identity.
    std::fs::rename(dir.0.join("log.key"), dir.0.join("log.key.bak")).unwrap();
    let o = serve(
        &dir.0,
        &["--authority", &examples::authority_key().verifier().to_string()],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("log.key is missing"), "{}", stderr(&o));
    assert!(!dir.0.join("log.key").exists());
}

#[test]
fn fsck_and_export_beside_a_serving_ledger_say_so() {
    let dir = TempDir::new("cfg-locked");
    let server = start(&dir.0);
    for args in [
        vec!["fsck", "--data-dir", dir.0.to_str().unwrap()],
        vec![
            "export",
            "--data-dir",
            dir.0.to_str().unwrap(),
            "--out",
            dir.0.join("x.export").to_str().unwrap(),
        ],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("another cairn-ledger is serving"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    drop(server);
}
