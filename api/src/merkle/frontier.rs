//! The compact range of a tree (its "frontier") and an in-memory tree.

use std::marker::PhantomData;

use super::generate::{NodeId, NodeReader};
use super::{Hash, MAX_TREE_SIZE, MerkleHasher};

/// The roots of the perfect subtrees that make up a tree of `size` leaves,
/// largest (leftmost) first: one per set bit of `size`. Enough to append in
/// O(log n) and to compute the root, without keeping the leaves.
#[derive(Clone, PartialEq, Eq)]
pub struct Frontier<H> {
    size: u64,
    nodes: Vec<Hash>,
    _hasher: PhantomData<H>,
}

impl<H> std::fmt::Debug for Frontier<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frontier")
            .field("size", &self.size)
            .field("nodes", &self.nodes)
            .finish()
    }
}

impl<H: MerkleHasher> Default for Frontier<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: MerkleHasher> Frontier<H> {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Frontier {
            size: 0,
            nodes: Vec::new(),
            _hasher: PhantomData,
        }
    }

    /// Rebuild a frontier from its parts; `None` unless there is exactly one
    /// node per set bit of `size`.
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Option<Self> {
        (size <= MAX_TREE_SIZE && nodes.len() == size.count_ones() as usize).then_some(Frontier {
            size,
            nodes,
            _hasher: PhantomData,
        })
    }

    /// Rebuild the frontier of a tree of `size` from stored nodes.
    pub fn from_reader<R: NodeReader>(size: u64, reader: &R) -> Result<Self, R::Error> {
        let mut nodes = Vec::with_capacity(size.count_ones() as usize);
        let mut offset = 0u64;
        for level in (0..64u8).rev() {
            if (size >> level) & 1 == 1 {
                nodes.push(reader.node(NodeId {
                    level,
                    index: offset >> level,
                })?);
                offset += 1 << level;
            }
        }
        Ok(Frontier {
            size,
            nodes,
            _hasher: PhantomData,
        })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree roots, largest first.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Append a leaf hash. `on_node` is called with every node the append
    /// completes: the leaf itself at level 0, then each perfect subtree it
    /// closes, so a store can persist exactly the new nodes.
    pub fn append_with(&mut self, leaf_hash: Hash, mut on_node: impl FnMut(NodeId, &Hash)) {
        let index = self.size;
        on_node(NodeId { level: 0, index }, &leaf_hash);
        let mut hash = leaf_hash;
        let mut level = 0u8;
        while (index >> level) & 1 == 1 {
            // A set bit at `level` means a perfect subtree of that height is
            // waiting on the left; the invariant guarantees it is there.
            let Some(left) = self.nodes.pop() else { break };
            hash = H::hash_children(&left, &hash);
            level += 1;
            on_node(
                NodeId {
                    level,
                    index: index >> level,
                },
                &hash,
            );
        }
        self.nodes.push(hash);
        self.size += 1;
    }

    /// Append a leaf hash.
    pub fn append(&mut self, leaf_hash: Hash) {
        self.append_with(leaf_hash, |_, _| {});
    }

    /// The tree's root (RFC 9162 MTH).
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(last) = iter.next() else {
            return H::empty_root();
        };
        iter.fold(*last, |acc, left| H::hash_children(left, &acc))
    }
}

/// A whole tree kept in memory, level by level: a [`NodeReader`] for tests,
/// test vectors and small tools. The ledger keeps its nodes in storage.
#[derive(Clone)]
pub struct MemoryTree<H> {
    levels: Vec<Vec<Hash>>,
    frontier: Frontier<H>,
}

impl<H> std::fmt::Debug for MemoryTree<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTree").field("size", &self.frontier.size).finish()
    }
}

impl<H: MerkleHasher> Default for MemoryTree<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: MerkleHasher> MemoryTree<H> {
    /// The empty tree.
    pub fn new() -> Self {
        MemoryTree {
            levels: Vec::new(),
            frontier: Frontier::new(),
        }
    }

    /// A tree of these leaf hashes.
    pub fn from_leaf_hashes(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.append(leaf);
        }
        tree
    }

    /// Append a leaf hash.
    pub fn append(&mut self, leaf_hash: Hash) {
        let levels = &mut self.levels;
        self.frontier.append_with(leaf_hash, |id, hash| {
            let level = usize::from(id.level);
            if levels.len() <= level {
                levels.resize_with(level + 1, Vec::new);
            }
            levels[level].push(*hash);
        });
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The frontier of the whole tree.
    pub fn frontier(&self) -> &Frontier<H> {
        &self.frontier
    }
}

/// The node is not in the tree: it was never completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("node at level {} index {} is not in the tree", .0.level, .0.index)]
pub struct MissingNode(pub NodeId);

impl<H: MerkleHasher> NodeReader for MemoryTree<H> {
    type Error = MissingNode;
    fn node(&self, id: NodeId) -> Result<Hash, MissingNode> {
        usize::try_from(id.index)
            .ok()
            .and_then(|i| self.levels.get(usize::from(id.level))?.get(i))
            .copied()
            .ok_or(MissingNode(id))
    }
}
