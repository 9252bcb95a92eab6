//! The sequencer against real stores: every acknowledgement is durable and
//! provable, resubmissions return the original, refusals change nothing.

mod common;

use std::sync::Arc;

use cairn_api::entry::{KeyAction, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::keys::{KeyType, SignerKey};
use cairn_api::merkle::{Hash, Sha256, inclusion_proof, verify_inclusion};
use cairn_api::note::Checkpoint;
use cairn_api::policy::Bundle;
use cairn_api::receipt::{Receipt, SignedReceipt};
use cairn_ledger::sequencer::{Ack, Sequencer, SequencerConfig, SubmitError};
use cairn_ledger::start::{Ledger, LedgerConfig};
use cairn_ledger::store::{Fault, FaultyStore, MemoryStore, RedbStore, Store, StoreNodes};
use common::now_ms;

fn bundle() -> Bundle {
    let rules = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/policies/devops-staging/cairn-rules/rules.toml"),
    )
    .unwrap();
    common::bundle("devops-staging", &rules)
}

/// Example receipt `n`, decided at `decided_at` under the archived bundle, signed by `gate`.
fn receipt(n: u64, gate: &SignerKey, decided_at: u64) -> Vec<u8> {
    common::receipt(n, gate, decided_at, &bundle(), "idem")
}

async fn start_with(store: Arc<dyn Store>, sequencer: SequencerConfig) -> Sequencer {
    let config = LedgerConfig {
        sequencer,
        ..LedgerConfig::new(examples::log_key(), vec![examples::authority_key().verifier()])
    };
    Ledger::start(store, config).await.unwrap().sequencer().clone()
}

async fn start(store: Arc<dyn Store>) -> Sequencer {
    start_with(store, SequencerConfig::default()).await
}

