//! Offline consistency check of a ledger's storage.
//!
//! Walks every entry in index order, decoding it strictly and recomputing
//! its leaf hash; appends the leaves to a fresh frontier and compares every
//! tree node the appends complete with the stored node (so memory stays
//! O(log n)); re-derives the rows of every index admission reads (leaf
//! hash → index, (gate, idempotency key) → index, bundle hash → index,
//! and the key events) and compares them with the stored ones; and at
//! every stored checkpoint's size compares its root and verifies its
//! signature under the log key (read a page of checkpoint sizes at a time).
//! Given the query index, it re-derives the rows of every entry below the
//! index's cursor, finds each, and compares the index's row counts with
//! the derived ones (so the index holds no row an entry does not give).
//! Memory stays flat whatever the size of the log (the key events, one per
//! key statement, are the only list held). Stops at the first
//! inconsistency.

use cairn_api::entry::Entry;
use cairn_api::keys::VerifierKey;
use cairn_api::merkle::{Frontier, Sha256};
use cairn_api::note::Checkpoint;

use crate::query_index::{QueryIndex, RowCounts, Rows};
use crate::store::{CheckpointCursor, EntryRecord, KeyEvent, Store, StoreError};

/// What `fsck` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsckReport {
    /// Entries checked.
    pub entries: u64,
    /// Tree nodes compared.
    pub nodes: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Leaf-hash index rows re-derived and found.
    pub leaf_index: u64,
    /// Idempotency index rows re-derived and found.
    pub idempotency_index: u64,
    /// Key events re-derived and equal to the stored list.
    pub key_events: u64,
    /// Bundle index rows re-derived and found.
    pub bundles: u64,
    /// Query index rows re-derived and found, and the entries the index
    /// covers; `None`: the query index was not checked.
    pub query_index: Option<(u64, u64)>,
}

/// The first inconsistency.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsckError {
    /// The store could not be read.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// An inconsistency, with where it is.
    #[error("inconsistent at {at}: {what}")]
    Inconsistent {
        /// Where (`entry 12`, `node level 3 index 5`, `checkpoint 40`).
        at: String,
        /// What is wrong.
        what: String,
    },
}

fn bad(at: impl Into<String>, what: impl Into<String>) -> FsckError {
    FsckError::Inconsistent {
        at: at.into(),
        what: what.into(),
    }
}

/// Check a store. `log_key` verifies checkpoint signatures.
pub fn fsck(store: &dyn Store, log_key: &VerifierKey) -> Result<FsckReport, FsckError> {
    fsck_with_progress(store, None, log_key, |_, _| {})
}

/// Entries between two calls of [`fsck_with_progress`]'s `progress`.
pub const PROGRESS_EVERY: u64 = 1024;

