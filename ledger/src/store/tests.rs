//! One suite for every store, plus durability across reopen (redb) and
//! fault injection.

use cairn_api::entry::{Entry, EntryKind, KeyAction, KeyRole, KeyStatement};
use cairn_api::examples;
use cairn_api::merkle::{MemoryTree, Sha256, consistency_proof, inclusion_proof, verify_consistency, verify_inclusion};
use cairn_api::note::Checkpoint;
use cairn_api::timestamp::Timestamp;

use super::*;

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(examples::EXAMPLE_NOW_MS + ms).unwrap()
}

pub(crate) fn key_entry() -> Entry {
    let s = KeyStatement {
        action: KeyAction::Register,
        role: KeyRole::Gate,
        key: examples::gate_key().verifier(),
        issued_at: at(0),
        reason: None,
    };
    Entry::new(EntryKind::Key, at(0), s.sign(&examples::authority_key()).unwrap()).unwrap()
}

pub(crate) fn receipt_entry(n: u64) -> Entry {
    Entry::new(EntryKind::Receipt, at(n + 1), examples::signed_receipt(n)).unwrap()
}

/// The batch a sequencer would commit after `state` for these entries.
pub(crate) fn batch(state: &LogState, entries: &[Entry]) -> CommitBatch {
    let records: Vec<EntryRecord> = entries.iter().map(|e| EntryRecord::from_entry(e).unwrap()).collect();
    CommitBatch::build(state, records, &examples::log_key()).unwrap().0
}

/// A store holding `n` receipts, committed in batches of 100; the entries.
pub(crate) fn filled(store: &dyn Store, n: u64) -> Vec<Entry> {
    let entries: Vec<Entry> = (0..n).map(receipt_entry).collect();
    for chunk in entries.chunks(100) {
        store.commit(&batch(&store.state().unwrap(), chunk)).unwrap();
    }
    entries
}

/// Commit a key registration and 30 receipts in batches of 1, 4 and 25;
/// check everything a ledger reads back.
fn suite(store: &dyn Store) {
    let empty = store.state().unwrap();
    assert_eq!(empty.frontier.size(), 0);
    assert_eq!(empty.checkpoint, None);
    let mut all = vec![key_entry()];
    store.commit(&batch(&empty, &all)).unwrap();
    for range in [0..4u64, 4..29] {
        let entries: Vec<Entry> = range.map(receipt_entry).collect();
        let state = store.state().unwrap();
        store.commit(&batch(&state, &entries)).unwrap();
        all.extend(entries);
    }
    let state = store.state().unwrap();
    let tree = MemoryTree::<Sha256>::from_leaf_hashes(all.iter().map(Entry::leaf_hash));
    assert_eq!(state.frontier.size(), 30);
    assert_eq!(state.frontier.root(), tree.root());
    // The latest checkpoint verifies and names the tree.
    let (cp, _, _) = Checkpoint::verify(
        state.checkpoint.as_ref().unwrap().as_bytes(),
        &examples::log_key().verifier(),
        &[],
    )
    .unwrap();
    assert_eq!((cp.size, cp.root), (30, tree.root()));
    assert_eq!(store.checkpoint_sizes(0, 100, 10).unwrap(), vec![1, 5, 30]);
    assert_eq!(store.checkpoint_sizes(2, 29, 10).unwrap(), vec![5]);
    // Entries and proofs are read from storage and verify.
    for (i, e) in all.iter().enumerate() {
        let i = i as u64;
        assert_eq!(store.entry(i).unwrap().unwrap(), e.to_cbor());
        assert_eq!(store.index_of_leaf(&e.leaf_hash()).unwrap(), Some(i));
        let proof = inclusion_proof::<Sha256, _>(&StoreNodes(store), i, 30).unwrap();
        verify_inclusion::<Sha256>(&e.leaf_hash(), i, 30, &proof, &cp.root.0).unwrap();
    }
    assert_eq!(store.entry(30).unwrap(), None);
    let old = Checkpoint::parse(
        SignedNote::parse(store.checkpoint(5).unwrap().unwrap().as_bytes())
            .unwrap()
            .text(),
    )
    .unwrap();
    let c = consistency_proof::<Sha256, _>(&StoreNodes(store), 5, 30).unwrap();
    verify_consistency::<Sha256>(5, 30, &c, &old.root.0, &cp.root.0).unwrap();
    // Proofs from prefetched nodes are the same proofs, for every index and
    // size and every pair of sizes; the head is the latest checkpoint.
    for size in 1..=30u64 {
        for i in 0..size {
            assert_eq!(
                prefetched(store, |n| inclusion_proof::<Sha256, _>(n, i, size)).unwrap(),
                inclusion_proof::<Sha256, _>(&StoreNodes(store), i, size).unwrap()
            );
        }
        for from in 1..=size {
            assert_eq!(
                prefetched(store, |n| consistency_proof::<Sha256, _>(n, from, size)).unwrap(),
                consistency_proof::<Sha256, _>(&StoreNodes(store), from, size).unwrap()
            );
        }
    }
    assert!(prefetched(store, |n| inclusion_proof::<Sha256, _>(n, 30, 30)).is_err());
    assert_eq!(store.head().unwrap(), (30, state.checkpoint.clone()));
    let ids = [NodeId { level: 0, index: 3 }, NodeId { level: 9, index: 0 }];
    assert_eq!(store.nodes(&ids).unwrap(), vec![Some(all[3].leaf_hash()), None]);
    // Idempotency and keys.
    let r7 = examples::receipt(7);
    assert_eq!(
        store
            .index_of_idempotency(&r7.parts().gate, &r7.parts().idempotency_key)
            .unwrap(),
        Some(8)
    );
    assert_eq!(
        store.index_of_idempotency("gate.example/eks-proxy", "nope").unwrap(),
        None
    );
    // A batch's look-ups at once: by leaf hash first, then by (gate, key).
    let idem = |g: &str, k: &str| Some((g.to_owned(), k.to_owned()));
    let (g7, k7) = (r7.parts().gate.as_str(), r7.parts().idempotency_key.as_str());
    assert_eq!(
        store
            .known(&[
                (all[3].leaf_hash(), None),
                (Hash([7; 32]), idem(g7, k7)),
                (Hash([7; 32]), idem(g7, "nope")),
                (all[5].leaf_hash(), idem(g7, k7)),
                (Hash([7; 32]), None),
            ])
            .unwrap(),
        vec![Some(3), Some(8), None, Some(5), None]
    );
    let keys = store.key_events().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].0, 0);
    assert!(keys[0].1.registered);
    assert_eq!(keys[0].1.key_ref(), examples::gate_key().verifier().key_ref());
    // A batch that does not continue the log is refused and changes nothing.
    let stale = batch(&empty, &[receipt_entry(50)]);
    assert!(matches!(store.commit(&stale), Err(StoreError::Corrupt(_))));
    assert_eq!(store.state().unwrap().frontier.size(), 30);
}

