//! Reads that serve evidence are checked: an entry's bytes must hash to
//! the leaf the tree stored for it. A ledger started on a damaged database
//! would otherwise serve entries an auditor then rejects, and keep
//! acknowledging receipts on top of them, without the operator being told.
//! A mismatch refuses the read ([`StoreError::Damaged`], 503
//! `damaged-entry`), is logged, counted (`cairn_damaged_entries`), and stops
//! every write until an operator acts (restore from a backup; `fsck` names
//! every damaged part).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cairn_api::merkle::{Hash, MerkleHasher, NodeId, Sha256};

use super::{CommitBatch, KeyEvent, LogState, Store, StoreError};

/// A store whose entry reads are checked against the tree.
pub struct CheckedStore {
    inner: Arc<dyn Store>,
    /// The damaged entries found (none: writes go on; they stop at the
    /// first). Each is counted once, however often it is read.
    damaged: Mutex<BTreeSet<u64>>,
    /// The first damaged index found, plus one (0: none).
    first: AtomicU64,
}

impl std::fmt::Debug for CheckedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedStore")
            .field("damaged", &self.damaged())
            .finish_non_exhaustive()
    }
}

impl CheckedStore {
    /// Check the entry reads of `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        CheckedStore {
            inner,
            damaged: Mutex::new(BTreeSet::new()),
            first: AtomicU64::new(0),
        }
    }

    fn halted(&self) -> Option<u64> {
        self.first.load(Ordering::SeqCst).checked_sub(1)
    }

    fn damage(&self, index: u64, detail: String) -> StoreError {
        let first_time = self
            .damaged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(index);
        let _ = self
            .first
            .compare_exchange(0, index + 1, Ordering::SeqCst, Ordering::SeqCst);
        if first_time {
            tracing::error!(
                index,
                %detail,
                "a stored entry does not match its leaf hash: refusing to serve it and stopping writes \
                 (restore the database from a backup; cairn-ledger fsck names the damage)"
            );
        }
        StoreError::Damaged { index, detail }
    }
}

impl Store for CheckedStore {
    fn state(&self) -> Result<LogState, StoreError> {
        self.inner.state()
    }
    fn size(&self) -> Result<u64, StoreError> {
        self.inner.size()
    }
    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        if let Some(index) = self.halted() {
            return Err(StoreError::Damaged {
                index,
                detail: "writes stopped: the log holds a damaged entry".into(),
            });
        }
        self.inner.commit(batch)
    }
    fn writable(&self) -> bool {
        self.halted().is_none() && self.inner.writable()
    }
    fn recover(&self) -> Result<(), StoreError> {
        match self.halted() {
            Some(index) => Err(StoreError::Damaged {
                index,
                detail: "writes stopped until an operator restores the database".into(),
            }),
            None => self.inner.recover(),
        }
    }
    fn damaged(&self) -> u64 {
        self.damaged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len() as u64
    }
    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(bytes) = self.inner.entry(index)? else {
            return Ok(None);
        };
        let leaf = Sha256::hash_leaf(&bytes);
        match self.inner.node(NodeId { level: 0, index })? {
            Some(stored) if stored == leaf => Ok(Some(bytes)),
            Some(stored) => Err(self.damage(index, format!("its bytes hash to {leaf}, the tree holds {stored}"))),
            None => Err(self.damage(index, "the tree holds no leaf for it".into())),
        }
    }
    fn node(&self, id: NodeId) -> Result<Option<Hash>, StoreError> {
        self.inner.node(id)
    }
    fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        self.inner.checkpoint(size)
    }
    fn head(&self) -> Result<(u64, Option<String>), StoreError> {
        self.inner.head()
    }
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>, StoreError> {
        self.inner.nodes(ids)
    }
    fn checkpoint_sizes(&self, from: u64, to: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        self.inner.checkpoint_sizes(from, to, limit)
    }
    fn index_of_leaf(&self, leaf: &Hash) -> Result<Option<u64>, StoreError> {
        self.inner.index_of_leaf(leaf)
    }
    fn index_of_idempotency(&self, gate: &str, key: &str) -> Result<Option<u64>, StoreError> {
        self.inner.index_of_idempotency(gate, key)
    }
    fn known(&self, items: &[super::Lookup]) -> Result<Vec<Option<u64>>, StoreError> {
        self.inner.known(items)
    }
    fn key_events(&self) -> Result<Vec<(u64, KeyEvent)>, StoreError> {
        self.inner.key_events()
    }
    fn bundle_index(&self, hash: &Hash) -> Result<Option<u64>, StoreError> {
        self.inner.bundle_index(hash)
    }
}
