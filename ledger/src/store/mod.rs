//! Ledger storage behind one small trait.
//!
//! A [`Store`] keeps, durably and atomically per [`CommitBatch`]: entries by
//! index; the completed tree nodes, so appends cost O(log n) and proofs are
//! read, never rebuilt; every signed checkpoint by tree size; leaf hash →
//! index; (gate, idempotency key) → index; key events by key reference;
//! policy bundles by hash; and query indexes (subject, surface, action,
//! target, decision, decided_at, break-glass). Only the frontier of the tree
//! is held in memory ([`LogState`]), so memory does not grow with the log.

mod faulty;
mod memory;
mod redb_store;
#[cfg(test)]
pub(crate) mod tests;

use cairn_api::entry::{Entry, EntryError, EntryKind, KeyAction, KeyRole, KeyStatement};
use cairn_api::keys::SignerKey;
use cairn_api::merkle::{Blake3, Frontier, GenerateError, Hash, NodeId, NodeReader};
use cairn_api::note::{Checkpoint, NoteError};
use cairn_api::policy::{Bundle, BundleError};
use cairn_api::receipt::ReceiptParts;

pub use faulty::{Fault, FaultyStore};
pub use memory::MemoryStore;
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

/// A queryable field of a receipt, for the incident-review indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Field {
    /// `request.subject.id`.
    Subject,
    /// `request.resource.type`.
    Surface,
    /// `request.action.name`.
    Action,
    /// `request.resource.id`.
    Target,
    /// `decision`.
    Decision,
    /// The gate's name.
    Gate,
}

impl Field {
    /// Every field, in index order.
    pub const ALL: [Field; 6] = [
        Field::Subject,
        Field::Surface,
        Field::Action,
        Field::Target,
        Field::Decision,
        Field::Gate,
    ];

    fn tag(self) -> u8 {
        self as u8
    }
}

/// What the indexes record about a receipt entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptIndex {
    /// (field, value) pairs.
    pub fields: Vec<(Field, String)>,
    /// `decided_at`, milliseconds.
    pub decided_at: u64,
    /// Whether it carries a break-glass override.
    pub break_glass: bool,
    /// The gate and its idempotency key.
    pub idempotency: (String, String),
}

/// A key registration or revocation, as the key index records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    /// The key reference `name+hexid`.
    pub key_ref: String,
    /// The verifier key string.
    pub vkey: String,
    /// True for a registration, false for a revocation.
    pub registered: bool,
    /// `gate` or `operator`.
    pub role: String,
}

/// One entry of a batch, with what the indexes need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRecord {
    /// The entry's canonical bytes.
    pub bytes: Vec<u8>,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// For receipt entries.
    pub receipt: Option<ReceiptIndex>,
    /// For key entries.
    pub key: Option<KeyEvent>,
    /// For policy entries: the bundle hash.
    pub bundle: Option<Hash>,
}

/// An entry's index rows could not be derived: the entry is not what its
/// type says. The submitter's fault (the sequencer refuses such entries
/// before they reach a batch).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The entry or its body is malformed.
    #[error("entry: {0}")]
    Entry(#[from] EntryError),
    /// A policy entry's body is not a valid bundle.
    #[error("policy bundle: {0}")]
    Bundle(#[from] BundleError),
}

impl ReceiptIndex {
    /// The index rows of a receipt.
    pub fn of(p: &ReceiptParts) -> Self {
        ReceiptIndex {
            fields: vec![
                (Field::Subject, p.request.subject.id.clone()),
                (Field::Surface, p.request.resource.kind.clone()),
                (Field::Action, p.request.action.name.clone()),
                (Field::Target, p.request.resource.id.clone()),
                (Field::Decision, p.decision.as_str().to_owned()),
                (Field::Gate, p.gate.clone()),
            ],
            decided_at: p.decided_at.millis(),
            break_glass: p.break_glass.is_some(),
            idempotency: (p.gate.clone(), p.idempotency_key.clone()),
        }
    }
}

impl EntryRecord {
    fn bare(entry: &Entry) -> Self {
        EntryRecord {
            bytes: entry.to_cbor(),
            leaf_hash: entry.leaf_hash(),
            receipt: None,
            key: None,
            bundle: None,
        }
    }

    /// The record of a receipt entry whose receipt the caller has already
    /// decoded (the submit path), so it is not decoded again.
    pub fn for_receipt(entry: &Entry, receipt: &ReceiptParts) -> Self {
        EntryRecord {
            receipt: Some(ReceiptIndex::of(receipt)),
            ..Self::bare(entry)
        }
    }

    /// The record of a policy entry whose bundle hash the caller knows.
    pub fn for_bundle(entry: &Entry, bundle_hash: Hash) -> Self {
        EntryRecord {
            bundle: Some(bundle_hash),
            ..Self::bare(entry)
        }
    }

    /// The record of an entry, decoding its body: bytes, leaf hash, index rows.
    pub fn from_entry(entry: &Entry) -> Result<Self, RecordError> {
        Ok(match entry.kind() {
            EntryKind::Receipt => Self::for_receipt(entry, entry.receipt()?.unverified().parts()),
            EntryKind::Key => {
                let s = KeyStatement::from_cbor(entry.sign1()?.payload())?;
                let key = KeyEvent {
                    key_ref: s.key.key_ref(),
                    vkey: s.key.to_string(),
                    registered: s.action == KeyAction::Register,
                    role: match s.role {
                        KeyRole::Gate => "gate",
                        _ => "operator",
                    }
                    .into(),
                };
                EntryRecord {
                    key: Some(key),
                    ..Self::bare(entry)
                }
            }
            _ => Self::for_bundle(entry, Bundle::from_bytes(entry.sign1()?.payload())?.hash()),
        })
    }
}

/// Everything one group commit writes, atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitBatch {
    /// The index of the first entry (the tree size before the batch).
    pub first_index: u64,
    /// The entries, in order.
    pub entries: Vec<EntryRecord>,
    /// The tree nodes the batch completes.
    pub nodes: Vec<(NodeId, Hash)>,
    /// The tree size after the batch.
    pub size: u64,
    /// The signed checkpoint (note text) for that size.
    pub checkpoint: String,
}