use cairn_api::note::SignedNote;

pub(crate) struct TempFile(pub(crate) std::path::PathBuf);
impl TempFile {
    pub(crate) fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("cairn-store-{name}-{}.redb", std::process::id()));
        let _ = std::fs::remove_file(&p);
        TempFile(p)
    }
}
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn memory_store() {
    suite(&MemoryStore::new());
}

#[test]
fn redb_store_and_reopen() {
    let f = TempFile::new("suite");
    let before = {
        let s = RedbStore::open(&f.0).unwrap();
        suite(&s);
        s.state().unwrap()
    };
    // Everything is there after the database is closed and opened again.
    let s = RedbStore::open(&f.0).unwrap();
    assert_eq!(s.state().unwrap(), before);
    let next = batch(&before, &[receipt_entry(40)]);
    s.commit(&next).unwrap();
    assert_eq!(s.state().unwrap().frontier.size(), 31);
}

#[test]
fn postgres_store_and_reopen() {
    let Some(cluster) = super::pg_store::cluster::Cluster::start("suite") else {
        return;
    };
    let before = {
        let s = PgStore::open(&cluster.params()).unwrap();
        suite(&s);
        s.state().unwrap()
    };
    // Another instance (a new pool) reads the same log and continues it;
    // opening again does not apply the schema twice.
    let s = PgStore::open(&cluster.params()).unwrap();
    assert_eq!(s.state().unwrap(), before);
    let next = batch(&before, &[receipt_entry(40)]);
    s.commit(&next).unwrap();
    assert_eq!(s.state().unwrap().frontier.size(), 31);
    // A batch that does not continue the log (a stale writer's) is refused
    // and writes nothing.
    assert!(matches!(s.commit(&next), Err(StoreError::Corrupt(_))));
    assert_eq!(s.size().unwrap(), 31);
}

