//! High availability on PostgreSQL, for real: three `cairn-ledger serve`
//! instances share one database (a cluster of its own, started here), one
//! of them writing under the sequencer lease. Clients submit receipts at a
//! steady rate, each to the instance that answered it last and to the
//! next one on a `503` or no answer (as the gate's client does), retrying
//! the same bytes until acknowledged. Meanwhile:
//!
//! 1. the leader is SIGKILLed at seeded random moments
//!    (`CAIRN_FAILOVER_KILLS`, default 20; `CAIRN_KILL_SEED`) and started
//!    again; after each kill a new leader must commit (the failover time
//!    is measured and printed, and bounded by [`FAILOVER_BOUND`]);
//! 2. the leader is frozen with SIGSTOP past its lease, another takes
//!    over, and the frozen one is resumed: it must follow, refuse writes
//!    with `503 not-leader` naming the new leader, and anything it
//!    answered must be in the one history;
//! 3. PostgreSQL itself is stopped under load and started again: no write
//!    is acknowledged while it is down, and writes resume.
//!
//! At the end: every acknowledged receipt is in the log with the bytes
//! acknowledged and included under the final checkpoint, every checkpoint
//! any client saw is consistent with it (one history), `cairn-ledger fsck
//! --database` passes, and `cairn-verify audit` passes on the log written
//! through all of it.

