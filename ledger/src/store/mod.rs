//! Ledger storage behind one small trait.
//!
//! A [`Store`] keeps, durably and atomically per [`CommitBatch`]: entries by
//! index; the completed tree nodes, so appends cost O(log n) and proofs are
//! read, never rebuilt; every signed checkpoint by tree size; leaf hash →
//! index; (gate, idempotency key) → index; key events by key reference;
//! policy bundles by hash. The incident-query rows are derived data kept
//! outside the commit ([`crate::query_index`]). Only the frontier of the
//! tree is held in memory ([`LogState`]), so memory does not grow with the
//! log.
//!
//! - this file: the [`Store`] trait, its error, and what it is asked for;
//! - [`record`]: what one entry writes besides its bytes (index rows);
//! - [`integrate`]: a batch integrated into the tree and checkpointed;
//! - [`proofs`]: tree nodes read back for proofs;
//! - [`checkpoints`]: stored checkpoints walked a page at a time;
//! - [`tiles`]: C2SP tlog-tiles read from the stored nodes and entries;
//! - the backends: [`RedbStore`], [`PgStore`] (PostgreSQL, with the
//!   sequencer lease of [`pg_lease`]), [`MemoryStore`], [`FaultyStore`].

mod checked;
pub mod checkpoints;
mod faulty;
pub mod integrate;
mod memory;
pub mod pg_lease;
mod pg_store;
pub mod proofs;
pub mod record;
mod redb_handle;
mod redb_store;
#[cfg(test)]
pub(crate) mod tests;
pub mod tiles;

use cairn_api::merkle::{Frontier, Hash, NodeId, Sha256};

pub use checked::CheckedStore;
pub use checkpoints::CheckpointCursor;
pub use faulty::{Fault, FaultyStore};
pub use integrate::{CommitBatch, integrate};
pub(crate) use integrate::{check_batch, frontier_from};
pub use memory::MemoryStore;
pub use pg_store::{IDLE_IN_TRANSACTION, PgStore, SCHEMA_VERSION as PG_SCHEMA_VERSION};
pub use proofs::{BatchNodes, Prefetched, StoreNodes, prefetched};
pub use record::{EntryRecord, KeyEvent, ReceiptIndex, RecordError};
pub use redb_store::{CACHE_BYTES, RedbStore};

/// A storage operation failed. Always the server's fault (disk, file
/// system, or a store that is not what the ledger wrote), never the
/// client's: the HTTP layer answers 503 and acknowledges nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed (I/O, full disk, read-only file system, ...).
    #[error("storage {op}: {source}")]
    Backend {
        /// What was being done.
        op: &'static str,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another process (a serving ledger) has the database open: the
    /// operator's to resolve (stop it first).
    #[error("another cairn-ledger is serving {}: stop it first (fsck and export read the database alone)", .0.display())]
    Locked(std::path::PathBuf),
    /// A stored entry no longer hashes to its leaf in the tree: the
    /// storage is damaged (the operator's: restore from a backup). Reads of
    /// it are refused and writes stop.
    #[error("entry {index} is damaged: {detail}")]
    Damaged {
        /// The entry's index.
        index: u64,
        /// What does not match.
        detail: String,
    },
    /// A commit failed and the database is being reopened (server's state:
    /// retry shortly).
    #[error("storage failed and is being reopened; retry shortly")]
    Reopening,
    /// The store was opened read-only (fsck, export) and cannot write.
    #[error("the store is open for reading only")]
    ReadOnly,
    /// The database was not closed cleanly and must be recovered before it
    /// can be read without writing: the operator's (`cairn-ledger recover`).
    #[error("{} was not closed cleanly: run `cairn-ledger recover` (or start the ledger) to recover it, then check it", .0.display())]
    NeedsRecovery(std::path::PathBuf),
    /// This instance does not hold the sequencer lease (any more): another
    /// instance writes (server's state: submit to the leader; nothing was
    /// committed).
    #[error("not the writer: {0}")]
    Fenced(String),
    /// A fault injected by [`FaultyStore`].
    #[error("injected storage fault during {0}")]
    Injected(&'static str),
    /// The store contradicts itself (a node or entry the tree needs is
    /// missing, a batch does not continue the log). `fsck` territory.
    #[error("storage is inconsistent: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn backend(op: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend {
            op,
            source: Box::new(e),
        }
    }
}

