//! Proof verification (RFC 9162 §2.1.3.2 and §2.1.4.2).
//!
//! Both checks first validate the index, the sizes and the exact proof
//! length, then recompute the root(s) from the proof and compare. The root to
//! compare with is taken as bytes: it usually comes from outside (a
//! checkpoint, a file), and a root of the wrong length simply never matches.

use super::{Hash, MAX_TREE_SIZE, MerkleHasher};

/// Which of the roots a consistency check was comparing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RootKind {
    /// The root an inclusion proof leads to.
    Inclusion,
    /// The root of the older (smaller) tree of a consistency proof.
    Old,
    /// The root of the newer (larger) tree of a consistency proof.
    New,
}

/// A proof did not verify. Every variant is the fault of whoever supplied the
/// proof, the sizes or the roots: the verifier itself cannot fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError {
    /// An inclusion proof for an index at or past the tree size.
    #[error("index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index claimed.
        index: u64,
        /// The tree size claimed.
        size: u64,
    },
    /// A tree size larger than any tree cairn will prove.
    #[error("tree size {0} exceeds the limit of 2^62")]
    SizeTooLarge(u64),
    /// A consistency proof from a larger tree to a smaller one.
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizeRegression {
        /// The older size claimed.
        old: u64,
        /// The newer size claimed.
        new: u64,
    },
    /// A consistency proof from the empty tree: every tree is consistent with
    /// it, so such a proof proves nothing and is refused.
    #[error("a consistency proof from the empty tree proves nothing")]
    EmptyOldTree,
    /// The proof has the wrong number of hashes for the index and sizes.
    #[error("proof has {actual} hashes, the index and sizes require exactly {expected}")]
    WrongProofLength {
        /// The exact number required.
        expected: usize,
        /// The number given.
        actual: usize,
    },
    /// Two different roots for trees of the same size: evidence of a fork.
    #[error("same tree size, different roots: {old} and {new}")]
    SameSizeDifferentRoots {
        /// The older root, hex.
        old: String,
        /// The newer root, hex.
        new: String,
    },
    /// A root given to check against is not a 32-byte digest.
    #[error("{kind:?} root is {len} bytes, not a 32-byte digest")]
    MalformedRoot {
        /// Which root.
        kind: RootKind,
        /// Its length.
        len: usize,
    },
    /// The recomputed root is not the root given.
    #[error("{kind:?} root mismatch: expected {expected}, computed {computed}")]
    RootMismatch {
        /// Which root failed.
        kind: RootKind,
        /// The root that was given, hex (any length).
        expected: String,
        /// The root recomputed from the proof.
        computed: Hash,
    },
}

fn bit_len(x: u64) -> usize {
    (u64::BITS - x.leading_zeros()) as usize
}

/// `(inner, border)`: how many proof hashes an inclusion proof for `index` in
/// a tree of `size` has below the point where its path meets the right
/// border of the tree, and how many along that border. Requires `index < size`.
fn decompose(index: u64, size: u64) -> (usize, usize) {
    let inner = bit_len(index ^ (size - 1));
    let border = (index >> inner).count_ones() as usize;
    (inner, border)
}

/// The exact number of hashes in an inclusion proof for `index` in a tree of
/// `size`, or the reason there is no such proof.
pub fn inclusion_proof_len(index: u64, size: u64) -> Result<usize, MerkleError> {
    if size > MAX_TREE_SIZE {
        return Err(MerkleError::SizeTooLarge(size));
    }
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose(index, size);
    Ok(inner + border)
}

/// The exact number of hashes in a consistency proof from `old` to `new`.
pub fn consistency_proof_len(old: u64, new: u64) -> Result<usize, MerkleError> {
    if new > MAX_TREE_SIZE {
        return Err(MerkleError::SizeTooLarge(new));
    }
    if old > new {
        return Err(MerkleError::SizeRegression { old, new });
    }
    if old == 0 {
        return Err(MerkleError::EmptyOldTree);
    }
    if old == new {
        return Ok(0);
    }
    let (inner, border) = decompose(old - 1, new);
    let shift = old.trailing_zeros() as usize;
    let seed = usize::from(old != 1 << shift);
    Ok(seed + inner - shift + border)
}