/// Register the example gate key and archive the bundle.
async fn bootstrap(seq: &Sequencer) {
    assert_eq!(
        seq.submit_key(common::key_statement(KeyAction::Register, &examples::gate_key()))
            .await
            .unwrap()
            .index,
        0
    );
    let body = cairn_api::cose::sign(bundle().as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
    assert_eq!(seq.submit_policy(body).await.unwrap().index, 1);
}

fn assert_provable(ack: &Ack, body: &[u8]) {
    // What the HTTP answer carries is what a gate verifies: the tlog-proof
    // text, rendered without parsing the checkpoint again, must parse back
    // to the same proof.
    let proof = cairn_api::proof::TlogProof::parse(ack.to_wire().tlog_proof.as_bytes()).unwrap();
    assert_eq!(proof, ack.tlog_proof().unwrap());
    let (_, cp, _) = proof.verify_body(body, &examples::log_key().verifier(), &[]).unwrap();
    assert_eq!(cp.size, ack.size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_are_acknowledged_with_proofs_and_resubmissions_return_the_original() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let seq = start(store.clone()).await;
    bootstrap(&seq).await;
    let gate = examples::gate_key();
    let t = now_ms();
    let body = receipt(1, &gate, t);
    let ack = seq.submit_receipt(body.clone()).await.unwrap();
    assert_eq!((ack.index, ack.existing), (2, false));
    assert_provable(&ack, &body);
    // The same bytes again: the original, no second entry.
    let again = seq.submit_receipt(body.clone()).await.unwrap();
    assert_eq!((again.index, again.existing), (2, true));
    // Other bytes, same (gate, idempotency key): the original.
    let mut p = Receipt::from_cbor(SignedReceipt::parse(&body).unwrap().unverified().as_cbor())
        .unwrap()
        .into_parts();
    p.reason.admin_message = "retried".into();
    let retry = SignedReceipt::sign(Receipt::new(p).unwrap(), &gate).unwrap().1;
    assert_eq!(seq.submit_receipt(retry).await.unwrap().index, 2);
    assert_eq!(store.state().unwrap().frontier.size(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_exact_and_change_nothing() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let seq = start(store.clone()).await;
    let gate = examples::gate_key();
    let t = now_ms();
    // Before registration: unknown key.
    assert!(matches!(
        seq.submit_receipt(receipt(1, &gate, t)).await,
        Err(SubmitError::UnknownKey(_))
    ));
    // A key statement signed by a non-authority.
    let bad = common::key_statement_signed_by(KeyAction::Register, &examples::gate_key(), &gate);
    assert!(matches!(
        seq.submit_key(bad).await,
        Err(SubmitError::UnknownAuthority(_))
    ));
    // A statement naming the authority whose signature does not verify.
    let mut forged = common::key_statement(KeyAction::Register, &gate);
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert!(matches!(
        seq.submit_key(forged).await,
        Err(SubmitError::AuthoritySignature(_))
    ));
    assert!(
        seq.submit_key(common::key_statement(KeyAction::Register, &gate))
            .await
            .is_ok()
    );
    // The bundle is not archived yet.
    assert!(matches!(
        seq.submit_receipt(receipt(1, &gate, t)).await,
        Err(SubmitError::UnarchivedPolicy(_))
    ));
    bootstrap_policy(&seq).await;
    // Too far ahead of the ledger's clock (the past: tests/admission.rs).
    assert!(matches!(
        seq.submit_receipt(receipt(2, &gate, t + 3_600_000)).await,
        Err(SubmitError::ClockSkew { .. })
    ));
    // Garbage.
    assert!(matches!(
        seq.submit_receipt(vec![0xa0]).await,
        Err(SubmitError::Receipt(_))
    ));
    // Signed by another key claiming the registered gate's name: the kid
    // names an unregistered key.
    let impostor = SignerKey::from_seed(gate.name(), KeyType::Ed25519, &[0x77; 32]).unwrap();
    assert!(matches!(
        seq.submit_receipt(receipt(3, &impostor, t)).await,
        Err(SubmitError::UnknownKey(_))
    ));
    assert_eq!(store.state().unwrap().frontier.size(), 2, "only the key and the bundle");
    // A revocation takes effect for what follows.
    seq.submit_key(common::key_statement(KeyAction::Revoke, &gate))
        .await
        .unwrap();
    assert!(matches!(
        seq.submit_receipt(receipt(4, &gate, t)).await,
        Err(SubmitError::RevokedKey(_))
    ));
    assert_eq!(seq.key_registered(&gate.verifier().key_ref()), Some(false));
}

async fn bootstrap_policy(seq: &Sequencer) {
    let body = cairn_api::cose::sign(bundle().as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
    let first = seq.submit_policy(body.clone()).await.unwrap();
    // Archiving the same bundle again returns the original entry.
    let again = seq.submit_policy(body).await.unwrap();
    assert_eq!((again.index, again.existing), (first.index, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submitters_all_get_provable_acknowledgements() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let seq = start(store.clone()).await;
    bootstrap(&seq).await;
    let t = now_ms();
    let mut tasks = Vec::new();
    for s in 0..64u64 {
        let seq = seq.clone();
        tasks.push(tokio::spawn(async move {
            let gate = examples::gate_key();
            let mut acks = Vec::new();
            for k in 0..10u64 {
                let body = receipt(1000 + s * 10 + k, &gate, t);
                acks.push((seq.submit_receipt(body.clone()).await.unwrap(), body));
            }
            acks
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(all.len(), 640);
    let mut indices: Vec<u64> = all.iter().map(|(a, _)| a.index).collect();
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), 640, "every receipt its own entry");
    // Every acknowledgement is provable under the latest checkpoint.
    let state = store.state().unwrap();
    let (cp, _, _) = Checkpoint::verify(
        state.checkpoint.unwrap().as_bytes(),
        &examples::log_key().verifier(),
        &[],
    )
    .unwrap();
    assert_eq!(cp.size, 642);
    for (ack, body) in &all {
        assert_provable(ack, body);
        let proof = inclusion_proof::<Sha256, _>(&StoreNodes(store.as_ref()), ack.index, cp.size).unwrap();
        verify_inclusion::<Sha256>(&ack.leaf_hash, ack.index, cp.size, &proof, &cp.root.0).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_faults_are_never_acknowledged_and_the_ledger_recovers() {
    let faulty = Arc::new(FaultyStore::new(MemoryStore::new()));
    let store: Arc<dyn Store> = faulty.clone();
    let seq = start(store.clone()).await;
    bootstrap(&seq).await;
    let gate = examples::gate_key();
    let t = now_ms();
    // A failed write: an error, nothing stored.
    faulty.arm(Fault::BeforeWrite);
    let body = receipt(1, &gate, t);
    assert!(matches!(
        seq.submit_receipt(body.clone()).await,
        Err(SubmitError::NotDurable(_))
    ));
    assert_eq!(store.state().unwrap().frontier.size(), 2);
    // The fault cleared: the same receipt goes in.
    let ack = seq.submit_receipt(body.clone()).await.unwrap();
    assert_eq!((ack.index, ack.existing), (2, false));
    // A commit whose outcome was unknown: not acknowledged; the retry finds
    // the durable original; the log continues after it.
    faulty.arm(Fault::AfterWrite);
    let body2 = receipt(2, &gate, t);
    assert!(matches!(
        seq.submit_receipt(body2.clone()).await,
        Err(SubmitError::NotDurable(_))
    ));
    let retry = seq.submit_receipt(body2.clone()).await.unwrap();
    assert_eq!((retry.index, retry.existing), (3, true));
    assert_provable(&retry, &body2);
    let next = seq.submit_receipt(receipt(3, &gate, t)).await.unwrap();
    assert_eq!(next.index, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_everything() {
    let path = std::env::temp_dir().join(format!("cairn-seq-restart-{}.redb", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let gate = examples::gate_key();
    let t = now_ms();
    let (first, body) = {
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(&path).unwrap());
        let seq = start(store).await;
        bootstrap(&seq).await;
        let body = receipt(1, &gate, t);
        (seq.submit_receipt(body.clone()).await.unwrap(), body)
    };
    // Give the old sequencer task a moment to drop its store handle.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(&path).unwrap());
    let seq = start(store.clone()).await;
    // Key state and the archive survived: new receipts are accepted, and
    // the old one is still the original.
    assert_eq!(seq.submit_receipt(body.clone()).await.unwrap().index, first.index);
    let next = seq.submit_receipt(receipt(2, &gate, t)).await.unwrap();
    assert_eq!(next.index, first.index + 1);
    assert_provable(&first, &body);
    let _: Hash = next.leaf_hash;
    drop(seq);
    drop(store);
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_counts_from_the_next_entry_of_the_same_batch() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    // A long batch window so the revocation and the receipt share a batch.
    let seq = start_with(
        store.clone(),
        SequencerConfig {
            max_wait: std::time::Duration::from_millis(300),
            ..SequencerConfig::default()
        },
    )
    .await;
    bootstrap(&seq).await;
    let gate = examples::gate_key();
    let revoke = {
        let seq = seq.clone();
        let body = common::key_statement(KeyAction::Revoke, &gate);
        tokio::spawn(async move { seq.submit_key(body).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let late = seq.submit_receipt(receipt(9, &gate, now_ms())).await;
    let revoked = revoke.await.unwrap().unwrap();
    assert_eq!(revoked.index, 2);
    assert!(matches!(late, Err(SubmitError::RevokedKey(_))), "{late:?}");
    assert_eq!(
        store.state().unwrap().frontier.size(),
        3,
        "nothing after the revocation"
    );
}