#[test]
fn postgres_refuses_a_newer_schema() {
    let Some(cluster) = super::pg_store::cluster::Cluster::start("newer") else {
        return;
    };
    drop(PgStore::open(&cluster.params()).unwrap());
    let mut c = postgres::Client::connect(&cluster.params(), postgres::NoTls).unwrap();
    c.execute("UPDATE cairn_schema SET version = version + 1", &[]).unwrap();
    let e = PgStore::open(&cluster.params()).unwrap_err();
    assert!(e.to_string().contains("newer than this ledger knows"), "{e}");
}

#[test]
fn faulty_store_without_faults_is_the_store() {
    suite(&FaultyStore::new(MemoryStore::new()));
}

#[test]
fn a_failed_commit_writes_nothing_and_the_store_recovers() {
    let s = FaultyStore::new(MemoryStore::new());
    let state = s.state().unwrap();
    let b = batch(&state, &[key_entry(), receipt_entry(0)]);
    s.arm(Fault::BeforeWrite);
    assert!(matches!(s.commit(&b), Err(StoreError::Injected(_))));
    assert_eq!(s.state().unwrap().frontier.size(), 0, "nothing written");
    assert_eq!(s.index_of_leaf(&b.entries[1].leaf_hash).unwrap(), None);
    // The fault clears; the same batch goes through.
    s.commit(&b).unwrap();
    assert_eq!(s.state().unwrap().frontier.size(), 2);
    // A commit that wrote but reported failure: the entry is findable, so a
    // retry is answered with the original instead of a second entry.
    let state = s.state().unwrap();
    let b2 = batch(&state, &[receipt_entry(1)]);
    s.arm(Fault::AfterWrite);
    assert!(s.commit(&b2).is_err());
    assert_eq!(s.index_of_leaf(&b2.entries[0].leaf_hash).unwrap(), Some(2));
    s.arm(Fault::Reads);
    assert!(matches!(s.entry(0), Err(StoreError::Injected("read"))));
    assert!(matches!(s.state(), Err(StoreError::Injected("read"))));
    s.clear();
    assert!(s.entry(0).unwrap().is_some());
}

#[test]
fn a_missing_node_is_reported_not_invented() {
    let s = MemoryStore::new();
    let state = s.state().unwrap();
    let mut b = batch(&state, &[key_entry(), receipt_entry(0), receipt_entry(1)]);
    // Drop the node that completes the first two leaves.
    b.nodes.retain(|(id, _)| id.level == 0);
    s.commit(&b).unwrap();
    assert!(matches!(s.state(), Err(StoreError::Corrupt(_))));
}

#[test]
fn policy_entries_index_their_bundle_hash() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies/inbox/cairn-rules");
    let rules = std::fs::read(dir.join("rules.toml")).unwrap();
    let mut files = std::collections::BTreeMap::new();
    files.insert("rules.toml".to_owned(), rules);
    let engine = cairn_api::policy::registry::CAIRN_RULES.engine_ref();
    let bundle = cairn_api::policy::Bundle::new("inbox", 1, engine, at(0), files).unwrap();
    let body = cairn_api::cose::sign(
        bundle.as_bytes(),
        cairn_api::entry::POLICY_CONTENT_TYPE,
        &examples::authority_key(),
    )
    .unwrap();
    let e = Entry::new(EntryKind::Policy, at(0), body).unwrap();
    let s = MemoryStore::new();
    s.commit(&batch(&s.state().unwrap(), &[e])).unwrap();
    assert_eq!(s.bundle_index(&bundle.hash()).unwrap(), Some(0));
}

#[test]
fn the_checkpoint_cursor_pages_through_every_size() {
    let s = MemoryStore::new();
    for n in 0..1100u64 {
        // Distinct receipts (a ledger never logs one idempotency key twice).
        let e = Entry::new(EntryKind::Receipt, at(n), examples::signed_receipt(n)).unwrap();
        s.commit(&batch(&s.state().unwrap(), &[e])).unwrap();
    }
    let mut c = CheckpointCursor::new(&s, 1);
    let mut seen = Vec::new();
    while let Some(size) = c.peek().unwrap() {
        seen.push(size);
        c.advance();
    }
    assert_eq!(
        seen,
        (1..=1100).collect::<Vec<u64>>(),
        "across the 1024-size page boundary"
    );
    let mut from_middle = CheckpointCursor::new(&s, 1050);
    assert_eq!(from_middle.peek().unwrap(), Some(1050));
    assert_eq!(s.size().unwrap(), 1100);
    let rep = crate::fsck::fsck(&s, &examples::log_key().verifier()).unwrap();
    assert_eq!((rep.entries, rep.checkpoints), (1100, 1100));
}