fn chain_inner<H: MerkleHasher>(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        seed = if (index >> i) & 1 == 0 {
            H::hash_children(&seed, h)
        } else {
            H::hash_children(h, &seed)
        };
    }
    seed
}

fn chain_inner_right<H: MerkleHasher>(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        if (index >> i) & 1 == 1 {
            seed = H::hash_children(h, &seed);
        }
    }
    seed
}

fn chain_border_right<H: MerkleHasher>(mut seed: Hash, proof: &[Hash]) -> Hash {
    for h in proof {
        seed = H::hash_children(h, &seed);
    }
    seed
}

fn check_root(kind: RootKind, computed: Hash, expected: &[u8]) -> Result<(), MerkleError> {
    if computed.0.as_slice() == expected {
        Ok(())
    } else {
        Err(MerkleError::RootMismatch {
            kind,
            expected: hex::encode(expected),
            computed,
        })
    }
}

/// The root that an inclusion proof leads to from `leaf_hash` at `index` in
/// a tree of `size`, after checking the index and the exact proof length.
pub fn root_from_inclusion_proof<H: MerkleHasher>(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, MerkleError> {
    let expected = inclusion_proof_len(index, size)?;
    if proof.len() != expected {
        return Err(MerkleError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }
    let (inner, _) = decompose(index, size);
    let res = chain_inner::<H>(*leaf_hash, &proof[..inner], index);
    Ok(chain_border_right::<H>(res, &proof[inner..]))
}

/// Check that the leaf with `leaf_hash` is at `index` in the tree of `size`
/// whose root is `root`.
pub fn verify_inclusion<H: MerkleHasher>(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &[u8],
) -> Result<(), MerkleError> {
    let computed = root_from_inclusion_proof::<H>(leaf_hash, index, size, proof)?;
    check_root(RootKind::Inclusion, computed, root)
}

/// Check that the tree of `old_size` with `old_root` is a prefix of the tree
/// of `new_size` with `new_root`.
///
/// `old_size` must be at least 1 (see [`MerkleError::EmptyOldTree`]); equal
/// sizes need an empty proof and identical roots.
pub fn verify_consistency<H: MerkleHasher>(
    old_size: u64,
    new_size: u64,
    proof: &[Hash],
    old_root: &[u8],
    new_root: &[u8],
) -> Result<(), MerkleError> {
    let expected = consistency_proof_len(old_size, new_size)?;
    if proof.len() != expected {
        return Err(MerkleError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }
    if old_size == new_size {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(MerkleError::SameSizeDifferentRoots {
                old: hex::encode(old_root),
                new: hex::encode(new_root),
            })
        };
    }
    let (inner, border) = decompose(old_size - 1, new_size);
    let shift = old_size.trailing_zeros() as usize;
    let inner = inner - shift;
    // The proof starts with the root of the subtree of size 2^shift that
    // ends the old tree, unless the old tree is that very subtree.
    let (seed, rest) = if old_size == 1 << shift {
        match Hash::from_slice(old_root) {
            Ok(root) => (root, proof),
            Err(_) => {
                return Err(MerkleError::MalformedRoot {
                    kind: RootKind::Old,
                    len: old_root.len(),
                });
            }
        }
    } else {
        (proof[0], &proof[1..])
    };
    debug_assert_eq!(rest.len(), inner + border);
    let mask = (old_size - 1) >> shift;
    let old = chain_inner_right::<H>(seed, &rest[..inner], mask);
    let old = chain_border_right::<H>(old, &rest[inner..]);
    check_root(RootKind::Old, old, old_root)?;
    let new = chain_inner::<H>(seed, &rest[..inner], mask);
    let new = chain_border_right::<H>(new, &rest[inner..]);
    check_root(RootKind::New, new, new_root)
}
