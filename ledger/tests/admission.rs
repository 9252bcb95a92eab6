//! Admission rules of docs/spec.md 20.1 that decide whether evidence gets
//! in: late evidence is logged and marked, a retry is answered whenever it
//! comes, and a break-glass block is checked as the verifier checks it.
//! The ledger's clock is injected (an outage of hours is not slept).

mod common;

use std::sync::Arc;

use cairn_api::entry::{KeyAction, KeyRole, KeyStatement, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::keys::{KeyType, SignerKey};
use cairn_api::policy::Bundle;
use cairn_api::receipt::{BreakGlass, Receipt, ReceiptError, SignedReceipt};
use cairn_api::timestamp::Timestamp;
use cairn_ledger::clock::Clock;
use cairn_ledger::sequencer::{Sequencer, SequencerConfig, SubmitError};
use cairn_ledger::start::{Ledger, LedgerConfig};
use cairn_ledger::store::{MemoryStore, Store};
use common::now_ms;

const HOUR: u64 = 3_600_000;

fn bundle() -> Bundle {
    let rules = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/policies/devops-staging/cairn-rules/rules.toml"),
    )
    .unwrap();
    common::bundle("devops-staging", &rules)
}

fn receipt(n: u64, decided_at: u64) -> Vec<u8> {
    common::receipt(n, &examples::gate_key(), decided_at, &bundle(), "adm")
}

/// A sequencer on `store` whose clock is `offset_ms` ahead of the system's.
async fn start(store: Arc<dyn Store>, offset_ms: i64) -> Sequencer {
    let config = LedgerConfig {
        sequencer: SequencerConfig {
            clock: Clock::offset(offset_ms),
            ..SequencerConfig::default()
        },
        ..LedgerConfig::new(examples::log_key(), vec![examples::authority_key().verifier()])
    };
    Ledger::start(store, config).await.unwrap().sequencer().clone()
}

fn statement(action: KeyAction, role: KeyRole, key: &SignerKey) -> Vec<u8> {
    KeyStatement {
        action,
        role,
        key: key.verifier(),
        issued_at: Timestamp::from_millis(now_ms()).unwrap(),
        reason: None,
    }
    .sign(&examples::authority_key())
    .unwrap()
}

