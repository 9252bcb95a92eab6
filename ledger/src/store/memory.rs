//! An in-memory store, for tests and tools. Not durable.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use cairn_api::merkle::{Hash, NodeId};

use super::{CommitBatch, KeyEvent, LogState, Store, StoreError, check_batch, frontier_from};

#[derive(Debug, Default)]
struct Inner {
    entries: Vec<Vec<u8>>,
    nodes: HashMap<NodeId, Hash>,
    checkpoints: BTreeMap<u64, String>,
    leaves: HashMap<Hash, u64>,
    idempotency: HashMap<(String, String), u64>,
    keys: Vec<(u64, KeyEvent)>,
    bundles: HashMap<Hash, u64>,
}

/// Everything in memory behind one mutex.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied batch
        // (commit applies after all checks), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn state(&self) -> Result<LogState, StoreError> {
        let (size, checkpoint) = {
            let g = self.lock();
            (g.entries.len() as u64, g.checkpoints.values().next_back().cloned())
        };
        Ok(LogState {
            frontier: frontier_from(self, size)?,
            checkpoint,
        })
    }

    fn size(&self) -> Result<u64, StoreError> {
        Ok(self.lock().entries.len() as u64)
    }

    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        let mut g = self.lock();
        check_batch(g.entries.len() as u64, batch)?;
        for (i, e) in batch.entries.iter().enumerate() {
            let index = batch.first_index + i as u64;
            g.entries.push(e.bytes.clone());
            g.leaves.insert(e.leaf_hash, index);
            if let Some(r) = &e.receipt {
                g.idempotency.insert(r.idempotency.clone(), index);
            }
            if let Some(k) = &e.key {
                g.keys.push((index, k.clone()));
            }
            if let Some(b) = e.bundle {
                g.bundles.entry(b).or_insert(index);
            }
        }
        for (id, h) in &batch.nodes {
            g.nodes.insert(*id, *h);
        }
        g.checkpoints.insert(batch.size, batch.checkpoint.clone());
        Ok(())
    }

    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(usize::try_from(index)
            .ok()
            .and_then(|i| self.lock().entries.get(i).cloned()))
    }

    fn node(&self, id: NodeId) -> Result<Option<Hash>, StoreError> {
        Ok(self.lock().nodes.get(&id).copied())
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        Ok(self.lock().checkpoints.get(&size).cloned())
    }

    fn checkpoint_sizes(&self, from: u64, to: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        if from > to {
            return Ok(vec![]);
        }
        Ok(self
            .lock()
            .checkpoints
            .range(from..=to)
            .map(|(s, _)| *s)
            .take(limit)
            .collect())
    }

    fn index_of_leaf(&self, leaf: &Hash) -> Result<Option<u64>, StoreError> {
        Ok(self.lock().leaves.get(leaf).copied())
    }

    fn index_of_idempotency(&self, gate: &str, key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.lock().idempotency.get(&(gate.to_owned(), key.to_owned())).copied())
    }

    fn key_events(&self) -> Result<Vec<(u64, KeyEvent)>, StoreError> {
        Ok(self.lock().keys.clone())
    }

    fn bundle_index(&self, hash: &Hash) -> Result<Option<u64>, StoreError> {
        Ok(self.lock().bundles.get(hash).copied())
    }
}
