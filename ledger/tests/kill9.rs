//! Kill -9 durability: `cairn-ledger serve` under concurrent load, SIGKILLed
//! at random moments and restarted, again and again. After every kill:
//! `cairn-ledger fsck` passes on the data directory; after every restart:
//! the new checkpoint verifies, every checkpoint a client saw since the
//! last restart is consistent with it (earlier ones follow by transitivity,
//! each having been checked against the checkpoint of its own round), and
//! every receipt acknowledged since then is included under it (earlier
//! ones likewise). At the end every acknowledged receipt is checked
//! directly: included, its entry's bytes the ones acknowledged, and a
//! resubmission answered with the original index.
//!
//! The clients submit single receipts, batches of receipts, and (one of
//! them) key statements and policy bundles on the admin routes, so kills
//! land in every kind of submission.
//!
//! `CAIRN_KILLS` (default 50) and `CAIRN_KILL_SEED` (default: the clock,
//! printed) reproduce a run; the long run is `CAIRN_KILLS=1000 cargo test
//! --release -p cairn-ledger --test kill9 -- --nocapture`.

mod common;
#[allow(dead_code)]
#[path = "../src/store/pg_cluster.rs"]
mod pg_cluster;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_api::entry::{KeyAction, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::keys::VerifierKey;
use cairn_api::merkle::{Hash, Sha256, verify_consistency, verify_inclusion};
use cairn_api::note::Checkpoint;
use cairn_api::proof::TlogProof;
use common::now_ms;
use common::server::{TempDir, http, start_with, try_http_as};

/// Submitters at once.
const CLIENTS: usize = 8;

struct Acked {
    index: u64,
    leaf: Hash,
    body: Vec<u8>,
    /// A receipt (resubmitted at the end: the original index comes back).
    receipt: bool,
}

/// Client `k`'s `n`-th submission: (path, content type, body, admin,
/// receipt bodies it carries).
fn submission(
    k: usize,
    n: u64,
    bundle: &cairn_api::policy::Bundle,
) -> (&'static str, &'static str, Vec<u8>, bool, Vec<Vec<u8>>) {
    let receipt = |m: u64| common::receipt(m, &examples::gate_key(), now_ms(), bundle, "kill9");
    match k {
        0 => {
            let items: Vec<Vec<u8>> = (0..8).map(|j| receipt(n * 8 + j + (1 << 40))).collect();
            let body = cairn_api::cbor::encode(&cairn_api::cbor::CBOR::from(
                items
                    .iter()
                    .map(|b| cairn_api::cbor::CBOR::to_byte_string(b.clone()))
                    .collect::<Vec<_>>(),
            ));
            ("/v1/receipts/batch", "application/cbor", body, false, items)
        }
        1 if n.is_multiple_of(2) => {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&n.to_be_bytes());
            let gate =
                cairn_api::keys::SignerKey::from_seed(&format!("g{n}"), cairn_api::keys::KeyType::Ed25519, &seed)
                    .unwrap();
            let st = common::key_statement(KeyAction::Register, &gate);
            ("/v1/keys", "application/cose", st, true, Vec::new())
        }
        1 => {
            let b = common::bundle(&format!("kill9-{n}"), b"");
            let body = cairn_api::cose::sign(b.as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
            ("/v1/policies", "application/cose", body, true, Vec::new())
        }
        _ => ("/v1/receipts", "application/cose", receipt(n), false, Vec::new()),
    }
}

/// What clients saw in one round: acknowledgements and checkpoints.
#[derive(Default)]
struct Seen {
    acked: Vec<Acked>,
    checkpoints: BTreeMap<u64, Hash>,
}

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

fn hashes(v: &serde_json::Value) -> Vec<Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
        .collect()
}

/// The ledger's newest checkpoint, verified.
fn checkpoint(addr: &str, key: &VerifierKey) -> Checkpoint {
    let (status, note) = http(addr, "GET", "/v1/checkpoint", b"", false);
    assert_eq!(status, 200);
    Checkpoint::verify(&note, key, &[]).unwrap().0
}