/// [`fsck`], and the query index when given, telling `progress` (entries
/// checked, entries in all) every [`PROGRESS_EVERY`] entries.
pub fn fsck_with_progress(
    store: &dyn Store,
    query_index: Option<&QueryIndex>,
    log_key: &VerifierKey,
    mut progress: impl FnMut(u64, u64),
) -> Result<FsckReport, FsckError> {
    // The recorded size, read without rebuilding the frontier from stored
    // nodes (those are what is being checked); checkpoints a page at a time.
    let size = store.size()?;
    let mut sizes = CheckpointCursor::new(store, 1);
    let mut frontier = Frontier::<Sha256>::new();
    let mut report = FsckReport {
        entries: 0,
        nodes: 0,
        checkpoints: 0,
        leaf_index: 0,
        idempotency_index: 0,
        key_events: 0,
        bundles: 0,
        query_index: None,
    };
    let indexed = query_index.map_or(0, QueryIndex::indexed);
    if indexed > size {
        return Err(bad(
            "query index",
            format!("it covers {indexed} entries, the log has {size}"),
        ));
    }
    let mut derived = RowCounts::default();
    let mut key_events: Vec<(u64, KeyEvent)> = Vec::new();
    let mut node_error: Option<FsckError> = None;
    for index in 0..size {
        let bytes = store
            .entry(index)?
            .ok_or_else(|| bad(format!("entry {index}"), "missing"))?;
        let entry =
            Entry::from_cbor(&bytes).map_err(|e| bad(format!("entry {index}"), format!("does not decode: {e}")))?;
        let leaf = entry.leaf_hash();
        if store.index_of_leaf(&leaf)? != Some(index) {
            return Err(bad(
                format!("entry {index}"),
                "the leaf index does not point back to it",
            ));
        }
        report.leaf_index += 1;
        let record = EntryRecord::from_entry(&entry)
            .map_err(|e| bad(format!("entry {index}"), format!("its body does not decode: {e}")))?;
        if let Some(r) = &record.receipt {
            let (gate, key) = &r.idempotency;
            if store.index_of_idempotency(gate, key)? != Some(index) {
                return Err(bad(
                    format!("entry {index}"),
                    "the idempotency index does not point back to it",
                ));
            }
            report.idempotency_index += 1;
        }
        if let Some(hash) = &record.bundle {
            if store.bundle_index(hash)? != Some(index) {
                return Err(bad(
                    format!("entry {index}"),
                    "the bundle index does not point back to it",
                ));
            }
            report.bundles += 1;
        }
        if let Some(ix) = query_index
            && index < indexed
        {
            check_rows(ix, index, &record.receipt)?;
            derived.add(RowCounts::of(&record.receipt));
            if index + 1 == indexed && ix.tip()? != Some(leaf) {
                return Err(bad(
                    "query index",
                    format!("its tip is not the leaf hash of entry {index}: it was derived from another log"),
                ));
            }
        }
        if let Some(ev) = record.key {
            key_events.push((index, ev));
        }
        frontier.append_with(leaf, |id, h| {
            if node_error.is_some() {
                return;
            }
            report.nodes += 1;
            match store.node(id) {
                Ok(Some(stored)) if stored == *h => {}
                Ok(Some(_)) => {
                    node_error = Some(bad(
                        format!("node level {} index {}", id.level, id.index),
                        "differs from the recomputed node",
                    ))
                }
                Ok(None) => node_error = Some(bad(format!("node level {} index {}", id.level, id.index), "missing")),
                Err(e) => node_error = Some(FsckError::Store(e)),
            }
        });
        if let Some(e) = node_error.take() {
            return Err(e);
        }
        report.entries += 1;
        if report.entries.is_multiple_of(PROGRESS_EVERY) {
            progress(report.entries, size);
        }
        while sizes.peek()? == Some(frontier.size()) {
            let s = frontier.size();
            sizes.advance();
            let note = store
                .checkpoint(s)?
                .ok_or_else(|| bad(format!("checkpoint {s}"), "listed but missing"))?;
            let (cp, _, _) = Checkpoint::verify(note.as_bytes(), log_key, &[])
                .map_err(|e| bad(format!("checkpoint {s}"), format!("does not verify: {e}")))?;
            if cp.size != s || cp.root != frontier.root() {
                return Err(bad(format!("checkpoint {s}"), "its root is not the recomputed root"));
            }
            report.checkpoints += 1;
        }
    }
    if store.entry(size)?.is_some() {
        return Err(bad(format!("entry {size}"), "entries exist past the recorded size"));
    }
    if size > 0 && store.checkpoint(size)?.is_none() {
        return Err(bad(format!("checkpoint {size}"), "the log's size has no checkpoint"));
    }
    if let Some(s) = sizes.peek()? {
        return Err(bad(format!("checkpoint {s}"), "names a size the log never had"));
    }
    let stored = store.key_events()?;
    if stored != key_events {
        let at = stored.iter().zip(&key_events).find(|(a, b)| a != b).map_or_else(
            || stored.len().min(key_events.len()),
            |(a, _)| usize::try_from(a.0).unwrap_or(usize::MAX),
        );
        return Err(bad(
            format!("key events (near entry {at})"),
            format!(
                "the stored key events ({}) are not those the key entries give ({})",
                stored.len(),
                key_events.len()
            ),
        ));
    }
    report.key_events = key_events.len() as u64;
    if let Some(ix) = query_index {
        let stored = ix.counts()?;
        if stored != derived {
            return Err(bad(
                "query index",
                format!(
                    "it holds {} field and {} break-glass rows, the entries it covers give {} and {}",
                    stored.fields, stored.break_glass, derived.fields, derived.break_glass
                ),
            ));
        }
        report.query_index = Some((derived.fields + derived.break_glass, indexed));
    }
    Ok(report)
}

