//! A store wrapper that injects faults, for tests: the client must get an
//! error, never an acknowledgement, for data that is not durable, and the
//! ledger must recover when the fault clears.

use std::sync::Mutex;

use cairn_api::merkle::{Hash, NodeId};

use super::{CommitBatch, KeyEvent, LogState, Store, StoreError};

/// When the next commit fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Fail before anything is written (a failed write or fsync).
    BeforeWrite,
    /// Write durably, then report failure (a commit whose outcome the
    /// ledger cannot know: it must not acknowledge, and a retry must find
    /// the original entry).
    AfterWrite,
    /// Fail every read.
    Reads,
    /// Fail every write until cleared: a full or read-only disk.
    Full,
    /// Fail every read of an entry at or after this index until cleared
    /// (a damaged region met in the middle of an export).
    EntriesFrom(u64),
    /// Every commit takes this much longer until cleared (a slow disk).
    SlowCommits(std::time::Duration),
}

/// Wraps a store; faults are armed per call.
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: S,
    armed: Mutex<Vec<Fault>>,
}

impl<S: Store> FaultyStore<S> {
    /// Wrap a store, with no fault armed.
    pub fn new(inner: S) -> Self {
        FaultyStore {
            inner,
            armed: Mutex::new(Vec::new()),
        }
    }

    /// Arm a fault for the next matching operation (`Reads` and `Full`
    /// stay armed until [`FaultyStore::clear`]).
    pub fn arm(&self, fault: Fault) {
        self.armed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(fault);
    }

    /// Disarm every fault.
    pub fn clear(&self) {
        self.armed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn take(&self, f: Fault) -> bool {
        let mut a = self.armed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match a.iter().position(|x| *x == f) {
            Some(i) if f != Fault::Reads && f != Fault::Full => {
                a.remove(i);
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    fn read(&self) -> Result<(), StoreError> {
        if self.take(Fault::Reads) {
            Err(StoreError::Injected("read"))
        } else {
            Ok(())
        }
    }
}

impl<S: Store> Store for FaultyStore<S> {
    fn state(&self) -> Result<LogState, StoreError> {
        self.read()?;
        self.inner.state()
    }
    fn size(&self) -> Result<u64, StoreError> {
        self.read()?;
        self.inner.size()
    }
    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let slow = self
            .armed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find_map(|f| match f {
                Fault::SlowCommits(d) => Some(*d),
                _ => None,
            });
        if let Some(d) = slow {
            std::thread::sleep(d);
        }
        if self.take(Fault::Full) {
            return Err(StoreError::Injected("commit: no space left on device"));
        }
        if self.take(Fault::BeforeWrite) {
            return Err(StoreError::Injected("commit (before write)"));
        }
        self.inner.commit(batch)?;
        if self.take(Fault::AfterWrite) {
            return Err(StoreError::Injected("commit (after write)"));
        }
        Ok(())
    }
    fn writable(&self) -> bool {
        let full = self
            .armed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&Fault::Full);
        !full && self.inner.writable()
    }
    fn recover(&self) -> Result<(), StoreError> {
        if self.writable() {
            self.inner.recover()
        } else {
            Err(StoreError::Injected("recover: no space left on device"))
        }
    }
    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.read()?;
        let damaged = self
            .armed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .any(|f| matches!(f, Fault::EntriesFrom(n) if index >= *n));
        if damaged {
            return Err(StoreError::Injected("entry read"));
        }
        self.inner.entry(index)
    }
    fn node(&self, id: NodeId) -> Result<Option<Hash>, StoreError> {
        self.read()?;
        self.inner.node(id)
    }
    fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        self.read()?;
        self.inner.checkpoint(size)
    }
    fn checkpoint_sizes(&self, from: u64, to: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        self.read()?;
        self.inner.checkpoint_sizes(from, to, limit)
    }
    fn index_of_leaf(&self, leaf: &Hash) -> Result<Option<u64>, StoreError> {
        self.read()?;
        self.inner.index_of_leaf(leaf)
    }
    fn index_of_idempotency(&self, gate: &str, key: &str) -> Result<Option<u64>, StoreError> {
        self.read()?;
        self.inner.index_of_idempotency(gate, key)
    }
    fn known(&self, items: &[super::Lookup]) -> Result<Vec<Option<u64>>, StoreError> {
        self.read()?;
        self.inner.known(items)
    }
    fn key_events(&self) -> Result<Vec<(u64, KeyEvent)>, StoreError> {
        self.read()?;
        self.inner.key_events()
    }
    fn bundle_index(&self, hash: &Hash) -> Result<Option<u64>, StoreError> {
        self.read()?;
        self.inner.bundle_index(hash)
    }
}
