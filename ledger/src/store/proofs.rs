//! Tree nodes read back from a store for proofs: node by node, all of one
//! proof's nodes in one read ([`prefetched`]), or a batch's own nodes
//! first ([`BatchNodes`]).

use cairn_api::merkle::{GenerateError, Hash, NodeId, NodeReader};

use super::{Store, StoreError};

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
pub struct BatchNodes<'a, S: ?Sized> {
    store: &'a S,
    known: std::cell::RefCell<std::collections::HashMap<NodeId, Hash>>,
}

impl<S: ?Sized> std::fmt::Debug for BatchNodes<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchNodes").finish_non_exhaustive()
    }
}

impl<'a, S: Store + ?Sized> BatchNodes<'a, S> {
    /// Nodes `committed` by a batch, then `store`.
    pub fn new(store: &'a S, committed: &[(NodeId, Hash)]) -> Self {
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
