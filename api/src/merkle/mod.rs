//! RFC 6962 / RFC 9162 Merkle trees with SHA-256 ([`Sha256`]), the tree of
//! C2SP tlog-checkpoint and tlog-tiles; the published RFC 6962 cases test
//! this code directly. Every digest is 32 bytes ([`Hash`]). The code stays
//! generic over [`MerkleHasher`] so that tests can count or fault hashes.
//!
//! - leaf hash `H(0x00 ‖ entry)`, node hash `H(0x01 ‖ left ‖ right)`,
//!   empty tree `H("")` ([`MerkleHasher`]);
//! - [`Frontier`]: the compact range of a tree, O(log n) append, the root;
//! - proof *generation* ([`inclusion_proof`], [`consistency_proof`]) over a
//!   [`NodeReader`], so the ledger serves proofs from stored nodes;
//! - proof *verification* ([`verify_inclusion`], [`verify_consistency`]),
//!   which checks the index, the sizes and the exact proof length before it
//!   hashes anything, then recomputes the root and compares.

mod frontier;
mod generate;
mod hash;
mod verify;

pub use frontier::{Frontier, MemoryTree, MissingNode};
pub use generate::{GenerateError, NodeId, NodeReader, consistency_proof, inclusion_proof, subtree_root};
pub use hash::{Hash, HashParseError, MerkleHasher, Sha256};
pub use verify::{
    MerkleError, RootKind, consistency_proof_len, inclusion_proof_len, root_from_inclusion_proof, verify_consistency,
    verify_inclusion,
};

/// The largest tree size a proof may speak of. Sizes are `u64`; a proof over
/// a tree of size `2^63` or more would need more than 64 levels of chaining
/// arithmetic than `u64` shifts give, so such sizes are refused.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// The longest proof any tree of [`MAX_TREE_SIZE`] leaves can need: an
/// inclusion proof has at most one hash per level, a consistency proof at most
/// one more (the seed).
pub const MAX_PROOF_HASHES: usize = 64;

#[cfg(test)]
mod tests;