impl CommitBatch {
    /// The batch that appends `records` to the log in `state`: integrated
    /// into the tree and checkpointed under `log_key` (whose name is the
    /// origin). Returns the batch and the new frontier.
    pub fn build(
        state: &LogState,
        records: Vec<EntryRecord>,
        log_key: &SignerKey,
    ) -> Result<(Self, Frontier<Blake3>), NoteError> {
        let leaves: Vec<Hash> = records.iter().map(|r| r.leaf_hash).collect();
        let (frontier, nodes) = integrate(&state.frontier, &leaves);
        let checkpoint = Checkpoint::new(log_key.name(), frontier.size(), frontier.root())
            .sign(log_key)?
            .to_text();
        let batch = CommitBatch {
            first_index: state.frontier.size(),
            entries: records,
            nodes,
            size: frontier.size(),
            checkpoint,
        };
        Ok((batch, frontier))
    }
}

/// What the sequencer needs to continue the log after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    /// The tree's frontier (size and perfect-subtree roots).
    pub frontier: Frontier<Blake3>,
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
    /// Every key event, in log order: (index, event).
    fn key_events(&self) -> Result<Vec<(u64, KeyEvent)>, StoreError>;
    /// The index of the policy entry archiving this bundle.
    fn bundle_index(&self, hash: &Hash) -> Result<Option<u64>, StoreError>;
    /// Indexes of receipts with `field == value`, ascending, after `after`
    /// (exclusive), at most `limit`.
    fn scan(&self, field: Field, value: &str, after: Option<u64>, limit: usize) -> Result<Vec<u64>, StoreError>;
    /// Indexes of receipts decided in `[since, until)`, ascending by time
    /// then index, after the (time, index) cursor, at most `limit`.
    fn scan_time(
        &self,
        since: u64,
        until: u64,
        after: Option<(u64, u64)>,
        limit: usize,
    ) -> Result<Vec<(u64, u64)>, StoreError>;
    /// Indexes of break-glass receipts after `after`, at most `limit`.
    fn scan_break_glass(&self, after: Option<u64>, limit: usize) -> Result<Vec<u64>, StoreError>;
}

/// Read tree nodes from a store, for proof generation.
#[derive(Debug, Clone, Copy)]
pub struct StoreNodes<'a, S: ?Sized>(pub &'a S);

impl<S: Store + ?Sized> NodeReader for StoreNodes<'_, S> {
    type Error = StoreError;
    fn node(&self, id: NodeId) -> Result<Hash, StoreError> {
        self.0
            .node(id)?
            .ok_or_else(|| StoreError::Corrupt(format!("tree node level {} index {} is missing", id.level, id.index)))
    }
}

/// A proof generated from nodes read in one call: which subtrees an RFC
/// 9162 proof names depends only on its index and sizes, never on hash
/// values, so a first pass with placeholder hashes lists them, one
/// [`Store::nodes`] call reads them, and the second pass builds the proof.
/// A node the first pass did not list is read on its own (never expected;
/// correct either way).
pub fn prefetched<S: Store + ?Sized, T>(
    store: &S,
    generate: impl Fn(&Prefetched<'_, S>) -> Result<T, GenerateError<StoreError>>,
) -> Result<T, GenerateError<StoreError>> {
    let listing = Prefetched {
        store,
        known: None,
        wanted: std::cell::RefCell::new(Vec::new()),
    };
    generate(&listing)?;
    let ids = listing.wanted.into_inner();
    let hashes = store.nodes(&ids).map_err(GenerateError::Reader)?;
    let mut known = std::collections::HashMap::with_capacity(ids.len());
    for (id, h) in ids.into_iter().zip(hashes) {
        if let Some(h) = h {
            known.insert(id, h);
        }
    }
    generate(&Prefetched {
        store,
        known: Some(known),
        wanted: std::cell::RefCell::new(Vec::new()),
    })
}

/// The node reader of [`prefetched`]: listing, then answering.
pub struct Prefetched<'a, S: ?Sized> {
    store: &'a S,
    known: Option<std::collections::HashMap<NodeId, Hash>>,
    wanted: std::cell::RefCell<Vec<NodeId>>,
}

