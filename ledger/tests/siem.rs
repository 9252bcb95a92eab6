//! `cairn-ledger siem` against a real `cairn-ledger serve`: every receipt
//! delivered, verified, from a resumable cursor; at least once through
//! collector outages, a refusal that stops it, and SIGKILLs of the
//! follower itself; nothing delivered from a log whose key is not the one
//! given. (The formats themselves are checked by foreign libraries in
//! `interop/foreign/check_siem.py`.)

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_api::examples;
use cairn_api::merkle::{MerkleHasher as _, Sha256};
use common::server::{Server, TempDir, http, populated};
use serde_json::Value;

fn siem(server: &Server, cursor: &Path, sink: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["siem", "--once", "--timeout-ms", "2000", "--ledger"])
        .arg(format!("http://{}", server.addr))
        .arg("--log-key")
        .arg(server.log_key.to_string())
        .arg("--cursor")
        .arg(cursor)
        .args(sink)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The log index → leaf hash of every receipt in the log.
fn receipts(server: &Server) -> BTreeMap<u64, String> {
    let (_, note) = http(&server.addr, "GET", "/checkpoint", b"", false);
    let size: u64 = String::from_utf8_lossy(&note).lines().nth(1).unwrap().parse().unwrap();
    let mut out = BTreeMap::new();
    for i in 0..size {
        let (status, raw) = http(&server.addr, "GET", &format!("/v1/entries/{i}"), b"", false);
        assert_eq!(status, 200);
        if cairn_api::entry::Entry::from_cbor(&raw).unwrap().kind() == cairn_api::entry::EntryKind::Receipt {
            out.insert(i, Sha256::hash_leaf(&raw).to_hex());
        }
    }
    out
}

/// index → (times seen, leaf hash) of OCSF lines.
fn ocsf_lines(path: &Path) -> BTreeMap<u64, (u32, String)> {
    let mut out: BTreeMap<u64, (u32, String)> = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let i = v["metadata"]["sequence"].as_u64().unwrap();
        assert_eq!(v["unmapped"]["cairn"]["log_index"], i);
        let e = out
            .entry(i)
            .or_insert((0, v["unmapped"]["cairn"]["leaf_hash"].as_str().unwrap().to_owned()));
        e.0 += 1;
    }
    out
}

fn submit(server: &Server, from: u64, n: u64) {
    let bundle = common::bundle("empty", b"");
    for k in from..from + n {
        let body = common::receipt(k, &examples::gate_key(), common::now_ms(), &bundle, "pop");
        assert_eq!(http(&server.addr, "POST", "/v1/receipts", &body, false).0, 201);
    }
}

#[test]
fn ocsf_lines_resume_from_the_cursor() {
    let dir = TempDir::new("siem-ocsf");
    let server = populated(&dir.0.join("data"), 300);
    let cursor = dir.0.join("cursor.json");
    let lines = dir.0.join("events.jsonl");
    let sink = ["--ocsf", lines.to_str().unwrap()];
    let (code, out) = siem(&server, &cursor, &sink);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("302 entries verified, 300 receipts delivered, next index 302"),
        "{out}"
    );
    let want = receipts(&server);
    let got = ocsf_lines(&lines);
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (i, (n, leaf)) in &got {
        assert_eq!((*n, leaf), (1, &want[i]), "index {i}");
    }
    // Caught up: nothing more. Then only the new receipts.
    let (code, out) = siem(&server, &cursor, &sink);
    assert!(code == 0 && out.contains("0 receipts delivered"), "{out}");
    submit(&server, 1000, 5);
    let (code, out) = siem(&server, &cursor, &sink);
    assert!(
        code == 0 && out.contains("5 receipts delivered, next index 307"),
        "{out}"
    );
    assert_eq!(ocsf_lines(&lines).len(), 305);
    assert!(ocsf_lines(&lines).values().all(|(n, _)| *n == 1));
}

#[test]
fn a_key_that_did_not_sign_the_log_gets_nothing() {
    let dir = TempDir::new("siem-key");
    let server = populated(&dir.0.join("data"), 3);
    let lines = dir.0.join("events.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["siem", "--once", "--ledger"])
        .arg(format!("http://{}", server.addr))
        .arg("--log-key")
        .arg(examples::witness_key().verifier().to_string())
        .arg("--cursor")
        .arg(dir.0.join("cursor.json"))
        .arg("--ocsf")
        .arg(&lines)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("does not verify under the log's key"), "{err}");
    assert!(ocsf_lines(&lines).is_empty());
    assert!(!dir.0.join("cursor.json").exists());
}