fn fsck(dir: &std::path::Path) {
    // After a kill the file needs the recovery a start performs; fsck reads
    // without writing, so the recovery is asked for explicitly.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["recover", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["fsck", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "fsck after a kill: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Wait until the instance holds the sequencer lease (its metrics say
/// under which epoch it writes), so that each round's load meets a writer.
fn wait_writing(addr: &str) {
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, m) = http(addr, "GET", "/metrics", b"", false);
        let text = String::from_utf8_lossy(&m);
        if text
            .lines()
            .any(|l| l.starts_with("cairn_sequencer_epoch ") && !l.ends_with(" -1"))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "the restarted instance never took the lease"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// POST, waiting out `503` (on PostgreSQL, a restarted instance writes
/// only once the killed one's lease expired).
fn post_writing(addr: &str, path: &str, body: &[u8], admin: bool) -> (u16, Vec<u8>) {
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, resp) = http(addr, "POST", path, body, admin);
        if status != 503 || std::time::Instant::now() > until {
            return (status, resp);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|k| k.parse().ok()).unwrap_or(default)
}

#[test]
fn acknowledged_receipts_survive_sigkill_at_random_moments() {
    drop(sigkill_rounds("kill9", env_u64("CAIRN_KILLS", 50), &[], true));
}

/// The same on the PostgreSQL backend with one instance: the ledger
/// SIGKILLed, the database stays up; the restarted instance takes the
/// sequencer lease over once the killed one's expired (a 1 s time to
/// live here), answering `not-leader` until then. Several instances:
/// `tests/failover.rs`.
#[test]
fn acknowledged_receipts_survive_sigkill_on_postgres() {
    let Some(cluster) = pg_cluster::Cluster::start("kill9") else {
        return;
    };
    let db = cluster.params();
    let dir = sigkill_rounds(
        "kill9-pg",
        env_u64("CAIRN_PG_KILLS", 10),
        &["--database", &db, "--lease-ttl-ms", "1000"],
        false,
    );
    // fsck reads the log from the database, without writing.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["fsck", "--database", &db, "--data-dir"])
        .arg(&dir.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `kills` rounds of clients submitting while the ledger (started with
/// `extra` flags) is SIGKILLed at a random moment and started again; with
/// `redb`, fsck checks the file after every kill.
fn sigkill_rounds(tag: &str, kills: u64, extra: &[&str], redb: bool) -> TempDir {
    let mut seed = env_u64("CAIRN_KILL_SEED", now_ms());
    println!("{tag}: {kills} kills, CAIRN_KILL_SEED={seed}");
    let dir = TempDir::new(tag);
    let bundle = common::bundle("empty", b"");
    let mut server = start_with(&dir.0, extra);
    let key = server.log_key.clone();
    let reg = common::key_statement(KeyAction::Register, &examples::gate_key());
    assert_eq!(post_writing(&server.addr, "/v1/keys", &reg, true).0, 201);
    let b = cairn_api::cose::sign(bundle.as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
    assert_eq!(post_writing(&server.addr, "/v1/policies", &b, true).0, 201);
    let next = Arc::new(AtomicU64::new(0));
    let mut all: Vec<Acked> = Vec::new();
    let mut last = checkpoint(&server.addr, &key);
    let mut survived = 0;
    for round in 0..kills {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for k in 0..CLIENTS {
            let (seen, stop, next, addr, key, bundle) = (
                seen.clone(),
                stop.clone(),
                next.clone(),
                server.addr.clone(),
                key.clone(),
                bundle.clone(),
            );
            clients.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let (path, ct, body, admin, items) = submission(k, n, &bundle);
                    // The server may die at any moment: no answer is fine,
                    // an answer is a promise.
                    let Some((status, resp)) = try_http_as(&addr, "POST", path, ct, &body, admin) else {
                        return;
                    };
                    assert!(
                        status == 201 || status == 200 || status == 503,
                        "{path}: status {status}: {}",
                        String::from_utf8_lossy(&resp)
                    );
                    if status == 503 {
                        continue;
                    }
                    let v: serde_json::Value = serde_json::from_slice(&resp).unwrap();
                    // (ack, the body it acknowledges, a receipt?)
                    let acks: Vec<(serde_json::Value, Vec<u8>, bool)> = if items.is_empty() {
                        vec![(v, body, path == "/v1/receipts")]
                    } else {
                        v["results"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .zip(items)
                            .filter(|(r, _)| r["ack"].is_object())
                            .map(|(r, b)| (r["ack"].clone(), b, true))
                            .collect()
                    };
                    let mut s = seen.lock().unwrap();
                    for (ack, body, receipt) in acks {
                        let proof = TlogProof::parse(ack["tlog_proof"].as_str().unwrap().as_bytes()).unwrap();
                        let (entry, cp, _) = proof.verify_body(&body, &key, &[]).unwrap();
                        s.checkpoints.insert(cp.size, cp.root);
                        s.acked.push(Acked {
                            index: proof.index,
                            leaf: entry.leaf_hash(),
                            body,
                            receipt,
                        });
                    }
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(20 + lcg(&mut seed) % 230));
        // SIGKILL: no shutdown, no flush, nothing.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
        if redb {
            fsck(&dir.0);
        }
        server = start_with(&dir.0, extra);
        assert_eq!(server.log_key, key, "the same log key after restart");
        if !redb {
            wait_writing(&server.addr);
        }
        let now = checkpoint(&server.addr, &key);
        let seen = Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap();
        // Consistent with the last round's checkpoint and every one seen since.
        let mut check = seen.checkpoints.clone();
        check.insert(last.size, last.root);
        for (&size, root) in &check {
            assert!(
                size <= now.size,
                "round {round}: a client saw size {size}, the log has {}",
                now.size
            );
            let (status, p) = http(
                &server.addr,
                "GET",
                &format!("/v1/proofs/consistency?from={size}&to={}", now.size),
                b"",
                false,
            );
            assert_eq!(status, 200);
            let p: serde_json::Value = serde_json::from_slice(&p).unwrap();
            verify_consistency::<Sha256>(size, now.size, &hashes(&p["proof"]), &root.0, &now.root.0)
                .unwrap_or_else(|e| panic!("round {round}: checkpoint {size} not consistent with {}: {e}", now.size));
        }
        // This round's acknowledged receipts are included under it.
        for a in &seen.acked {
            let (status, p) = http(
                &server.addr,
                "GET",
                &format!("/v1/proofs/inclusion?index={}&size={}", a.index, now.size),
                b"",
                false,
            );
            assert_eq!(status, 200, "round {round}: acknowledged entry {} is gone", a.index);
            let p: serde_json::Value = serde_json::from_slice(&p).unwrap();
            verify_inclusion::<Sha256>(&a.leaf, a.index, now.size, &hashes(&p["proof"]), &now.root.0)
                .unwrap_or_else(|e| panic!("round {round}: acknowledged entry {} not included: {e}", a.index));
        }
        all.extend(seen.acked);
        last = now;
        survived += 1;
    }
    // Everything ever acknowledged, directly: the entry is there with the
    // acknowledged bytes, and a resubmission returns the original index.
    let now = checkpoint(&server.addr, &key);
    for a in &all {
        let (status, entry) = http(&server.addr, "GET", &format!("/v1/entries/{}", a.index), b"", false);
        assert_eq!(status, 200);
        let entry = cairn_api::entry::Entry::from_cbor(&entry).unwrap();
        assert_eq!(entry.leaf_hash(), a.leaf);
        assert_eq!(entry.body(), a.body.as_slice());
    }
    let receipts: Vec<&Acked> = all.iter().filter(|a| a.receipt).collect();
    for a in receipts.iter().step_by(receipts.len().div_ceil(50).max(1)) {
        let (status, resp) = post_writing(&server.addr, "/v1/receipts", &a.body, false);
        assert_eq!(status, 200, "resubmission of {}", a.index);
        let ack: serde_json::Value = serde_json::from_slice(&resp).unwrap();
        assert_eq!(ack["index"].as_u64(), Some(a.index));
    }
    // The query index was killed with the ledger every round and derived
    // again after each start: a search by gate finds every acknowledged
    // receipt (the index's lost rows were derived again, or read past it).
    let gate: String = examples::gate_key()
        .name()
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let mut found = std::collections::BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = http(
            &server.addr,
            "GET",
            &format!("/v1/receipts?gate={gate}&limit=1000{cursor}"),
            b"",
            false,
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&page));
        let page: cairn_api::wire::QueryPage = serde_json::from_slice(&page).unwrap();
        found.extend(page.receipts.iter().map(|h| h.index));
        match page.next_cursor {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    for a in &receipts {
        assert!(
            found.contains(&a.index),
            "acknowledged receipt {} not found by a query",
            a.index
        );
    }
    drop(server);
    if redb {
        fsck(&dir.0);
    }
    println!(
        "{tag}: survived {survived} kills; {} entries acknowledged (receipts, batch items, keys, bundles), all present; log size {}",
        all.len(),
        now.size
    );
    assert!(!all.is_empty(), "the load never got an acknowledgement");
    dir
}
