//! The split view, end to end. A lying operator holds the real log key and
//! runs two ledgers with two histories: the honest one (A) that the gates
//! were acknowledged by and the witnesses cosigned, and a rewritten one
//! (B) shown to an auditor and to a gate. Two `cairn-witness` instances
//! follow the log. Then:
//! - the witnesses refuse B's checkpoints and keep the evidence;
//! - a gate's proof from B never reaches the quorum (`proofs refresh`
//!   leaves it pending), while its proof from A is upgraded;
//! - `cairn-verify audit` of B with a 2-of-2 quorum fails, naming the fork
//!   and the witness that saw the other history; an audit of A is valid,
//!   "witnessed by 2 of 2".

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_api::entry::{KeyAction, KeyRole, KeyStatement, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::keys::{KeyType, SignerKey, VerifierKey};
use cairn_api::note::Checkpoint;
use cairn_api::receipt::{Receipt, SignedReceipt};
use cairn_api::timestamp::Timestamp;
use cairn_api::witness::WitnessPolicy;
use cairn_api::witness::wire::ForkEvidenceList;
use cairn_gate::client::{Http, HttpLedger, Ledger as _};
use cairn_gate::refresh::{Outcome, refresh_dir};
use cairn_ledger::embedded::{EmbeddedLedger, LedgerSetup};
use cairn_ledger::witnessing::WitnessingConfig;
use cairn_verify::source::{Ledger as Source, Source as AuditSource};
use cairn_verify::trust::Trust;
use common::TempDir;

const TOKEN: &str = "split-view-admin";

fn witness(rt: &tokio::runtime::Runtime, dir: &Path, n: u8) -> (SignerKey, String) {
    let key = SignerKey::from_seed(&format!("witness{n}.example/w"), KeyType::Cosignature, &[40 + n; 32]).unwrap();
    let w = cairn_witness::Witness::new(
        key.clone(),
        vec![examples::log_key().verifier()],
        cairn_witness::State::open(&dir.join(format!("w{n}"))).unwrap(),
    );
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, cairn_witness::http::router(Arc::new(w))).await });
    (key, url)
}

fn ledger(db: &Path, policy: &WitnessPolicy) -> EmbeddedLedger {
    let mut setup = LedgerSetup::new(db, examples::log_key(), vec![examples::authority_key().verifier()]);
    setup.config.admin_token = Some(TOKEN.into());
    setup.config.witnessing = Some(WitnessingConfig {
        policy: policy.clone(),
        interval: Duration::from_millis(50),
        timeout: Duration::from_secs(2),
    });
    EmbeddedLedger::start(setup).unwrap()
}

fn admin_post(url: &str, path: &str, body: &[u8]) {
    let (status, _) = Http::new(url)
        .post(
            path,
            "application/cose",
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            body,
            Duration::from_secs(5),
        )
        .unwrap();
    assert_eq!(status, 201);
}

