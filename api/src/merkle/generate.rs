//! Proof generation (RFC 9162 §2.1.3.1 and §2.1.4.1) from stored nodes.

use super::verify::{MerkleError, consistency_proof_len, inclusion_proof_len};
use super::{Hash, MerkleHasher};

/// A perfect subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves (0 = a leaf).
    pub level: u8,
    /// Position among the nodes of that level, from the left.
    pub index: u64,
}

/// Reads the hash of a completed perfect subtree.
pub trait NodeReader {
    /// Why a node could not be read.
    type Error;
    /// The hash of the perfect subtree `id`; it must exist in the tree.
    fn node(&self, id: NodeId) -> Result<Hash, Self::Error>;
}

/// A proof could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError<E> {
    /// The caller asked for a proof that does not exist (bad index or sizes).
    #[error("no such proof: {0}")]
    Request(#[from] MerkleError),
    /// The node store failed or lacked a node it should have.
    #[error("node store: {0}")]
    Reader(E),
}

/// The root of the leaves `[start, end)` of a tree, from the perfect subtrees
/// that make up the range (RFC 9162 MTH of `D[start:end]`). `start < end`,
/// and `start` must be a multiple of the largest power of two below
/// `end - start` for the result to be an RFC 9162 subtree root (which holds
/// for every range a proof names).
pub fn subtree_root<H: MerkleHasher, R: NodeReader>(reader: &R, start: u64, end: u64) -> Result<Hash, R::Error> {
    let mut parts = Vec::new();
    let mut pos = start;
    while pos < end {
        let align = if pos == 0 { 63 } else { pos.trailing_zeros() };
        let fit = 63 - (end - pos).leading_zeros();
        let level = align.min(fit) as u8;
        parts.push(reader.node(NodeId {
            level,
            index: pos >> level,
        })?);
        pos += 1 << level;
    }
    let mut iter = parts.into_iter().rev();
    let last = iter.next().unwrap_or_else(H::empty_root);
    Ok(iter.fold(last, |acc, left| H::hash_children(&left, &acc)))
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The inclusion proof for leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof<H: MerkleHasher, R: NodeReader>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, GenerateError<R::Error>> {
    let len = inclusion_proof_len(index, size)?;
    let mut proof = Vec::with_capacity(len);
    // Walk down from the root, collecting siblings, then reverse so that the
    // proof starts at the leaf's sibling.
    let (mut start, mut end) = (0u64, size);
    while end - start > 1 {
        let k = split(end - start);
        let mid = start + k;
        if index < mid {
            proof.push(subtree_root::<H, R>(reader, mid, end).map_err(GenerateError::Reader)?);
            end = mid;
        } else {
            proof.push(subtree_root::<H, R>(reader, start, mid).map_err(GenerateError::Reader)?);
            start = mid;
        }
    }
    proof.reverse();
    debug_assert_eq!(proof.len(), len);
    Ok(proof)
}

/// The consistency proof from the tree of `old` leaves to the tree of `new`.
pub fn consistency_proof<H: MerkleHasher, R: NodeReader>(
    reader: &R,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, GenerateError<R::Error>> {
    let len = consistency_proof_len(old, new)?;
    let mut proof = Vec::with_capacity(len);
    if old == new {
        return Ok(proof);
    }
    // RFC 9162 SUBPROOF(m, D[start:end], b), iteratively; hashes are found
    // root-first and reversed at the end.
    let (mut m, mut start, mut end, mut whole) = (old, 0u64, new, true);
    loop {
        let n = end - start;
        if m == n {
            if !whole {
                proof.push(subtree_root::<H, R>(reader, start, end).map_err(GenerateError::Reader)?);
            }
            break;
        }
        let k = split(n);
        if m <= k {
            proof.push(subtree_root::<H, R>(reader, start + k, end).map_err(GenerateError::Reader)?);
            end = start + k;
        } else {
            proof.push(subtree_root::<H, R>(reader, start, start + k).map_err(GenerateError::Reader)?);
            m -= k;
            start += k;
            whole = false;
        }
    }
    proof.reverse();
    debug_assert_eq!(proof.len(), len);
    Ok(proof)
}
