//! The query index: its rows and scans, its cursor, its file, and the
//! follower that derives it from the committed entries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_api::entry::Entry;
use cairn_api::merkle::Hash;

use super::follower::{self, IndexBatch, rows_of, rows_of_entry};
use super::*;
use crate::store::tests::{TempFile, batch, key_entry, receipt_entry};
use crate::store::{MemoryStore, Store};

/// A key registration and receipts 0..29: entry n + 1 is receipt n.
fn entries() -> Vec<Entry> {
    let mut all = vec![key_entry()];
    all.extend((0..29).map(receipt_entry));
    all
}

fn rows(entries: &[Entry]) -> Vec<Rows> {
    entries.iter().map(|e| rows_of_entry(&e.to_cbor())).collect()
}

/// The leaf hash of entry `n - 1` (the tip after `n` entries).
fn tip(entries: &[Entry], n: usize) -> Hash {
    entries[n - 1].leaf_hash()
}

fn check_scans(index: &QueryIndex) {
    // Receipts n with n % 4 == 0 are eks:production (entries n + 1).
    assert_eq!(
        index.scan(Field::Surface, "eks", None, 100).unwrap(),
        vec![1, 5, 9, 13, 17, 21, 25, 29]
    );
    assert_eq!(index.scan(Field::Surface, "eks", Some(9), 2).unwrap(), vec![13, 17]);
    assert_eq!(index.scan(Field::Decision, "SILENCE", None, 3).unwrap(), vec![3, 6, 9]);
    assert_eq!(index.scan(Field::Surface, "none", None, 3).unwrap(), Vec::<u64>::new());
    // Receipts 9 and 19 are break-glass (entries 10 and 20).
    assert_eq!(index.scan_break_glass(None, 10).unwrap(), vec![10, 20]);
    assert_eq!(index.scan_break_glass(Some(10), 10).unwrap(), vec![20]);
    assert!(index.has(Field::Surface, "eks", 5).unwrap());
    assert!(!index.has(Field::Surface, "eks", 6).unwrap());
    assert!(index.has_break_glass(20).unwrap() && !index.has_break_glass(21).unwrap());
}

#[test]
fn rows_are_scanned_by_field_and_the_cursor_only_moves_on() {
    let index = QueryIndex::in_memory().unwrap();
    let e = entries();
    let all = rows(&e);
    assert_eq!(all[0], None, "a key statement has no query rows");
    assert_eq!(index.tip().unwrap(), None);
    index.apply(0, &all[..1], &tip(&e, 1), false).unwrap();
    index.apply(1, &all[1..5], &tip(&e, 5), false).unwrap();
    index.apply(5, &all[5..], &tip(&e, 30), true).unwrap();
    assert_eq!(index.indexed(), 30);
    assert_eq!(index.tip().unwrap(), Some(tip(&e, 30)));
    check_scans(&index);
    let mut expected = RowCounts::default();
    all.iter().for_each(|r| expected.add(RowCounts::of(r)));
    assert_eq!(index.counts().unwrap(), expected);
    assert_eq!(
        expected,
        RowCounts {
            fields: 29 * 6,
            break_glass: 2
        }
    );
    // Rows that do not continue the cursor are refused and change nothing.
    for first in [0, 29, 31] {
        let err = index.apply(first, &all[..1], &tip(&e, 1), false).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    }
    assert_eq!((index.indexed(), index.counts().unwrap()), (30, expected));
}

#[test]
fn the_file_keeps_what_was_flushed_and_a_bad_file_is_rebuilt() {
    let file = TempFile::new("query-index");
    let path = file.0.clone();
    let e = entries();
    let all = rows(&e);
    {
        let index = QueryIndex::open(&path).unwrap();
        index.apply(0, &all[..10], &tip(&e, 10), false).unwrap();
        index.apply(10, &all[10..], &tip(&e, 30), false).unwrap();
        index.flush().unwrap();
        // One process at a time.
        assert!(matches!(QueryIndex::open(&path), Err(StoreError::Locked(_))));
    }
    let index = QueryIndex::open_read_only(&path).unwrap();
    assert_eq!(index.indexed(), 30);
    check_scans(&index);
    drop(index);
    // Not a database: rebuilt empty, to be derived again.
    std::fs::write(&path, b"not a redb file, not an index").unwrap();
    assert!(QueryIndex::open(&path).is_err());
    let index = QueryIndex::open_or_rebuild(&path).unwrap();
    assert_eq!((index.indexed(), index.counts().unwrap()), (0, RowCounts::default()));
}