/// A collector on loopback that answers each POST with the next status of
/// `script` (then 200) and keeps the bodies it answered 200.
struct Collector {
    url: String,
    script: Arc<Mutex<Vec<u16>>>,
    taken: Arc<Mutex<Vec<Value>>>,
}

impl Collector {
    fn start(script: Vec<u16>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/logs", listener.local_addr().unwrap());
        let script = Arc::new(Mutex::new(script));
        let taken = Arc::new(Mutex::new(Vec::new()));
        let (s, t) = (script.clone(), taken.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut len = 0usize;
                let mut ctype = String::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let l = line.to_ascii_lowercase();
                    if let Some(v) = l.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    if let Some(v) = l.strip_prefix("content-type:") {
                        ctype = v.trim().to_owned();
                    }
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                let status = {
                    let mut s = s.lock().unwrap();
                    if s.is_empty() { 200 } else { s.remove(0) }
                };
                if status == 200 {
                    assert_eq!(ctype, "application/json");
                    t.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                }
                let extra = if status == 503 { "Retry-After: 0\r\n" } else { "" };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
                );
            }
        });
        Collector { url, script, taken }
    }

    /// index → times delivered.
    fn delivered(&self) -> BTreeMap<u64, u32> {
        let mut out = BTreeMap::new();
        for body in self.taken.lock().unwrap().iter() {
            for rec in body["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
                .as_array()
                .unwrap()
            {
                let attr = rec["attributes"].as_array().unwrap();
                let i = attr.iter().find(|a| a["key"] == "cairn.log.index").unwrap()["value"]["intValue"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                *out.entry(i).or_insert(0) += 1;
            }
        }
        out
    }
}

#[test]
fn otlp_outages_are_retried_and_a_refusal_stops_without_dropping() {
    let dir = TempDir::new("siem-otlp");
    let server = populated(&dir.0.join("data"), 300);
    let want = receipts(&server);
    // Two busy answers (retried), then the first bundle taken, then a
    // refusal of the second: the follower stops with the cursor after the
    // first bundle.
    let c = Collector::start(vec![503, 503, 200, 400]);
    let cursor = dir.0.join("cursor.json");
    let sink = ["--otlp-endpoint", &c.url, "--otlp-protocol", "http/json"];
    let (code, out) = siem(&server, &cursor, &sink);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("refused the batch: HTTP 400"), "{out}");
    let first = c.delivered();
    assert_eq!(first.keys().copied().collect::<Vec<_>>(), (2..256).collect::<Vec<_>>());
    let saved: Value = serde_json::from_slice(&std::fs::read(&cursor).unwrap()).unwrap();
    assert_eq!(saved["next"], 256);
    // The collector takes batches again: the run resumes at 256.
    let (code, out) = siem(&server, &cursor, &sink);
    assert_eq!(code, 0, "{out}");
    let all = c.delivered();
    assert_eq!(
        all.keys().copied().collect::<Vec<_>>(),
        want.keys().copied().collect::<Vec<_>>()
    );
    assert!(all.values().all(|n| *n == 1), "each delivered once here: {all:?}");
    assert!(c.script.lock().unwrap().is_empty());
}

#[test]
fn a_follower_killed_again_and_again_delivers_every_receipt() {
    let dir = TempDir::new("siem-kill");
    let server = populated(&dir.0.join("data"), 50);
    let cursor = dir.0.join("cursor.json");
    let lines = dir.0.join("events.jsonl");
    let seed = common::now_ms();
    eprintln!("seed {seed}");
    let mut rng = seed;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut submitted = 50;
    for round in 0..8 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
            .args(["siem", "--poll-ms", "10", "--ledger"])
            .arg(format!("http://{}", server.addr))
            .arg("--log-key")
            .arg(server.log_key.to_string())
            .arg("--cursor")
            .arg(&cursor)
            .arg("--ocsf")
            .arg(&lines)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let n = 20 + next() % 60;
        submit(&server, 10_000 + round * 1000, n);
        submitted += n;
        std::thread::sleep(Duration::from_millis(next() % 150));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // A last run catches up.
    let (code, out) = siem(&server, &cursor, &["--ocsf", lines.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let want = receipts(&server);
    assert_eq!(want.len() as u64, submitted);
    let got = ocsf_lines(&lines);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "every receipt, none missing"
    );
    for (i, (_, leaf)) in &got {
        assert_eq!(leaf, &want[i], "index {i}");
    }
    let again: u32 = got.values().map(|(n, _)| n - 1).sum();
    eprintln!("{} receipts, {again} delivered again after a kill", want.len());
}
