//! The follower's checks, against a log held in memory: real entries, a
//! real signed checkpoint, and a source that can lie.

use std::cell::{Cell, RefCell};

use cairn_api::entry::{Entry, EntryKind};
use cairn_api::examples;
use cairn_api::merkle::{Hash, MemoryTree, MerkleHasher, Sha256, consistency_proof};
use cairn_api::note::Checkpoint;
use cairn_api::timestamp::Timestamp;

use super::super::sink::{Sink, SinkError, Taken};
use super::*;

#[derive(Debug)]
struct MemLog {
    entries: Vec<Vec<u8>>,
    /// The size the served checkpoint signs.
    size: Cell<u64>,
    /// Serve this entry's bytes in place of the one at that index.
    swap: RefCell<Option<(u64, Vec<u8>)>>,
}

impl MemLog {
    fn new(n: u64) -> Self {
        let at = Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap();
        let entries = (0..n)
            .map(|i| {
                Entry::new(EntryKind::Receipt, at, examples::signed_receipt(i % 6))
                    .unwrap()
                    .to_cbor()
            })
            .collect();
        MemLog {
            entries,
            size: Cell::new(n),
            swap: RefCell::new(None),
        }
    }

    fn tree(&self, size: u64) -> MemoryTree<Sha256> {
        MemoryTree::from_leaf_hashes(self.entries[..size as usize].iter().map(|e| Sha256::hash_leaf(e)))
    }
}

impl LogSource for MemLog {
    fn checkpoint(&self) -> Result<Vec<u8>, SiemError> {
        let size = self.size.get();
        let key = examples::log_key();
        Ok(Checkpoint::new(key.name(), size, self.tree(size).root())
            .sign(&key)
            .unwrap()
            .to_text()
            .into_bytes())
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, SiemError> {
        let end = end.min(start / 256 * 256 + 256);
        let mut out: Vec<Vec<u8>> = self.entries[start as usize..end as usize].to_vec();
        if let Some((i, bytes)) = self.swap.borrow().as_ref()
            && (start..end).contains(i)
        {
            out[(*i - start) as usize] = bytes.clone();
        }
        Ok(out)
    }

    fn consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, SiemError> {
        Ok(consistency_proof::<Sha256, _>(&self.tree(to), from, to).unwrap())
    }
}

#[derive(Debug, Default)]
struct Kept {
    indexes: Vec<u64>,
    fail_next: bool,
}

impl Sink for &RefCell<Kept> {
    fn deliver(&mut self, _origin: &str, records: &[Logged]) -> Result<Taken, SinkError> {
        let mut k = self.borrow_mut();
        if std::mem::take(&mut k.fail_next) {
            return Err(SinkError::Unavailable {
                url: "test".into(),
                detail: "down".into(),
                retry_after: None,
            });
        }
        k.indexes.extend(records.iter().map(|r| r.index));
        Ok(Taken::default())
    }
}

fn cursor_path(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("cairn-follow-{tag}-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn entries_are_checked_by_root_or_by_consistency_proof_then_delivered() {
    let log = MemLog::new(300);
    log.size.set(290);
    let kept = RefCell::new(Kept::default());
    let path = cursor_path("ok");
    let mut f = Follower::new(&log, &kept, examples::log_key().verifier(), path.clone()).unwrap();
    // 0..256 against the checkpoint of 290: a consistency proof.
    let p = f.step().unwrap().unwrap();
    assert_eq!((p.next, p.delivered, p.checkpoint_size), (256, 256, 290));
    // 256..290: the root itself.
    assert_eq!(f.step().unwrap().unwrap().next, 290);
    assert_eq!(f.step().unwrap(), None);
    log.size.set(300);
    assert_eq!(f.step().unwrap().unwrap().next, 300);
    assert_eq!(kept.borrow().indexes, (0..300).collect::<Vec<_>>());
    // A new follower resumes from the file.
    let f2 = Follower::new(&log, &kept, examples::log_key().verifier(), path.clone()).unwrap();
    assert_eq!(f2.next(), 300);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn an_entry_the_checkpoint_does_not_commit_to_delivers_nothing() {
    for (size, at) in [(300, 10), (200, 199)] {
        let log = MemLog::new(300);
        log.size.set(size);
        // Another valid receipt entry in place of the logged one.
        let other = log.entries[(at + 1) as usize].clone();
        *log.swap.borrow_mut() = Some((at, other));
        let kept = RefCell::new(Kept::default());
        let path = cursor_path("tampered");
        let mut f = Follower::new(&log, &kept, examples::log_key().verifier(), path.clone()).unwrap();
        let e = f.step().unwrap_err();
        assert!(matches!(e, SiemError::Tampered(_)), "{e}");
        assert!(!e.is_transient());
        assert!(kept.borrow().indexes.is_empty());
        assert!(!path.exists(), "the cursor did not move");
    }
}

#[test]
fn a_shrinking_log_is_a_rollback() {
    let log = MemLog::new(20);
    let kept = RefCell::new(Kept::default());
    let path = cursor_path("rollback");
    let mut f = Follower::new(&log, &kept, examples::log_key().verifier(), path.clone()).unwrap();
    assert_eq!(f.step().unwrap().unwrap().next, 20);
    log.size.set(12);
    assert!(matches!(f.step(), Err(SiemError::Rollback { was: 20, now: 12 })));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_batch_the_sink_did_not_take_comes_again() {
    let log = MemLog::new(10);
    let kept = RefCell::new(Kept {
        fail_next: true,
        ..Kept::default()
    });
    let path = cursor_path("again");
    let mut f = Follower::new(&log, &kept, examples::log_key().verifier(), path.clone()).unwrap();
    let e = f.step().unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(f.next(), 0);
    assert_eq!(f.step().unwrap().unwrap().delivered, 10);
    assert_eq!(kept.borrow().indexes, (0..10).collect::<Vec<_>>());
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_checkpoint_from_another_key_is_refused() {
    let log = MemLog::new(3);
    let kept = RefCell::new(Kept::default());
    let path = cursor_path("key");
    let other = examples::witness_key().verifier();
    let mut f = Follower::new(&log, &kept, other, path.clone()).unwrap();
    assert!(matches!(f.step(), Err(SiemError::Checkpoint(_))));
    assert!(kept.borrow().indexes.is_empty());
}
