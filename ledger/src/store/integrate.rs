//! Integration: a batch of entries appended to the tree (a pure function
//! from the frontier and the leaf hashes to the new frontier and the nodes
//! the appends complete) and checkpointed under the log key: everything
//! one group commit writes.

use cairn_api::keys::SignerKey;
use cairn_api::merkle::{Frontier, Hash, NodeId, Sha256};
use cairn_api::note::{Checkpoint, NoteError};

use super::{EntryRecord, LogState, Store, StoreError, StoreNodes};

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
    ) -> Result<(Self, Frontier<Sha256>), NoteError> {
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

/// Integration, a pure function: the frontier after appending `leaves`, and
/// every node the appends complete (what a commit must persist).
pub fn integrate(frontier: &Frontier<Sha256>, leaves: &[Hash]) -> (Frontier<Sha256>, Vec<(NodeId, Hash)>) {
    let mut f = frontier.clone();
    let mut nodes = Vec::with_capacity(leaves.len() * 2);
    for leaf in leaves {
        f.append_with(*leaf, |id, h| nodes.push((id, *h)));
    }
    (f, nodes)
}

/// Rebuild the frontier of a tree of `size` from a store's nodes.
pub(crate) fn frontier_from<S: Store + ?Sized>(store: &S, size: u64) -> Result<Frontier<Sha256>, StoreError> {
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