/// Every query index row of entry `index` is there, and it is marked
/// break-glass exactly when it is.
fn check_rows(ix: &QueryIndex, index: u64, rows: &Rows) -> Result<(), FsckError> {
    let (fields, break_glass) = rows
        .as_ref()
        .map_or((&[][..], false), |r| (r.fields.as_slice(), r.break_glass));
    for (field, value) in fields {
        if !ix.has(*field, value, index)? {
            return Err(bad(
                format!("entry {index}"),
                format!("the query index lacks its {} row", field.name()),
            ));
        }
    }
    if ix.has_break_glass(index)? != break_glass {
        return Err(bad(
            format!("entry {index}"),
            "the query index's break-glass row does not match the entry",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use cairn_api::entry::{Entry, EntryKind};
    use cairn_api::examples;
    use cairn_api::merkle::Hash;
    use cairn_api::timestamp::Timestamp;

    use super::*;
    use crate::store::tests::batch;
    use crate::store::{EntryRecord, MemoryStore};

    fn entries(range: std::ops::Range<u64>) -> Vec<Entry> {
        range
            .map(|n| {
                let at = Timestamp::from_millis(examples::EXAMPLE_NOW_MS + n).unwrap();
                Entry::new(EntryKind::Receipt, at, examples::signed_receipt(n)).unwrap()
            })
            .collect()
    }

    fn log() -> VerifierKey {
        examples::log_key().verifier()
    }

    #[test]
    fn a_consistent_store_passes() {
        let s = MemoryStore::new();
        for r in [0..3, 3..10, 10..11] {
            s.commit(&batch(&s.state().unwrap(), &entries(r))).unwrap();
        }
        let rep = fsck(&s, &log()).unwrap();
        assert_eq!((rep.entries, rep.checkpoints), (11, 3));
        assert_eq!(rep.nodes, 11 + 5 + 2 + 1);
        assert_eq!(fsck(&MemoryStore::new(), &log()).unwrap().entries, 0);
    }

    fn corrupted(f: impl FnOnce(&mut crate::store::CommitBatch)) -> FsckError {
        let s = MemoryStore::new();
        s.commit(&batch(&s.state().unwrap(), &entries(0..4))).unwrap();
        let mut b = batch(&s.state().unwrap(), &entries(4..8));
        f(&mut b);
        s.commit(&b).unwrap();
        fsck(&s, &log()).unwrap_err()
    }

    fn at(e: FsckError) -> String {
        match e {
            FsckError::Inconsistent { at, .. } => at,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_kind_of_corruption_is_found_and_located() {
        assert_eq!(at(corrupted(|b| b.nodes[0].1 = Hash([7; 32]))), "node level 0 index 4");
        assert_eq!(
            at(corrupted(|b| b.nodes.retain(|(id, _)| id.level != 2))),
            "node level 2 index 1"
        );
        // A checkpoint signed by another key.
        let other = cairn_api::keys::SignerKey::from_seed(
            examples::log_key().name(),
            cairn_api::keys::KeyType::Ed25519,
            &[9; 32],
        )
        .unwrap();
        let e = corrupted(|b| {
            let cp = cairn_api::note::Checkpoint::parse(
                cairn_api::note::SignedNote::parse(b.checkpoint.as_bytes())
                    .unwrap()
                    .text(),
            )
            .unwrap();
            b.checkpoint = cp.sign(&other).unwrap().to_text();
        });
        assert_eq!(at(e), "checkpoint 8");
        // An entry whose leaf index points elsewhere.
        let e = corrupted(|b| {
            let r: EntryRecord = b.entries[0].clone();
            b.entries[1].leaf_hash = r.leaf_hash;
        });
        assert!(at(e).starts_with("entry "));
        // An idempotency row pointing elsewhere: two receipts, one key.
        let e = corrupted(|b| {
            let r = b.entries[0].receipt.clone().unwrap();
            b.entries[1].receipt.as_mut().unwrap().idempotency = r.idempotency;
        });
        assert!(at(e).starts_with("entry "), "idempotency");
    }

    #[test]
    fn key_events_and_bundles_are_re_derived() {
        use cairn_api::entry::{KeyAction, KeyRole, KeyStatement};
        let at_ms = |n| Timestamp::from_millis(examples::EXAMPLE_NOW_MS + n).unwrap();
        let key = |action| {
            let st = KeyStatement {
                action,
                role: KeyRole::Gate,
                key: examples::gate_key().verifier(),
                issued_at: at_ms(0),
                reason: None,
            };
            Entry::new(EntryKind::Key, at_ms(0), st.sign(&examples::authority_key()).unwrap()).unwrap()
        };
        let good = MemoryStore::new();
        good.commit(&batch(&good.state().unwrap(), &[key(KeyAction::Register)]))
            .unwrap();
        good.commit(&batch(&good.state().unwrap(), &entries(0..2))).unwrap();
        assert_eq!(fsck(&good, &log()).unwrap().key_events, 1);
        // A store whose key event says "revoked" where the entry registers.
        let s = MemoryStore::new();
        let mut b = batch(&s.state().unwrap(), &[key(KeyAction::Register)]);
        b.entries[0].key.as_mut().unwrap().registered = false;
        s.commit(&b).unwrap();
        assert!(at(fsck(&s, &log()).unwrap_err()).starts_with("key events"));
    }

    #[test]
    fn the_query_index_is_re_derived_row_by_row_and_counted() {
        use crate::query_index::follower::rows_of;
        use cairn_api::merkle::MerkleHasher as _;
        let s = MemoryStore::new();
        s.commit(&batch(&s.state().unwrap(), &entries(0..12))).unwrap();
        let check = |ix: &QueryIndex| fsck_with_progress(&s, Some(ix), &log(), |_, _| {});
        let (rows, _) = rows_of(&s, 0, 12).unwrap();
        let tip = |n: usize| cairn_api::merkle::Sha256::hash_leaf(&s.entry(n as u64 - 1).unwrap().unwrap());
        // Caught up, or behind (the rows past its cursor are not looked for).
        for covered in [12, 7, 0] {
            let ix = QueryIndex::in_memory().unwrap();
            if covered > 0 {
                ix.apply(0, &rows[..covered], &tip(covered), false).unwrap();
            }
            let rep = check(&ix).unwrap();
            let expected: u64 = rows[..covered]
                .iter()
                .map(|r| {
                    let c = RowCounts::of(r);
                    c.fields + c.break_glass
                })
                .sum();
            assert_eq!(rep.query_index, Some((expected, covered as u64)));
        }
        // A row missing: receipt 3's rows left out of the index.
        let mut missing = rows.clone();
        missing[3] = None;
        let ix = QueryIndex::in_memory().unwrap();
        ix.apply(0, &missing, &tip(12), false).unwrap();
        assert_eq!(at(check(&ix).unwrap_err()), "entry 3");
        // A row no entry gives: receipt 9 is break-glass, receipt 2 is not;
        // giving receipt 2 receipt 9's rows adds rows the entries do not.
        let mut extra = rows.clone();
        extra[2] = rows[9].clone();
        let ix = QueryIndex::in_memory().unwrap();
        ix.apply(0, &extra, &tip(12), false).unwrap();
        assert!(check(&ix).is_err());
        let mut more = rows.clone();
        let mut r = more[5].clone().unwrap();
        r.fields.push((crate::store::Field::Subject, "someone-else".into()));
        more[5] = Some(r);
        let ix = QueryIndex::in_memory().unwrap();
        ix.apply(0, &more, &tip(12), false).unwrap();
        assert_eq!(at(check(&ix).unwrap_err()), "query index");
        // An index past the log.
        let ix = QueryIndex::in_memory().unwrap();
        ix.apply(0, &[rows.clone(), vec![None]].concat(), &tip(12), false)
            .unwrap();
        assert_eq!(at(check(&ix).unwrap_err()), "query index");
        // The right rows, but the tip of another log.
        let ix = QueryIndex::in_memory().unwrap();
        ix.apply(0, &rows, &tip(11), false).unwrap();
        assert_eq!(at(check(&ix).unwrap_err()), "query index");
    }
}
