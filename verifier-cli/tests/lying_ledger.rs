//! `cairn-verify audit --url` and `query --url` against an in-process
//! malicious ledger (std TCP, one thread) that lies in one way at a time.
//! The audit reads it through its tiles (`/checkpoint`, `/tile/...`), which
//! the fake builds from its log; `/checkpoint` answers the log's last
//! checkpoint the first time (what the audit downloads) and the override
//! afterwards (what the ledger signs "now").
//! The operator holds the log key, so lies are re-signed where that helps
//! the liar; each must still give exit 1 and name what failed.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_api::cose;
use cairn_api::entry::{EntryKind, KeyAction, KeyRole, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::keys::{KeyType, SignerKey};
use cairn_api::merkle::{Hash, Sha256, consistency_proof, inclusion_proof, subtree_root};
use cairn_api::note::Checkpoint;
use cairn_api::tiles::{TileId, TileKind, encode_bundle};
use common::{Log, TempDir, failures};
use serde_json::json;

/// What the fake ledger serves.
#[derive(Clone)]
struct Fake {
    /// The log behind the export and the entries.
    log: Arc<Log>,
    /// `/v1/checkpoint`, when not the log's last.
    checkpoint: Option<String>,
    /// The tree consistency proofs come from, when not the log's.
    latest: Option<Arc<Log>>,
    /// Corrupt every inclusion proof.
    bad_inclusion: bool,
    /// Serve entry `.1` when `.0` is asked for.
    swap_entry: Option<(u64, u64)>,
    /// `/checkpoint` requests so far.
    checkpoint_reads: Arc<AtomicUsize>,
}

impl Fake {
    fn honest(log: Log) -> Self {
        Fake {
            log: Arc::new(log),
            checkpoint: None,
            latest: None,
            bad_inclusion: false,
            swap_entry: None,
            checkpoint_reads: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn answer(&self, path: &str) -> (u16, &'static str, Vec<u8>) {
        let (route, query) = path.split_once('?').unwrap_or((path, ""));
        let param = |k: &str| -> Option<u64> {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.parse().ok())
        };
        let hex = |h: &[Hash]| h.iter().map(Hash::to_hex).collect::<Vec<_>>();
        let log = &self.log;
        match route {
            "/v1/export" => (200, "application/cbor-seq", log.export()),
            "/checkpoint" if self.checkpoint_reads.fetch_add(1, Ordering::SeqCst) == 0 => (
                200,
                "text/plain",
                log.checkpoints.last().unwrap().1.clone().into_bytes(),
            ),
            r if r.starts_with("/tile/") => self.tile(&r[1..]),
            "/checkpoint" | "/v1/checkpoint" => {
                let note = self
                    .checkpoint
                    .clone()
                    .unwrap_or_else(|| log.checkpoints.last().unwrap().1.clone());
                (200, "text/plain", note.into_bytes())
            }
            "/v1/proofs/consistency" => {
                let (from, to) = (param("from").unwrap(), param("to").unwrap());
                let tree = self.latest.as_ref().unwrap_or(log).tree();
                let p = consistency_proof::<Sha256, _>(tree, from, to).unwrap_or_default();
                (
                    200,
                    "application/json",
                    json!({"from": from, "to": to, "proof": hex(&p)})
                        .to_string()
                        .into_bytes(),
                )
            }
            "/v1/proofs/inclusion" => {
                let (index, size) = (param("index").unwrap(), param("size").unwrap());
                let mut p = inclusion_proof::<Sha256, _>(log.tree(), index, size).unwrap();
                if self.bad_inclusion {
                    p[0].0[0] ^= 1;
                }
                (
                    200,
                    "application/json",
                    json!({"index": index, "size": size, "proof": hex(&p)})
                        .to_string()
                        .into_bytes(),
                )
            }
            "/v1/receipts" => {
                let hits: Vec<_> = (0..log.entries.len() as u64)
                    .filter_map(|i| {
                        let e = cairn_api::entry::Entry::from_cbor(&log.entries[i as usize]).ok()?;
                        let r = e.receipt().ok()?;
                        Some(json!({"index": i, "receipt": r.unverified().to_json()}))
                    })
                    .collect();
                (
                    200,
                    "application/json",
                    json!({"receipts": hits, "next_cursor": null}).to_string().into_bytes(),
                )
            }
            r if r.starts_with("/v1/entries/") => {
                let mut i: u64 = r["/v1/entries/".len()..].parse().unwrap();
                if let Some((asked, served)) = self.swap_entry
                    && asked == i
                {
                    i = served;
                }
                (200, "application/cbor", log.entries[i as usize].clone())
            }
            _ => (404, "text/plain", b"no".to_vec()),
        }
    }

    /// A tile of the fake's log (all its entries).
    fn tile(&self, path: &str) -> (u16, &'static str, Vec<u8>) {
        let log = &self.log;
        let size = log.entries.len() as u64;
        let Some(tile) = TileId::parse(path).ok().filter(|t| t.exists_in(size)) else {
            return (404, "text/plain", b"no".to_vec());
        };
        let range = tile.first()..tile.first() + u64::from(tile.width);
        let body = match tile.kind {
            TileKind::Entries => encode_bundle(range.map(|i| log.entries[i as usize].as_slice())).unwrap(),
            TileKind::Hashes { .. } => {
                let h = tile.kind.tree_level();
                range
                    .flat_map(|i| subtree_root::<Sha256, _>(log.tree(), i << h, (i + 1) << h).unwrap().0)
                    .collect()
            }
        };
        (200, "application/octet-stream", body)
    }

    /// Serve on a loopback port until the test ends; the base URL.
    fn serve(self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let fake = self.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    let (status, ct, body) = fake.answer(&path);
                    let head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&body);
                });
            }
        });
        format!("http://{addr}")
    }
}

