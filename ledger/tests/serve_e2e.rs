//! `cairn-ledger serve` over real TCP: submit, prove, SIGKILL, restart,
//! and find everything acknowledged still there.

mod common;

use std::process::Command;

use cairn_api::entry::{KeyAction, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::keys::VerifierKey;
use cairn_api::note::Checkpoint;
use cairn_api::policy::Bundle;
use cairn_api::proof::TlogProof;
use common::now_ms;
use common::server::{TempDir, http, start};

fn bundle() -> Bundle {
    common::bundle("empty", b"")
}

fn receipt(n: u64) -> Vec<u8> {
    common::receipt(n, &examples::gate_key(), now_ms(), &bundle(), "e2e")
}

#[test]
fn serve_acknowledges_durably_across_sigkill() {
    let dir = TempDir(std::env::temp_dir().join(format!("cairn-e2e-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    let server = start(&dir.0);
    assert_eq!(server.log_key.name(), "e2e.example/log");
    let key = common::key_statement(KeyAction::Register, &examples::gate_key());
    assert_eq!(http(&server.addr, "POST", "/v1/keys", &key, true).0, 201);
    let b = cairn_api::cose::sign(bundle().as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
    assert_eq!(http(&server.addr, "POST", "/v1/policies", &b, true).0, 201);
    let mut acked = Vec::new();
    for n in 0..5 {
        let body = receipt(n);
        let (status, resp) = http(&server.addr, "POST", "/v1/receipts", &body, false);
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&resp));
        let ack: serde_json::Value = serde_json::from_slice(&resp).unwrap();
        let proof = TlogProof::parse(ack["tlog_proof"].as_str().unwrap().as_bytes()).unwrap();
        proof.verify_body(&body, &server.log_key, &[]).unwrap();
        acked.push((ack["index"].as_u64().unwrap(), body));
    }
    // The log key file is private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.0.join("log.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // SIGKILL: no graceful anything.
    let log_key = server.log_key.clone();
    drop(server);
    let server = start(&dir.0);
    assert_eq!(server.log_key, log_key, "the same log key after restart");
    let (status, note) = http(&server.addr, "GET", "/v1/checkpoint", b"", false);
    assert_eq!(status, 200);
    let (cp, _, _) = Checkpoint::verify(&note, &log_key, &[]).unwrap();
    assert_eq!(cp.size, 7);
    for (index, body) in &acked {
        let (status, resp) = http(&server.addr, "POST", "/v1/receipts", body, false);
        assert_eq!(status, 200, "resubmission after restart");
        let ack: serde_json::Value = serde_json::from_slice(&resp).unwrap();
        assert_eq!(ack["index"].as_u64().unwrap(), *index);
    }
    drop(server);
    // After the kill the file needs recovery, which fsck (read-only) asks
    // for; then fsck agrees the storage is consistent.
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["fsck", "--data-dir"])
        .arg(&dir.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not closed cleanly"));
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["recover", "--data-dir"])
        .arg(&dir.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["fsck", "--data-dir"])
        .arg(&dir.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("fsck: ok: 7 entries"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The offline export has every entry.
    let export = dir.0.join("export.cbor");
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["export", "--data-dir"])
        .arg(&dir.0)
        .arg("--out")
        .arg(&export)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("exported 7 entries"));
    assert!(std::fs::read(&export).unwrap().len() > 5 * 1000);
    // --json: the same results, with the common names.
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["fsck", "--json", "--data-dir"])
        .arg(&dir.0)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["command"].as_str(), v["valid"].as_bool()),
        (Some("fsck"), Some(true))
    );
    assert_eq!(
        (v["entries"].as_u64(), v["idempotency_index"].as_u64()),
        (Some(7), Some(5)),
        "{v}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["export", "--json", "--from", "2", "--data-dir"])
        .arg(&dir.0)
        .arg("--out")
        .arg(dir.0.join("tail.cbor"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["command"].as_str(), v["entries"].as_u64()),
        (Some("export"), Some(5)),
        "{v}"
    );
    // A key file others can read is refused with a clear message.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.0.join("log.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir.0)
            .arg("--authority")
            .arg(examples::authority_key().verifier().to_string())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(4),
            "a key file others can read is a configuration error"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn keygen_writes_a_private_key_once() {
    let dir = TempDir(std::env::temp_dir().join(format!("cairn-keygen-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let out_file = dir.0.join("gate.key");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
            .args(["keygen", "--name", "gate.example/new", "--out"])
            .arg(&out_file)
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(out.status.code(), Some(0));
    let v = VerifierKey::parse(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    let s = cairn_api::keys::SignerKey::parse(std::fs::read_to_string(&out_file).unwrap().trim()).unwrap();
    assert_eq!(s.verifier(), v);
    assert_eq!(run().status.code(), Some(1), "never overwritten");
    let usage = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .arg("nope")
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(4));
    // A name no key can have: a usage error that names the flag once, and
    // no file.
    let bad = std::env::temp_dir().join(format!("cairn-badname-{}.key", std::process::id()));
    let o = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["keygen", "--name", "bad name", "--out"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("cairn-ledger keygen: --name: invalid key name \"bad name\""),
        "{err}"
    );
    assert!(!bad.exists());
}

/// `--log-format json`: every line the ledger logs on stderr is one JSON
/// object with a level, a message and the event's fields.
#[test]
fn serve_logs_json_lines() {
    use std::io::BufRead as _;
    let dir = TempDir(std::env::temp_dir().join(format!("cairn-e2e-log-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["serve", "--log-format", "json", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir.0)
        .arg("--authority")
        .arg(examples::authority_key().verifier().to_string())
        .env("CAIRN_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{line}");
        let msg = v["message"].as_str().unwrap_or_default().to_owned();
        if msg == "listening" {
            assert!(v["addr"].as_str().unwrap().starts_with("127.0.0.1:"), "{line}");
            seen.push(msg);
            break;
        }
        seen.push(msg);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.iter().any(|m| m == "created the log key"), "{seen:?}");
    assert!(seen.iter().any(|m| m == "sequencer started"), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("listening"));
}