/// Register the gate key (and, for the rewritten history, the operator key
/// first) and publish the bundle.
fn bootstrap(url: &str, rewritten: bool) -> cairn_api::policy::Bundle {
    let auth = examples::authority_key();
    let mut keys = vec![(KeyRole::Gate, examples::gate_key())];
    if rewritten {
        keys.insert(0, (KeyRole::Operator, examples::operator_key()));
    }
    for (role, key) in keys {
        let st = KeyStatement {
            action: KeyAction::Register,
            role,
            key: key.verifier(),
            issued_at: Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap(),
            reason: None,
        };
        admin_post(url, "/v1/keys", &st.sign(&auth).unwrap());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies/devops-staging/cairn-rules");
    let bundle = cairn_gate::policy_dir::pack_dir(&dir).unwrap();
    admin_post(
        url,
        "/v1/policies",
        &cairn_api::cose::sign(bundle.as_bytes(), POLICY_CONTENT_TYPE, &auth).unwrap(),
    );
    bundle
}

/// Log `n` receipts through the gate's client, saving each as
/// `decide --save` does.
fn decide(url: &str, bundle: &cairn_api::policy::Bundle, tag: &str, n: u64, saved: &Path) {
    let now = cairn_host::clock::now_saturating().millis();
    let client = HttpLedger::new(url, examples::log_key().verifier());
    for i in 0..n {
        let mut p = examples::receipt_parts(i % 9);
        p.gate = examples::gate_key().name().into();
        p.idempotency_key = format!("{tag}-{i}");
        p.receipt_id = examples::receipt_id(now, i);
        p.decided_at = Timestamp::from_millis(now).unwrap();
        p.policy = cairn_api::policy::policy_ref(bundle);
        let id = p.receipt_id.clone();
        let body = SignedReceipt::sign(Receipt::new(p).unwrap(), &examples::gate_key())
            .unwrap()
            .1;
        let ack = client.submit(&body, Duration::from_secs(5)).unwrap();
        std::fs::write(saved.join(format!("{id}.cose")), &body).unwrap();
        std::fs::write(saved.join(format!("{id}.tlog-proof")), ack.proof.to_text()).unwrap();
    }
}

fn served(url: &str, policy: &WitnessPolicy) -> (u64, Vec<String>) {
    let (_, note) = Http::new(url)
        .get("/checkpoint", 65536, Duration::from_secs(5))
        .unwrap();
    let (cp, _, cosigs) = Checkpoint::verify(&note, &examples::log_key().verifier(), &policy.keys()).unwrap();
    let keys: Vec<VerifierKey> = cosigs.into_iter().map(|c| c.key).collect();
    (cp.size, policy.names_of(&keys))
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn a_split_view_is_caught_by_the_witnesses_the_gate_and_the_auditor() {
    let d = TempDir::new("split-view");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (k1, u1) = witness(&rt, &d.0, 1);
    let (k2, u2) = witness(&rt, &d.0, 2);
    let statements = format!(
        "witness w1 {} {u1}\nwitness w2 {} {u2}\ngroup both all w1 w2\nquorum both\n",
        k1.verifier(),
        k2.verifier()
    );
    let policy = WitnessPolicy::parse(&statements).unwrap();
    let trust = Trust::parse(&format!(
        "log {}\nauthority {}\n{statements}",
        examples::log_key().verifier(),
        examples::authority_key().verifier()
    ))
    .unwrap();

    // A: the history the gates were acknowledged by, witnessed by both.
    let (saved_a, saved_b) = (d.0.join("saved-a"), d.0.join("saved-b"));
    std::fs::create_dir_all(&saved_a).unwrap();
    std::fs::create_dir_all(&saved_b).unwrap();
    let a = ledger(&d.0.join("a.redb"), &policy);
    let bundle = bootstrap(&a.url(), false);
    decide(&a.url(), &bundle, "a", 5, &saved_a);
    wait_until("A cosigned at size 7 by both", || {
        served(&a.url(), &policy) == (7, vec!["w1".into(), "w2".into()])
    });

    // B: the same log key, a rewritten history, shown to a gate and to an
    // auditor, larger than what the witnesses cosigned of A.
    let b = ledger(&d.0.join("b.redb"), &policy);
    let bundle_b = bootstrap(&b.url(), true);
    decide(&b.url(), &bundle_b, "b", 6, &saved_b);
    // Every round of B is refused by both witnesses, which keep evidence.
    wait_until("both witnesses to record B's fork", || {
        [&u1, &u2].iter().all(|u| {
            let (_, body) = Http::new(u).get("/forks", 1 << 20, Duration::from_secs(5)).unwrap();
            !serde_json::from_slice::<ForkEvidenceList>(&body)
                .unwrap()
                .forks
                .is_empty()
        })
    });
    assert_eq!(
        served(&b.url(), &policy),
        (9, vec![]),
        "B serves its own checkpoint, cosigned by no one"
    );

    // The gate: its proofs from A are upgraded to the witnessed
    // checkpoint; its proofs from B never reach the quorum.
    let log_key = examples::log_key().verifier();
    let done = refresh_dir(&saved_a, &Http::new(&a.url()), &log_key, &policy).unwrap();
    assert_eq!(done.files.len(), 5);
    assert!(
        done.files
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Upgraded(7) | Outcome::AlreadyWitnessed)),
        "{:?}",
        done.files
    );
    let done = refresh_dir(&saved_b, &Http::new(&b.url()), &log_key, &policy).unwrap();
    assert!(
        done.files.iter().all(|(_, o)| *o == Outcome::Pending(vec![])),
        "{:?}",
        done.files
    );

    // The auditor: B is a fork, named; A is valid and witnessed by 2 of 2.
    let report = cairn_verify::audit::audit(&AuditSource::Ledger(Source::new(&b.url()).unwrap()), &trust, None, true);
    assert_eq!(report.exit_code(), 1, "{report:?}");
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.what.contains("fork: witness w1 cosigned size 7")),
        "{:?}",
        report.failures
    );
    let report = cairn_verify::audit::audit(&AuditSource::Ledger(Source::new(&a.url()).unwrap()), &trust, None, true);
    assert_eq!(report.exit_code(), 0, "{report:?}");
    assert!(
        report.notes.iter().any(|n| n.contains("witnessed by 2 of 2 (w1, w2)")),
        "{:?}",
        report.notes
    );
    a.stop();
    b.stop();
}