fn audit_url(dir: &TempDir, url: &str, state: Option<&std::path::Path>) -> (i32, serde_json::Value) {
    let t = dir.write("trust", common::trust_text());
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"audit", &"--json", &"--url", &url, &"--trust", &t];
    let s;
    if let Some(p) = state {
        s = p.to_path_buf();
        args.push(&"--state");
        args.push(&s);
    }
    let out = common::verify_paths(&args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "{} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

fn query_url(dir: &TempDir, url: &str) -> (i32, serde_json::Value) {
    let t = dir.write("trust", common::trust_text());
    let out = common::verify_paths(&[&"query", &"--json", &"--url", &url, &"--trust", &t]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap(), v)
}

fn has(v: &serde_json::Value, needle: &str) -> bool {
    failures(v).iter().any(|f| f.contains(needle))
}

#[test]
fn an_honest_ledger_passes_audit_and_query() {
    let dir = TempDir::new("honest");
    let url = Fake::honest(Log::standard(20, 8)).serve();
    let (code, v) = audit_url(&dir, &url, None);
    assert_eq!(code, 0, "{v:#}");
    assert!(v["notes"].to_string().contains("is the one audited"), "{v:#}");
    let (code, v) = query_url(&dir, &url);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["receipts"].as_array().unwrap().len(), 20);
    // The log grew after the export: proven consistent, not a fork.
    let grown = Log::standard(21, 8);
    let mut fake = Fake::honest(Log::standard(20, 8));
    fake.checkpoint = Some(grown.checkpoints.last().unwrap().1.clone());
    fake.latest = Some(Arc::new(grown));
    let (code, v) = audit_url(&dir, &fake.serve(), None);
    assert_eq!(code, 0, "{v:#}");
    assert!(
        v["notes"]
            .to_string()
            .contains("(24) is consistent with the audited one (23)"),
        "{v:#}"
    );
}

#[test]
fn a_wrong_inclusion_proof_is_caught() {
    let dir = TempDir::new("inclusion");
    let mut fake = Fake::honest(Log::standard(5, 100));
    fake.bad_inclusion = true;
    let (code, v) = query_url(&dir, &fake.serve());
    assert_eq!(code, 1, "{v:#}");
    assert!(
        v["failures"][0]
            .as_str()
            .unwrap()
            .contains("not included under the checkpoint"),
        "{v:#}"
    );
    assert!(
        v["receipts"].as_array().unwrap().is_empty(),
        "nothing unproven is printed"
    );
}

#[test]
fn a_swapped_entry_is_caught() {
    let dir = TempDir::new("swap");
    let log = Log::standard(5, 100);
    // Online query: entry 4 asked, entry 5 served.
    let mut fake = Fake::honest(Log::standard(5, 100));
    fake.swap_entry = Some((4, 5));
    let (code, v) = query_url(&dir, &fake.serve());
    assert_eq!(code, 1, "{v:#}");
    assert!(v["failures"].to_string().contains("entry 4: not included"), "{v:#}");
    // Audit: the export with entries 4 and 5 swapped, checkpoints as signed.
    let mut swapped = Log::default();
    for i in 0..log.entries.len() {
        swapped.append_raw(
            log.entries[match i {
                4 => 5,
                5 => 4,
                _ => i,
            }]
            .clone(),
        );
    }
    swapped.checkpoints = log.checkpoints.clone();
    let (code, v) = audit_url(&dir, &Fake::honest(swapped).serve(), None);
    assert_eq!(code, 1);
    assert!(has(&v, "is not the root of the entries"), "{v:#}");
}