fn wait_for(index: &QueryIndex, size: u64) {
    let started = Instant::now();
    while index.indexed() < size {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the follower did not reach {size} (at {})",
            index.indexed()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_follower_derives_what_it_was_not_offered_and_applies_what_it_was() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let all = entries();
    // Committed before the follower starts (a restart, a deleted index).
    store.commit(&batch(&store.state().unwrap(), &all[..20])).unwrap();
    let index = Arc::new(QueryIndex::in_memory().unwrap());
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let (feed, rx) = follower::feed();
    let running = follower::spawn(rx, index.clone(), &store, metrics).unwrap();
    wait_for(&index, 20);
    // Offered: applied as offered, without reading the store. (The offer's
    // rows here are none and come before the commit, so that a row the
    // store would give cannot be mistaken for one the offer gave.)
    feed.offer(IndexBatch {
        first: 20,
        rows: vec![None; 5],
        tip: tip(&all, 25),
    });
    wait_for(&index, 25);
    store.commit(&batch(&store.state().unwrap(), &all[20..25])).unwrap();
    assert!(!index.has(Field::Surface, "eks", 21).unwrap());
    // An offer past a gap: the gap is read back from the store first.
    store.commit(&batch(&store.state().unwrap(), &all[25..28])).unwrap();
    store.commit(&batch(&store.state().unwrap(), &all[28..])).unwrap();
    feed.offer(IndexBatch {
        first: 28,
        rows: rows(&all[28..]),
        tip: tip(&all, 30),
    });
    wait_for(&index, 30);
    assert!(index.has(Field::Surface, "eks", 25).unwrap());
    assert!(index.has(Field::Decision, "SILENCE", 27).unwrap());
    // An offer it already covers changes nothing.
    feed.offer(IndexBatch {
        first: 25,
        rows: vec![None; 5],
        tip: tip(&all, 30),
    });
    running.stop();
    assert_eq!(index.indexed(), 30);
    assert!(index.belongs_to(store.as_ref()).unwrap());
    let (derived, last) = rows_of(store.as_ref(), 0, 30).unwrap();
    assert_eq!((&derived[1..], last), (&rows(&all)[1..], tip(&all, 30)));
    assert!(matches!(rows_of(store.as_ref(), 29, 31), Err(StoreError::Corrupt(_))));
}

#[test]
fn the_follower_ends_when_the_ledger_drops_the_store() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let index = Arc::new(QueryIndex::in_memory().unwrap());
    let (_feed, rx) = follower::feed();
    let running = follower::spawn(rx, index, &store, Arc::new(crate::metrics::Metrics::new())).unwrap();
    drop(store);
    // It notices at its next poll and ends; stop() joins it.
    running.stop();
}

#[test]
fn an_index_of_another_log_or_ahead_of_the_log_is_rebuilt() {
    let file = TempFile::new("query-index-other-log");
    let path = file.0.clone();
    let all = entries();
    let ours: Arc<dyn Store> = Arc::new(MemoryStore::new());
    ours.commit(&batch(&ours.state().unwrap(), &all[..20])).unwrap();
    // Another log: the same kinds of entries, others at the same indexes.
    let theirs: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let others: Vec<Entry> = (100..120).map(receipt_entry).collect();
    theirs.commit(&batch(&theirs.state().unwrap(), &others)).unwrap();
    {
        let index = QueryIndex::open_for(&path, ours.as_ref()).unwrap();
        let (rows, tip) = rows_of(ours.as_ref(), 0, 20).unwrap();
        index.apply(0, &rows, &tip, true).unwrap();
        assert!(index.belongs_to(ours.as_ref()).unwrap());
        assert!(!index.belongs_to(theirs.as_ref()).unwrap());
    }
    assert_eq!(
        QueryIndex::open_for(&path, ours.as_ref()).unwrap().indexed(),
        20,
        "kept"
    );
    assert_eq!(
        QueryIndex::open_for(&path, theirs.as_ref()).unwrap().indexed(),
        0,
        "rebuilt"
    );
    // Ahead of the log (a data directory restored from an older backup).
    {
        let index = QueryIndex::open_for(&path, ours.as_ref()).unwrap();
        let (rows, tip) = rows_of(ours.as_ref(), 0, 20).unwrap();
        index.apply(0, &rows, &tip, true).unwrap();
    }
    let older: Arc<dyn Store> = Arc::new(MemoryStore::new());
    older.commit(&batch(&older.state().unwrap(), &all[..10])).unwrap();
    assert_eq!(
        QueryIndex::open_for(&path, older.as_ref()).unwrap().indexed(),
        0,
        "rebuilt"
    );
}

#[test]
fn each_database_file_has_its_own_index_file() {
    use std::path::Path;
    let dir = Path::new("/data");
    assert_eq!(path_for(&dir.join("ledger.redb")), dir.join("index.redb"));
    assert_eq!(path_for(&dir.join("a.redb")), dir.join("a.redb.index"));
    assert_ne!(path_for(&dir.join("a.redb")), path_for(&dir.join("b.redb")));
}
