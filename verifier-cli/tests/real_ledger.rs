//! The auditor's guide against the real ledger: cairn-ledger's router on a
//! loopback port (in process, dev-dependency only), receipts acknowledged
//! through HTTP, then `audit --url`, `replay --url`, `query --url`, and
//! `audit --export` on the export saved from `GET /v1/export`.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_api::entry::{KeyAction, KeyRole, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_ledger::embedded::{EmbeddedLedger, LedgerSetup};
use common::TempDir;

const TOKEN: &str = "real-ledger-admin";

fn http(addr: &str, method: &str, path: &str, body: &[u8], admin: bool) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = if admin {
        format!("Authorization: Bearer {TOKEN}\r\n")
    } else {
        String::new()
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/cose\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status: u16 = String::from_utf8_lossy(&resp[9..12]).parse().unwrap();
    (status, resp[split + 4..].to_vec())
}

/// A ledger on a loopback port, running on its own runtime thread (the
/// ledger's own embedded start); kept running for the whole test process.
fn start_ledger(dir: &TempDir) -> String {
    let setup = LedgerSetup::new(
        &dir.0.join("ledger.redb"),
        examples::log_key(),
        vec![examples::authority_key().verifier()],
    )
    .admin_token(TOKEN);
    let ledger = EmbeddedLedger::start(setup).unwrap();
    let addr = ledger.addr().to_string();
    std::mem::forget(ledger);
    addr
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn the_guide_s_three_commands_against_a_real_ledger_and_its_export() {
    let dir = TempDir::new("real");
    let addr = start_ledger(&dir);
    let auth = examples::authority_key();
    for (role, key) in [
        (KeyRole::Gate, examples::gate_key()),
        (KeyRole::Operator, examples::operator_key()),
    ] {
        let body = common::key_statement(KeyAction::Register, role, &key, &auth);
        assert_eq!(http(&addr, "POST", "/v1/keys", &body, true).0, 201);
    }
    let bundle = common::bundle();
    let signed = cairn_api::cose::sign(bundle.as_bytes(), POLICY_CONTENT_TYPE, &auth).unwrap();
    assert_eq!(http(&addr, "POST", "/v1/policies", &signed, true).0, 201);
    for n in 0..30 {
        let body = common::receipt_at(n, &bundle, &examples::gate_key(), Some(now_ms()));
        let (status, resp) = http(&addr, "POST", "/v1/receipts", &body, false);
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&resp));
    }
    let url = format!("http://{addr}");
    let trust = dir.write("trust", common::trust_text());
    let state = dir.0.join("state.json");

    // 1. audit, online, with a state file.
    let out = common::verify_paths(&[&"audit", &"--url", &url, &"--trust", &trust, &"--state", &state]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("30/30 receipts valid"), "{text}");
    assert!(text.contains("2/2 key statements valid"), "{text}");
    assert!(text.contains("1/1 policy bundles valid"), "{text}");
    assert!(text.contains("Result: VALID"), "{text}");
    assert!(state.exists());

    // 2. replay, online.
    let out = common::verify_paths(&[&"replay", &"--url", &url, &"--trust", &trust]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("30 receipts replayed, 0 replay mismatches"), "{text}");

    // 3. query, online: only proven receipts, filtered.
    let out = common::verify_paths(&[
        &"query",
        &"--json",
        &"--url",
        &url,
        &"--trust",
        &trust,
        &"--decision",
        &"DENY",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    let hits = v["receipts"].as_array().unwrap();
    assert!(!hits.is_empty() && hits.len() < 30, "{v:#}");
    assert!(hits.iter().all(|h| h["receipt"]["decision"] == "DENY"));
    assert_eq!(
        (v["verdict"].as_str(), v["valid"].as_bool()),
        (Some("VALID"), Some(true))
    );

    // 4. one receipt by index, fetched and checked like a file; a key entry
    //    is not a receipt (could not evaluate); a wrong log key is caught.
    let log_vkey = examples::log_key().verifier().to_string();
    let gate_vkey = examples::gate_key().verifier().to_string();
    let index = hits[0]["index"].as_u64().unwrap().to_string();
    let out = common::verify_paths(&[
        &"receipt",
        &"--json",
        &"--url",
        &url,
        &"--index",
        &index,
        &"--log-key",
        &log_vkey,
        &"--gate-key",
        &gate_vkey,
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(
        (v["command"].as_str(), v["valid"].as_bool()),
        (Some("receipt"), Some(true))
    );
    assert!(v["not_checked"].is_array(), "{v:#}");
    let out = common::verify_paths(&[&"receipt", &"--url", &url, &"--index", &"0", &"--log-key", &log_vkey]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a receipt"));
    let other = examples::gate_key().verifier().to_string();
    let out = common::verify_paths(&[&"receipt", &"--url", &url, &"--index", &index, &"--log-key", &other]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));

    // The export saved from the ledger audits offline the same way, and
    // the state file from the online audit agrees with it.
    // (HTTP/1.0, so the streamed body comes unchunked, ended by the close.)
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /v1/export HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    assert!(resp.starts_with(b"HTTP/1.0 200") || resp.starts_with(b"HTTP/1.1 200"));
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let export = resp[split + 4..].to_vec();
    let file = dir.write("export.cbor", export);
    let out = common::verify_paths(&[&"audit", &"--export", &file, &"--trust", &trust, &"--state", &state]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("consistent with the last audit (size 33"), "{text}");
}