#[test]
fn a_checkpoint_signed_by_another_key_is_caught() {
    let dir = TempDir::new("otherkey");
    let log = Log::standard(5, 100);
    let rogue = SignerKey::from_seed(examples::log_key().name(), KeyType::Ed25519, &[0x42; 32]).unwrap();
    let mut fake = Fake::honest(log);
    let tree = fake.log.tree();
    fake.checkpoint = Some(
        Checkpoint::new(rogue.name(), tree.size(), tree.root())
            .sign(&rogue)
            .unwrap()
            .to_text(),
    );
    let url = fake.serve();
    let (code, v) = audit_url(&dir, &url, None);
    assert_eq!(code, 1, "{v:#}");
    assert!(has(&v, "the ledger's newest checkpoint"), "{v:#}");
    let (code, _) = query_url(&dir, &url);
    assert_eq!(code, 1);
}

#[test]
fn a_forked_history_is_caught() {
    let dir = TempDir::new("fork");
    let log = Log::standard(6, 100);
    // The same size, another root, signed by the real log key.
    let mut forked_root = log.tree().root();
    forked_root.0[0] ^= 0xff;
    let mut fake = Fake::honest(log);
    fake.checkpoint = Some(
        Checkpoint::new(examples::log_key().name(), fake.log.tree().size(), forked_root)
            .sign(&examples::log_key())
            .unwrap()
            .to_text(),
    );
    let (code, v) = audit_url(&dir, &fake.serve(), None);
    assert_eq!(code, 1, "{v:#}");
    assert!(has(&v, "fork: two checkpoints of size 9"), "{v:#}");
    // A larger checkpoint, and a consistency proof from the liar's own
    // tree, which does not extend the exported one (entry 5 differs).
    let exported = Log::standard(6, 100);
    let mut forked = Log::default();
    for (i, e) in exported.entries.iter().enumerate() {
        if i == 5 {
            forked.append(
                EntryKind::Receipt,
                common::receipt(99, &common::bundle(), &examples::gate_key()),
            );
        } else {
            forked.append_raw(e.clone());
        }
    }
    forked.append(
        EntryKind::Receipt,
        common::receipt(100, &common::bundle(), &examples::gate_key()),
    );
    forked.checkpoint();
    let mut fake = Fake::honest(exported);
    fake.checkpoint = Some(forked.checkpoints.last().unwrap().1.clone());
    fake.latest = Some(Arc::new(forked));
    let (code, v) = audit_url(&dir, &fake.serve(), None);
    assert_eq!(code, 1, "{v:#}");
    assert!(has(&v, "is not consistent with size 9"), "{v:#}");
}

#[test]
fn a_rolled_back_log_is_caught() {
    let dir = TempDir::new("rollback");
    let state = dir.0.join("state.json");
    let (code, v) = audit_url(&dir, &Fake::honest(Log::standard(10, 4)).serve(), Some(&state));
    assert_eq!(code, 0, "{v:#}");
    let (code, v) = audit_url(&dir, &Fake::honest(Log::standard(6, 4)).serve(), Some(&state));
    assert_eq!(code, 1, "{v:#}");
    assert!(
        has(&v, "rollback: the last audit saw 13 entries, the log now has 9"),
        "{v:#}"
    );
}

#[test]
fn a_bundle_that_is_not_the_one_receipts_name_is_caught() {
    let dir = TempDir::new("bundle");
    // The operator archives other bytes and re-signs every checkpoint.
    let mut log = Log::default();
    let auth = examples::authority_key();
    log.append(
        EntryKind::Key,
        common::key_statement(KeyAction::Register, KeyRole::Gate, &examples::gate_key(), &auth),
    );
    let other = common::bundle_of("devops-staging", "# allows nothing\n");
    log.append(
        EntryKind::Policy,
        cose::sign(other.as_bytes(), POLICY_CONTENT_TYPE, &auth).unwrap(),
    );
    for n in 0..3 {
        log.append(
            EntryKind::Receipt,
            common::receipt(n, &common::bundle(), &examples::gate_key()),
        );
    }
    log.checkpoint();
    let (code, v) = audit_url(&dir, &Fake::honest(log).serve(), None);
    assert_eq!(code, 1, "{v:#}");
    assert!(has(&v, "entry 2: names policy bundle"), "{v:#}");
    assert!(has(&v, "which no earlier entry archived"), "{v:#}");
}

#[test]
fn an_entry_signed_by_a_revoked_key_is_caught() {
    let dir = TempDir::new("revoked");
    let mut log = Log::standard(3, 100);
    log.revoke_gate_then_sign(50);
    let (code, v) = audit_url(&dir, &Fake::honest(log).serve(), None);
    assert_eq!(code, 1, "{v:#}");
    assert!(has(&v, "entry 7: signed by"), "{v:#}");
    assert!(has(&v, "revoked"), "{v:#}");
}

#[test]
fn an_unreachable_ledger_cannot_be_evaluated() {
    let dir = TempDir::new("down");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (code, v) = audit_url(&dir, &url, None);
    assert_eq!(code, 3, "{v:#}");
    assert!(v["cannot_evaluate"].is_string());
}
