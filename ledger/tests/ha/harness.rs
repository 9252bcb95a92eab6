//! The harness of `tests/failover.rs`: ledger instances sharing one
//! PostgreSQL database, clients that fail over between them as the gate's
//! client does, and the checks that every acknowledgement holds.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common::now_ms;
use super::common::server::{TOKEN, try_http_full};
use cairn_api::entry::{KeyAction, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::keys::VerifierKey;
use cairn_api::merkle::{Hash, Sha256, verify_consistency, verify_inclusion};
use cairn_api::note::Checkpoint;
use cairn_api::policy::{Bundle, DecisionInput, Policy};
use cairn_api::proof::TlogProof;
use cairn_api::receipt::{Receipt, SignedReceipt};
use cairn_api::timestamp::Timestamp;

/// Instances of the ledger.
pub const INSTANCES: usize = 3;
/// Clients submitting at once.
pub const CLIENTS: usize = 4;
/// The lease's time to live in these runs.
pub const TTL_MS: u64 = 1000;
/// The longest a failover may take: the lease's time to live, a renewal
/// period, PostgreSQL's end of an abandoned transaction (2 s) and a busy
/// machine's slack.
pub const FAILOVER_BOUND: Duration = Duration::from_secs(20);
/// How long one request may take before the client tries the next instance.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

const RULES: &str = include_str!("../../../examples/policies/devops-staging/cairn-rules/rules.toml");

pub fn bundle() -> Bundle {
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
pub fn receipt(n: u64, policy: &Policy, bundle: &Bundle) -> Vec<u8> {
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
pub fn request(addr: &str, method: &str, path: &str, body: &[u8], admin: bool) -> Option<(u16, String, Vec<u8>)> {
    try_http_full(addr, method, path, "application/cose", body, admin, REQUEST_TIMEOUT)
}

/// One ledger instance: its port and directory never change across restarts.
pub struct Instance {
    pub addr: String,
    pub dir: std::path::PathBuf,
    pub child: Option<Child>,
}

impl Instance {
    pub fn start(&mut self, db: &str, origin: bool) -> VerifierKey {
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

    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(Command::new("kill").args([sig, &pid]).status().unwrap().success());
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The lease epoch it writes under, from its metrics (`None`: it
    /// follows, or does not answer).
    pub fn epoch(&self) -> Option<u64> {
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

pub fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// One acknowledgement a client got.
pub struct Acked {
    pub index: u64,
    pub leaf: Hash,
    pub body: Vec<u8>,
    /// When the request was sent.
    pub sent: Instant,
    /// When the answer came.
    pub answered: Instant,
    /// Which instance answered.
    pub instance: usize,
    /// A new entry (not the original of a retry).
    pub new: bool,
}

/// What the clients saw.
#[derive(Default)]
pub struct Seen {
    pub acked: Vec<Acked>,
    pub checkpoints: BTreeMap<u64, Hash>,
    pub refused_503: u64,
}

pub fn lcg(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|k| k.parse().ok()).unwrap_or(default)
}

/// Stop the clients and take what they saw.
pub fn stop_clients(stop: &AtomicBool, clients: Vec<std::thread::JoinHandle<()>>, seen: Arc<Mutex<Seen>>) -> Seen {
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap()
}

/// The instance writing now, waiting up to the bound for one.
pub fn leader(instances: &Mutex<Vec<Instance>>) -> usize {
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
pub fn committed_after(seen: &Mutex<Seen>, t0: Instant, what: &str) -> Duration {
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

pub fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `n` instances of one log on database `db`, each with its own port and
/// directory under `root`; the first creates the log key, the others get a
/// copy of it (every instance signs the same log). The gate key is
/// registered and the devops-staging bundle archived.
pub fn start_instances(root: &Path, n: usize, db: &str) -> (Arc<Mutex<Vec<Instance>>>, Vec<String>, VerifierKey) {
    let mut list = Vec::new();
    for k in 0..n {
        let dir = root.join(format!("instance-{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        list.push(Instance {
            addr: free_port(),
            dir,
            child: None,
        });
    }
    let key = list[0].start(db, true);
    for k in 1..n {
        for f in ["log.key", "log.vkey"] {
            std::fs::copy(list[0].dir.join(f), list[k].dir.join(f)).unwrap();
        }
        assert_eq!(list[k].start(db, false), key);
    }
    let addrs: Vec<String> = list.iter().map(|i| i.addr.clone()).collect();
    let instances = Arc::new(Mutex::new(list));
    let first = leader(&instances);
    let bundle = bundle();
    let reg = super::common::key_statement(KeyAction::Register, &examples::gate_key());
    let signed = cairn_api::cose::sign(bundle.as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
    for (path, body) in [("/v1/keys", reg), ("/v1/policies", signed)] {
        let (status, _, b) = request(&addrs[first], "POST", path, &body, true).unwrap();
        assert_eq!(status, 201, "{path}: {}", String::from_utf8_lossy(&b));
    }
    (instances, addrs, key)
}

/// Clients submitting receipts until `stop`: each to the instance that
/// answered it last, to the next on a 503 or no answer, the same bytes
/// until acknowledged; every acknowledgement verified and kept in `seen`.
pub fn spawn_clients(
    addrs: &[String],
    key: &VerifierKey,
    seen: &Arc<Mutex<Seen>>,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    let next = Arc::new(AtomicU64::new(0));
    let bundle = bundle();
    let n = addrs.len();
    (0..CLIENTS)
        .map(|c| {
            let (seen, stop, next, addrs, key, bundle) = (
                seen.clone(),
                stop.clone(),
                next.clone(),
                addrs.to_vec(),
                key.clone(),
                bundle.clone(),
            );
            std::thread::spawn(move || {
                let policy = Policy::compile(&bundle).unwrap();
                let mut at = c % n;
                while !stop.load(Ordering::Relaxed) {
                    let body = receipt(next.fetch_add(1, Ordering::Relaxed), &policy, &bundle);
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
                                at = (at + 1) % n;
                            }
                            Some((status, _, resp)) => {
                                panic!("status {status}: {}", String::from_utf8_lossy(&resp))
                            }
                            None => at = (at + 1) % n,
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        })
        .collect()
}

/// Every acknowledged receipt is in the log with its bytes and included
/// under the newest checkpoint; every checkpoint seen is consistent with it.
pub fn check_one_history(addr: &str, key: &VerifierKey, seen: &Seen) {
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

pub fn fsck_and_audit(db: &str, instance: &Path, addr: &str, key: &VerifierKey) {
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