/// A queryable field of a receipt, for the incident-review indexes: the
/// wire contract's one list of filter fields. Stores key their index
/// rows by its stable [`Field::tag`].
pub use cairn_api::wire::query::FilterField as Field;

/// What [`Store::known`] looks up for one entry of a batch: its leaf hash
/// and, for a receipt, its (gate, idempotency key).
pub type Lookup = (Hash, Option<(String, String)>);

/// What the sequencer needs to continue the log after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    /// The tree's frontier (size and perfect-subtree roots).
    pub frontier: Frontier<Sha256>,
    /// The latest signed checkpoint, if any.
    pub checkpoint: Option<String>,
}

/// Durable ledger storage. Implementations are used from blocking threads.
pub trait Store: Send + Sync {
    /// The tree size and latest checkpoint; the frontier is rebuilt from
    /// stored nodes (O(log n) reads).
    fn state(&self) -> Result<LogState, StoreError>;
    /// The number of entries (the size of the latest committed tree),
    /// without rebuilding the frontier.
    fn size(&self) -> Result<u64, StoreError>;
    /// Write a batch atomically and durably; returns only after the data is
    /// on stable storage. Refuses a batch that does not continue the log.
    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError>;
    /// Whether writes can be made durable now (a store whose last commit
    /// failed says no until it recovered).
    fn writable(&self) -> bool {
        true
    }
    /// Make writes possible again after a failed commit (reopen the
    /// database), when the store can; `Ok` when writes are possible.
    fn recover(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// How many damaged entries reads have found (see `CheckedStore`).
    fn damaged(&self) -> u64 {
        0
    }
    /// An entry's bytes.
    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// A completed tree node.
    fn node(&self, id: NodeId) -> Result<Option<Hash>, StoreError>;
    /// The checkpoint signed at a tree size.
    fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError>;
    /// The tree size and its checkpoint (none for an empty log), read
    /// together, without the frontier.
    fn head(&self) -> Result<(u64, Option<String>), StoreError> {
        let size = self.size()?;
        Ok((size, if size == 0 { None } else { self.checkpoint(size)? }))
    }
    /// Several completed tree nodes, in the order asked (one read
    /// transaction where the backend has them).
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>, StoreError> {
        ids.iter().map(|id| self.node(*id)).collect()
    }
    /// The sizes of stored checkpoints in `[from, to]`, ascending, at most `limit`.
    fn checkpoint_sizes(&self, from: u64, to: u64, limit: usize) -> Result<Vec<u64>, StoreError>;
    /// The index of the entry with this leaf hash.
    fn index_of_leaf(&self, leaf: &Hash) -> Result<Option<u64>, StoreError>;
    /// The index of the receipt with this (gate, idempotency key).
    fn index_of_idempotency(&self, gate: &str, key: &str) -> Result<Option<u64>, StoreError>;
    /// For each item of a batch (a leaf hash and, for a receipt, its
    /// (gate, idempotency key)), the index of the entry already in the log
    /// with that leaf hash or else that (gate, key); one read transaction
    /// where the backend has them.
    fn known(&self, items: &[Lookup]) -> Result<Vec<Option<u64>>, StoreError> {
        items
            .iter()
            .map(|(leaf, idem)| match self.index_of_leaf(leaf)? {
                Some(i) => Ok(Some(i)),
                None => match idem {
                    Some((gate, key)) => self.index_of_idempotency(gate, key),
                    None => Ok(None),
                },
            })
            .collect()
    }
    /// Every key event, in log order: (index, event).
    fn key_events(&self) -> Result<Vec<(u64, KeyEvent)>, StoreError>;
    /// The index of the policy entry archiving this bundle.
    fn bundle_index(&self, hash: &Hash) -> Result<Option<u64>, StoreError>;
}