async fn bootstrap(seq: &Sequencer) {
    seq.submit_key(statement(KeyAction::Register, KeyRole::Gate, &examples::gate_key()))
        .await
        .unwrap();
    let body = cairn_api::cose::sign(bundle().as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
    seq.submit_policy(body).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_guards_the_future_and_late_evidence_is_logged_and_marked() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let seq = start(store.clone(), 0).await;
    bootstrap(&seq).await;
    let t = now_ms();
    // On time: not marked.
    let on_time = seq.submit_receipt(receipt(1, t - 1000)).await.unwrap();
    assert_eq!(on_time.late_by_ms, None);
    // Two hours old (a SILENCE spooled through an outage): logged, marked.
    let late = seq.submit_receipt(receipt(2, t - 2 * HOUR)).await.unwrap();
    let by = late.late_by_ms.expect("marked late");
    assert!((2 * HOUR..2 * HOUR + 60_000).contains(&by), "{by}");
    assert_eq!(late.to_wire().late_by_ms, Some(by));
    // Its retry is marked the same.
    let again = seq.submit_receipt(receipt(2, t - 2 * HOUR)).await.unwrap();
    assert_eq!(
        (again.index, again.existing, again.late_by_ms),
        (late.index, true, Some(by))
    );
    // From the future beyond the skew: refused, time cures it.
    assert!(matches!(
        seq.submit_receipt(receipt(3, t + HOUR)).await,
        Err(SubmitError::ClockSkew { skew_s: 300, .. })
    ));
    // Older than the lateness bound: refused with its own reason.
    assert!(matches!(
        seq.submit_receipt(receipt(4, t - 31 * 24 * HOUR)).await,
        Err(SubmitError::TooLate {
            max_lateness_s: 2_592_000,
            ..
        })
    ));
    assert_eq!(store.state().unwrap().frontier.size(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_is_answered_with_the_original_whenever_it_comes() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let seq = start(store.clone(), 0).await;
    bootstrap(&seq).await;
    let t = now_ms();
    let body = receipt(1, t);
    let first = seq.submit_receipt(body.clone()).await.unwrap();
    // The acknowledgement was lost; the gate retries six hours later by the
    // ledger's clock, after its key was revoked.
    seq.submit_key(statement(KeyAction::Revoke, KeyRole::Gate, &examples::gate_key()))
        .await
        .unwrap();
    let seq = start(store.clone(), i64::try_from(6 * HOUR).unwrap()).await;
    let retry = seq.submit_receipt(body.clone()).await.unwrap();
    assert_eq!((retry.index, retry.existing), (first.index, true));
    assert!(retry.size > first.size, "a fresh proof under the newest checkpoint");
    // Other bytes, the same (gate, idempotency key): the original too.
    let mut p = SignedReceipt::parse(&body).unwrap().unverified().clone().into_parts();
    p.reason.admin_message = "retried".into();
    let other = SignedReceipt::sign(Receipt::new(p).unwrap(), &examples::gate_key())
        .unwrap()
        .1;
    assert_eq!(seq.submit_receipt(other).await.unwrap().index, first.index);
    // A new receipt from the revoked key is refused, and nothing changed.
    let size = store.state().unwrap().frontier.size();
    assert!(matches!(
        seq.submit_receipt(receipt(2, t)).await,
        Err(SubmitError::RevokedKey(_))
    ));
    assert_eq!(store.state().unwrap().frontier.size(), size);
}

/// Example break-glass receipt `n` decided at `t`, its block signed by
/// `signer` in the name of `operator`, or with an all-zero signature.
fn break_glass(n: u64, t: u64, operator: &SignerKey, signer: &SignerKey, zero: bool) -> Vec<u8> {
    let gate = examples::gate_key();
    let body = common::receipt(n, &gate, t, &bundle(), "bg");
    let mut p = SignedReceipt::parse(&body).unwrap().unverified().clone().into_parts();
    let mut bg = BreakGlass::sign(
        signer,
        "SEV-1",
        Timestamp::from_millis(t + HOUR).unwrap(),
        &p.receipt_id,
        &p.gate,
        &p.request,
    );
    bg.operator = operator.verifier().key_ref();
    if zero {
        bg.signature.0 = [0; 64];
    }
    p.break_glass = Some(bg);
    p.decision = cairn_api::receipt::Decision::Permit;
    SignedReceipt::sign(Receipt::new(p).unwrap(), &gate).unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_break_glass_block_is_checked_as_the_verifier_checks_it() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let seq = start(store.clone(), 0).await;
    bootstrap(&seq).await;
    let op = examples::operator_key();
    let stranger = SignerKey::from_seed("stranger", KeyType::Ed25519, &[0x55; 32]).unwrap();
    let t = now_ms();
    let refused = |r: Result<_, SubmitError>| match r {
        Err(SubmitError::Receipt(e)) => e,
        other => panic!("{other:?}"),
    };
    // Counter-signed by a key the log never registered.
    let e = refused(seq.submit_receipt(break_glass(1, t, &stranger, &stranger, false)).await);
    assert!(matches!(e, ReceiptError::UnregisteredOperator(_)), "{e}");
    // The operator is not registered yet: its genuine signature is refused.
    let e = refused(seq.submit_receipt(break_glass(2, t, &op, &op, false)).await);
    assert!(matches!(e, ReceiptError::UnregisteredOperator(_)), "{e}");
    seq.submit_key(statement(KeyAction::Register, KeyRole::Operator, &op))
        .await
        .unwrap();
    // A registered operator named, an all-zero signature.
    let e = refused(seq.submit_receipt(break_glass(3, t, &op, &op, true)).await);
    assert!(matches!(e, ReceiptError::BadBreakGlassSignature(_)), "{e}");
    // A registered operator named, signed by another key.
    let e = refused(seq.submit_receipt(break_glass(4, t, &op, &stranger, false)).await);
    assert!(matches!(e, ReceiptError::BadBreakGlassSignature(_)), "{e}");
    let e = refused(
        seq.submit_receipt(break_glass(4, t, &op, &examples::gate_key(), false))
            .await,
    );
    assert!(matches!(e, ReceiptError::BadBreakGlassSignature(_)), "{e}");
    let size = store.state().unwrap().frontier.size();
    // The genuine article.
    let ok = seq.submit_receipt(break_glass(5, t, &op, &op, false)).await.unwrap();
    assert_eq!(ok.index, size);
    // Revoked: refused again.
    seq.submit_key(statement(KeyAction::Revoke, KeyRole::Operator, &op))
        .await
        .unwrap();
    let e = refused(seq.submit_receipt(break_glass(6, t, &op, &op, false)).await);
    assert!(matches!(e, ReceiptError::UnregisteredOperator(_)), "{e}");
}