impl<S: ?Sized> std::fmt::Debug for Prefetched<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetched").finish_non_exhaustive()
    }
}

impl<S: Store + ?Sized> NodeReader for Prefetched<'_, S> {
    type Error = StoreError;
    fn node(&self, id: NodeId) -> Result<Hash, StoreError> {
        match &self.known {
            None => {
                self.wanted.borrow_mut().push(id);
                Ok(Hash([0; 32]))
            }
            Some(known) => match known.get(&id) {
                Some(h) => Ok(*h),
                None => StoreNodes(self.store).node(id),
            },
        }
    }
}

/// Tree nodes for the proofs of one batch: the nodes the batch just
/// committed, then the store, each node read from the store at most once.
/// A batch of `b` entries at size `n` reads O(log n) nodes from the store
/// instead of O(b log n).
pub(crate) struct BatchNodes<'a, S: ?Sized> {
    store: &'a S,
    known: std::cell::RefCell<std::collections::HashMap<NodeId, Hash>>,
}

impl<'a, S: Store + ?Sized> BatchNodes<'a, S> {
    pub(crate) fn new(store: &'a S, committed: &[(NodeId, Hash)]) -> Self {
        Self {
            store,
            known: std::cell::RefCell::new(committed.iter().copied().collect()),
        }
    }
}

impl<S: Store + ?Sized> NodeReader for BatchNodes<'_, S> {
    type Error = StoreError;
    fn node(&self, id: NodeId) -> Result<Hash, StoreError> {
        if let Some(h) = self.known.borrow().get(&id) {
            return Ok(*h);
        }
        let h = StoreNodes(self.store).node(id)?;
        self.known.borrow_mut().insert(id, h);
        Ok(h)
    }
}

/// Stored checkpoint sizes from a starting size on, read a page at a time,
/// so a walk over every checkpoint holds one page in memory, not the list.
pub(crate) struct CheckpointCursor<'a> {
    store: &'a dyn Store,
    page: std::collections::VecDeque<u64>,
    next_from: u64,
    exhausted: bool,
}

/// Checkpoint sizes read per page by [`CheckpointCursor`].
const CHECKPOINT_PAGE: usize = 1024;

impl<'a> CheckpointCursor<'a> {
    /// Sizes `>= from`.
    pub(crate) fn new(store: &'a dyn Store, from: u64) -> Self {
        CheckpointCursor {
            store,
            page: Default::default(),
            next_from: from,
            exhausted: false,
        }
    }

    /// The next size, without consuming it.
    pub(crate) fn peek(&mut self) -> Result<Option<u64>, StoreError> {
        if self.page.is_empty() && !self.exhausted {
            let page = self.store.checkpoint_sizes(self.next_from, u64::MAX, CHECKPOINT_PAGE)?;
            self.exhausted = page.len() < CHECKPOINT_PAGE;
            if let Some(last) = page.last() {
                self.next_from = last.saturating_add(1);
            }
            self.page.extend(page);
        }
        Ok(self.page.front().copied())
    }

    /// Consume the size `peek` returned.
    pub(crate) fn advance(&mut self) {
        self.page.pop_front();
    }
}

/// Integration, a pure function: the frontier after appending `leaves`, and
/// every node the appends complete (what a commit must persist).
pub fn integrate(frontier: &Frontier<Blake3>, leaves: &[Hash]) -> (Frontier<Blake3>, Vec<(NodeId, Hash)>) {
    let mut f = frontier.clone();
    let mut nodes = Vec::with_capacity(leaves.len() * 2);
    for leaf in leaves {
        f.append_with(*leaf, |id, h| nodes.push((id, *h)));
    }
    (f, nodes)
}

/// Rebuild the frontier of a tree of `size` from a store's nodes.
pub(crate) fn frontier_from<S: Store + ?Sized>(store: &S, size: u64) -> Result<Frontier<Blake3>, StoreError> {
    Frontier::from_reader(size, &StoreNodes(store))
}

/// Check that a batch continues a log of `size` entries and is self-consistent.
pub(crate) fn check_batch(size: u64, batch: &CommitBatch) -> Result<(), StoreError> {
    if batch.first_index != size {
        return Err(StoreError::Corrupt(format!(
            "batch starts at {} but the log has {size} entries",
            batch.first_index
        )));
    }
    if batch.size != size + batch.entries.len() as u64 {
        return Err(StoreError::Corrupt("batch size does not match its entries".into()));
    }
    Ok(())
}