mod common;
#[allow(dead_code)]
#[path = "../src/store/pg_cluster.rs"]
mod pg_cluster;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_api::entry::{KeyAction, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::keys::VerifierKey;
use cairn_api::merkle::{Hash, Sha256, verify_consistency, verify_inclusion};
use cairn_api::note::Checkpoint;
use cairn_api::policy::{Bundle, DecisionInput, Policy};
use cairn_api::proof::TlogProof;
use cairn_api::receipt::{Receipt, SignedReceipt};
use cairn_api::timestamp::Timestamp;
use common::now_ms;
use common::server::{TOKEN, TempDir};

/// Instances of the ledger.
const INSTANCES: usize = 3;
/// Clients submitting at once.
const CLIENTS: usize = 4;
/// The lease's time to live in these runs.
const TTL_MS: u64 = 1000;
/// The longest a failover may take: the lease's time to live, a renewal
/// period, PostgreSQL's end of an abandoned transaction (2 s) and a busy
/// machine's slack.
const FAILOVER_BOUND: Duration = Duration::from_secs(20);
/// How long one request may take before the client tries the next instance.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

const RULES: &str = include_str!("../../examples/policies/devops-staging/cairn-rules/rules.toml");

fn bundle() -> Bundle {
    let mut files = BTreeMap::new();
    files.insert("rules.toml".to_owned(), RULES.as_bytes().to_vec());
    let engine = cairn_api::policy::registry::CAIRN_RULES.engine_ref();
    Bundle::new(
        "devops-staging",
        1,
        engine,
        Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap(),
        files,
    )
    .unwrap()
}

/// Receipt `n`, decided now by the devops-staging rules (so an audit
/// replays it to the same decision).
fn receipt(n: u64, policy: &Policy, bundle: &Bundle) -> Vec<u8> {
    let t = now_ms();
    let mut p = examples::receipt_parts(n % 9);
    p.decided_at = Timestamp::from_millis(t).unwrap();
    p.nd_inputs.clock = p.decided_at;
    p.receipt_id = examples::receipt_id(t, n);
    p.idempotency_key = format!("failover-{n}");
    p.request.subject.id = "agent:devops-helper".into();
    p.request.resource.kind = "eks".into();
    p.request.action.name = ["get_pods", "delete_pod", "scale_deployment"][(n % 3) as usize].into();
    p.request.resource.id = format!("{}:ns-{n}", if n.is_multiple_of(2) { "production" } else { "staging" });
    p.break_glass = None;
    p.policy = cairn_api::policy::policy_ref(bundle);
    let d = policy.decide(&DecisionInput::from_receipt(&p));
    p.decision = d.decision;
    p.determining_rules = d.determining_rules;
    p.reason = d.reason;
    p.errors = d.errors;
    SignedReceipt::sign(Receipt::new(p).unwrap(), &examples::gate_key())
        .unwrap()
        .1
}

/// One request with a bounded wait: (status, headers lowercased, body),
/// or `None` without a whole answer.
fn request(addr: &str, method: &str, path: &str, body: &[u8], admin: bool) -> Option<(u16, String, Vec<u8>)> {
    let sock = addr.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&sock, REQUEST_TIMEOUT).ok()?;
    s.set_read_timeout(Some(REQUEST_TIMEOUT)).ok()?;
    s.set_write_timeout(Some(REQUEST_TIMEOUT)).ok()?;
    let auth = if admin {
        format!("Authorization: Bearer {TOKEN}\r\n")
    } else {
        String::new()
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/cose\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status: u16 = String::from_utf8_lossy(resp.get(9..12)?).parse().ok()?;
    let head = String::from_utf8_lossy(&resp[..split]).to_ascii_lowercase();
    let body = resp[split + 4..].to_vec();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    if len.is_some_and(|l| l != body.len()) {
        return None;
    }
    Some((status, head, body))
}

/// One ledger instance: its port and directory never change across restarts.
struct Instance {
    addr: String,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl Instance {
    fn start(&mut self, db: &str, origin: bool) -> VerifierKey {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("stderr.log"))
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"));
        cmd.args(["serve", "--listen", &self.addr, "--data-dir"])
            .arg(&self.dir)
            .args(["--database", db, "--lease-ttl-ms", &TTL_MS.to_string()])
            .args(["--advertise", &format!("http://{}", self.addr)])
            .arg("--authority")
            .arg(examples::authority_key().verifier().to_string())
            .env("CAIRN_ADMIN_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .stderr(log);
        if origin {
            cmd.args(["--origin", "failover.example/log"]);
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let key = lines.next().unwrap().unwrap();
        let listening = lines.next().unwrap().unwrap();
        assert!(listening.ends_with(&self.addr), "{listening}");
        self.child = Some(child);
        VerifierKey::parse(key.trim_start_matches("log key: ")).unwrap()
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(Command::new("kill").args([sig, &pid]).status().unwrap().success());
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The lease epoch it writes under, from its metrics (`None`: it
    /// follows, or does not answer).
    fn epoch(&self) -> Option<u64> {
        let (status, _, body) = request(&self.addr, "GET", "/metrics", b"", false)?;
        (status == 200).then_some(())?;
        let text = String::from_utf8(body).ok()?;
        let v: i64 = text
            .lines()
            .find_map(|l| l.strip_prefix("cairn_sequencer_epoch "))?
            .trim()
            .parse()
            .ok()?;
        u64::try_from(v).ok()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// One acknowledgement a client got.
struct Acked {
    index: u64,
    leaf: Hash,
    body: Vec<u8>,
    /// When the request was sent.
    sent: Instant,
    /// When the answer came.
    answered: Instant,
    /// Which instance answered.
    instance: usize,
    /// A new entry (not the original of a retry).
    new: bool,
}

/// What the clients saw.
#[derive(Default)]
struct Seen {
    acked: Vec<Acked>,
    checkpoints: BTreeMap<u64, Hash>,
    refused_503: u64,
}

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|k| k.parse().ok()).unwrap_or(default)
}

/// The instance writing now, waiting up to the bound for one.
fn leader(instances: &Mutex<Vec<Instance>>) -> usize {
    let until = Instant::now() + FAILOVER_BOUND;
    loop {
        if let Some(i) = instances.lock().unwrap().iter().position(|i| i.epoch().is_some()) {
            return i;
        }
        assert!(Instant::now() < until, "no instance took the lease");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The time from `t0` until a client got an acknowledgement of a new entry
/// for a request sent after `t0`.
fn committed_after(seen: &Mutex<Seen>, t0: Instant, what: &str) -> Duration {
    let until = Instant::now() + FAILOVER_BOUND;
    loop {
        let first = seen
            .lock()
            .unwrap()
            .acked
            .iter()
            .filter(|a| a.new && a.sent > t0)
            .map(|a| a.answered)
            .min();
        if let Some(at) = first {
            return at - t0;
        }
        assert!(
            Instant::now() < until,
            "{what}: nothing committed within {FAILOVER_BOUND:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
fn three_instances_fail_over_without_losing_an_acknowledged_receipt() {
    let Some(cluster) = pg_cluster::Cluster::start("failover") else {
        return;
    };
    let db = cluster.params();
    let kills = env_u64("CAIRN_FAILOVER_KILLS", 20);
    let mut seed = env_u64("CAIRN_KILL_SEED", now_ms());
    println!("failover: {kills} kills, CAIRN_KILL_SEED={seed}");
    let root = TempDir::new("failover");
    let mut list = Vec::new();
    for k in 0..INSTANCES {
        let dir = root.0.join(format!("instance-{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        list.push(Instance {
            addr: free_port(),
            dir,
            child: None,
        });
    }
    // The first instance creates the log key; the others get a copy of it
    // (every instance signs the same log).
    let key = list[0].start(&db, true);
    for k in 1..INSTANCES {
        for f in ["log.key", "log.vkey"] {
            std::fs::copy(list[0].dir.join(f), list[k].dir.join(f)).unwrap();
        }
        assert_eq!(list[k].start(&db, false), key);
    }
    let addrs: Vec<String> = list.iter().map(|i| i.addr.clone()).collect();
    let instances = Arc::new(Mutex::new(list));
    let first = leader(&instances);
    let bundle = bundle();
    let policy = Policy::compile(&bundle).unwrap();
    let reg = common::key_statement(KeyAction::Register, &examples::gate_key());
    let signed = cairn_api::cose::sign(bundle.as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
    for (path, body) in [("/v1/keys", reg), ("/v1/policies", signed)] {
        let (status, _, b) = request(&addrs[first], "POST", path, &body, true).unwrap();
        assert_eq!(status, 201, "{path}: {}", String::from_utf8_lossy(&b));
    }

    // The clients.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (seen, stop, next, addrs, key, bundle, policy) = (
            seen.clone(),
            stop.clone(),
            next.clone(),
            addrs.clone(),
            key.clone(),
            bundle.clone(),
            Policy::compile(&bundle).unwrap(),
        );
        clients.push(std::thread::spawn(move || {
            let mut at = c % INSTANCES;
            while !stop.load(Ordering::Relaxed) {
                let body = receipt(next.fetch_add(1, Ordering::Relaxed), &policy, &bundle);
                // The same bytes until acknowledged (idempotent on every instance).
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    match request(&addrs[at], "POST", "/v1/receipts", &body, false) {
                        Some((201 | 200, _, resp)) => {
                            let v: serde_json::Value = serde_json::from_slice(&resp).unwrap();
                            let proof = TlogProof::parse(v["tlog_proof"].as_str().unwrap().as_bytes()).unwrap();
                            let (entry, cp, _) = proof.verify_body(&body, &key, &[]).unwrap();
                            let mut s = seen.lock().unwrap();
                            s.checkpoints.insert(cp.size, cp.root);
                            let new = v["existing"].as_bool() == Some(false);
                            s.acked.push(Acked {
                                index: proof.index,
                                leaf: entry.leaf_hash(),
                                body,
                                sent,
                                answered: Instant::now(),
                                instance: at,
                                new,
                            });
                            break;
                        }
                        Some((503, _, _)) => {
                            seen.lock().unwrap().refused_503 += 1;
                            at = (at + 1) % INSTANCES;
                        }
                        Some((status, _, resp)) => {
                            panic!("status {status}: {}", String::from_utf8_lossy(&resp))
                        }
                        None => at = (at + 1) % INSTANCES,
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }));
    }

    // 1. SIGKILL the leader, again and again.
    let mut failovers = Vec::new();
    for round in 0..kills {
        std::thread::sleep(Duration::from_millis(300 + lcg(&mut seed) % 700));
        let l = leader(&instances);
        let t0 = Instant::now();
        instances.lock().unwrap()[l].kill();
        let took = committed_after(&seen, t0, &format!("kill {round}"));
        failovers.push(took);
        let mut list = instances.lock().unwrap();
        list[l].start(&db, false);
    }

    // 2. Freeze the leader past its lease; resume it once another leads.
    std::thread::sleep(Duration::from_millis(500));
    let frozen = leader(&instances);
    instances.lock().unwrap()[frozen].signal("-STOP");
    let t0 = Instant::now();
    let stop_failover = committed_after(&seen, t0, "SIGSTOP");
    std::thread::sleep(Duration::from_millis(2 * TTL_MS));
    let resumed_at = Instant::now();
    instances.lock().unwrap()[frozen].signal("-CONT");
    let new_leader = leader(&instances);
    assert_ne!(new_leader, frozen, "another instance leads after the freeze");
    // The resumed one follows: a write to it is refused, naming the leader.
    let probe = receipt(u64::MAX / 2, &policy, &bundle);
    let until = Instant::now() + FAILOVER_BOUND;
    loop {
        if let Some((status, head, body)) = request(&addrs[frozen], "POST", "/v1/receipts", &probe, false) {
            assert_eq!(
                status,
                503,
                "the resumed former leader wrote: {}",
                String::from_utf8_lossy(&body)
            );
            let p: serde_json::Value = serde_json::from_slice(&body).unwrap();
            if p["type"].as_str().is_some_and(|t| t.ends_with("/not-leader"))
                && head.contains(&format!("cairn-leader: http://{}", addrs[new_leader]))
            {
                break;
            }
        }
        assert!(
            Instant::now() < until,
            "the resumed former leader does not say who leads"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let late_answers = seen
        .lock()
        .unwrap()
        .acked
        .iter()
        .filter(|a| a.instance == frozen && a.sent < resumed_at && a.answered >= resumed_at)
        .count();

    // 3. PostgreSQL stopped under load, then started again.
    std::thread::sleep(Duration::from_millis(500));
    cluster.stop();
    let down = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let up = Instant::now();
    cluster.start_again();
    let resumed = committed_after(&seen, up, "PostgreSQL restart");
    let during = seen
        .lock()
        .unwrap()
        .acked
        .iter()
        .filter(|a| a.new && a.sent > down && a.answered < up)
        .count();
    assert_eq!(during, 0, "a write was acknowledged while PostgreSQL was down");
    std::thread::sleep(Duration::from_millis(500));

    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let seen = Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap();
    let l = leader(&instances);
    check_one_history(&addrs[l], &key, &seen);
    for a in &addrs {
        // Every instance serves the same log.
        let (status, _, note) = request(a, "GET", "/checkpoint", b"", false).unwrap();
        assert_eq!(status, 200);
        Checkpoint::verify(&note, &key, &[]).unwrap();
    }
    fsck_and_audit(&db, &instances.lock().unwrap()[l].dir, &addrs[l], &key);
    let acked = seen.acked.len();
    let mut f = failovers.clone();
    println!(
        "failover: {kills} SIGKILLs of the leader, 1 SIGSTOP, 1 PostgreSQL restart; {acked} receipts acknowledged, \
         0 lost; failover median {:?}, max {:?}; after SIGSTOP {stop_failover:?} ({late_answers} answers from the \
         frozen leader after it resumed, all in the log); writes resumed {resumed:?} after PostgreSQL came back; \
         {} answers 503 on the way",
        median(&mut f),
        failovers.iter().max().unwrap(),
        seen.refused_503
    );
    assert!(acked > 0);
}

/// Every acknowledged receipt is in the log with its bytes and included
/// under the newest checkpoint; every checkpoint seen is consistent with it.
fn check_one_history(addr: &str, key: &VerifierKey, seen: &Seen) {
    let get = |path: &str| {
        let (status, _, body) = request(addr, "GET", path, b"", false).unwrap();
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        body
    };
    let hashes = |v: &serde_json::Value| -> Vec<Hash> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
            .collect()
    };
    let now = Checkpoint::verify(&get("/v1/checkpoint"), key, &[]).unwrap().0;
    for (&size, root) in &seen.checkpoints {
        let p: serde_json::Value =
            serde_json::from_slice(&get(&format!("/v1/proofs/consistency?from={size}&to={}", now.size))).unwrap();
        verify_consistency::<Sha256>(size, now.size, &hashes(&p["proof"]), &root.0, &now.root.0)
            .unwrap_or_else(|e| panic!("checkpoint {size} is not consistent with {}: {e}", now.size));
    }
    for Acked { index, leaf, body, .. } in &seen.acked {
        let entry = cairn_api::entry::Entry::from_cbor(&get(&format!("/v1/entries/{index}"))).unwrap();
        assert_eq!(
            entry.body(),
            body.as_slice(),
            "entry {index} is not the receipt acknowledged"
        );
        let p: serde_json::Value =
            serde_json::from_slice(&get(&format!("/v1/proofs/inclusion?index={index}&size={}", now.size))).unwrap();
        verify_inclusion::<Sha256>(leaf, *index, now.size, &hashes(&p["proof"]), &now.root.0)
            .unwrap_or_else(|e| panic!("acknowledged entry {index} is not included: {e}"));
    }
}

fn fsck_and_audit(db: &str, instance: &Path, addr: &str, key: &VerifierKey) {
    // fsck reads the log from the database; the directory gives it the log
    // key (the instances' own directories hold their query indexes open).
    let dir = instance.with_file_name("fsck");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(instance.join("log.vkey"), dir.join("log.vkey")).unwrap();
    let dir = dir.as_path();
    let out = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args(["fsck", "--database", db, "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "fsck: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The verifier is another crate's binary, built beside this one by a
    // workspace build (`cargo test --workspace`).
    let verify = Path::new(env!("CARGO_BIN_EXE_cairn-ledger")).with_file_name("cairn-verify");
    if !verify.exists() {
        assert!(std::env::var("CI").is_err(), "{} is not built", verify.display());
        eprintln!(
            "skipped the audit: {} is not built (cargo build -p cairn-verifier-cli)",
            verify.display()
        );
        return;
    }
    let trust = dir.join("trust");
    std::fs::write(
        &trust,
        format!("log {key}\nauthority {}\n", examples::authority_key().verifier()),
    )
    .unwrap();
    let out = Command::new(&verify)
        .args(["audit", "--url", &format!("http://{addr}"), "--trust"])
        .arg(&trust)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "cairn-verify audit: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
