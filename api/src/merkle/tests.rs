//! Unit tests: generation and verification against a naive recursive
//! reference written from RFC 9162 §2.1, for every size, index and old size
//! of small trees.

use super::*;

fn leaf(i: u64) -> Hash {
    Sha256::hash_leaf(&i.to_be_bytes())
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(leaf).collect()
}

fn k_split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

// MTH(D[n]) of RFC 9162 §2.1.1, recursively.
fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => Sha256::empty_root(),
        1 => d[0],
        n => {
            let k = k_split(n);
            Sha256::hash_children(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

// PATH(m, D[n]) of RFC 9162 §2.1.3.1.
fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return vec![];
    }
    let k = k_split(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

// SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1.
fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_split(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

#[test]
fn empty_roots_are_hash_of_empty_string() {
    assert_eq!(
        Sha256::empty_root().to_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(Frontier::<Sha256>::new().root(), Sha256::empty_root());
}

#[test]
fn generation_and_verification_match_the_reference_for_small_trees() {
    for n in 1..=130u64 {
        let d = leaves(n);
        let tree = MemoryTree::<Sha256>::from_leaf_hashes(d.iter().copied());
        let root = tree.root();
        assert_eq!(root, mth(&d), "root of {n}");
        for m in 0..n {
            let proof = inclusion_proof::<Sha256, _>(&tree, m, n).unwrap();
            assert_eq!(proof, path(m as usize, &d), "inclusion {m} in {n}");
            verify_inclusion::<Sha256>(&d[m as usize], m, n, &proof, &root.0).unwrap();
        }
        for old in 1..=n {
            let proof = consistency_proof::<Sha256, _>(&tree, old, n).unwrap();
            let want = if old == n {
                vec![]
            } else {
                subproof(old as usize, &d, true)
            };
            assert_eq!(proof, want, "consistency {old} -> {n}");
            let old_root = mth(&d[..old as usize]);
            verify_consistency::<Sha256>(old, n, &proof, &old_root.0, &root.0).unwrap();
        }
    }
}

#[test]
fn frontier_matches_reader_rebuild_and_reports_every_new_node() {
    let mut f = Frontier::<Sha256>::new();
    let mut seen = Vec::new();
    for i in 0..37 {
        f.append_with(leaf(i), |id, h| seen.push((id, *h)));
    }
    let tree = MemoryTree::<Sha256>::from_leaf_hashes(leaves(37));
    // 37 leaves complete 37 + 18 + 9 + 4 + 2 + 1 nodes.
    assert_eq!(seen.len(), 37 + 18 + 9 + 4 + 2 + 1);
    for (id, h) in &seen {
        assert_eq!(tree.node(*id).unwrap(), *h);
    }
    let rebuilt = Frontier::<Sha256>::from_reader(37, &tree).unwrap();
    assert_eq!(rebuilt, f);
    assert_eq!(rebuilt.root(), tree.root());
    assert!(Frontier::<Sha256>::from_parts(37, vec![]).is_none());
    assert_eq!(
        Frontier::<Sha256>::from_parts(37, f.nodes().to_vec()).unwrap().root(),
        f.root()
    );
}

#[test]
fn verification_checks_index_sizes_and_length_before_hashing() {
    let d = leaves(10);
    let tree = MemoryTree::<Sha256>::from_leaf_hashes(d.iter().copied());
    let root = tree.root();
    let proof = inclusion_proof::<Sha256, _>(&tree, 3, 10).unwrap();
    assert!(matches!(
        verify_inclusion::<Sha256>(&d[3], 10, 10, &proof, &root.0),
        Err(MerkleError::IndexOutOfRange { index: 10, size: 10 })
    ));
    let mut long = proof.clone();
    long.push(root);
    assert!(matches!(
        verify_inclusion::<Sha256>(&d[3], 3, 10, &long, &root.0),
        Err(MerkleError::WrongProofLength { expected: 4, actual: 5 })
    ));
    assert!(matches!(
        verify_inclusion::<Sha256>(&d[3], 3, 10, &proof[..3], &root.0),
        Err(MerkleError::WrongProofLength { expected: 4, actual: 3 })
    ));
    assert!(matches!(
        verify_inclusion::<Sha256>(&d[4], 3, 10, &proof, &root.0),
        Err(MerkleError::RootMismatch {
            kind: RootKind::Inclusion,
            ..
        })
    ));
    assert!(matches!(
        verify_consistency::<Sha256>(5, 4, &[], &root.0, &root.0),
        Err(MerkleError::SizeRegression { old: 5, new: 4 })
    ));
    assert!(matches!(
        verify_consistency::<Sha256>(0, 4, &[], &root.0, &root.0),
        Err(MerkleError::EmptyOldTree)
    ));
    assert!(matches!(
        verify_consistency::<Sha256>(4, 4, &[], &d[0].0, &d[1].0),
        Err(MerkleError::SameSizeDifferentRoots { .. })
    ));
    assert!(matches!(
        verify_inclusion::<Sha256>(&d[0], 0, MAX_TREE_SIZE + 1, &[], &root.0),
        Err(MerkleError::SizeTooLarge(_))
    ));
    let c = consistency_proof::<Sha256, _>(&tree, 6, 10).unwrap();
    let old = MemoryTree::<Sha256>::from_leaf_hashes(leaves(6)).root();
    assert!(matches!(
        verify_consistency::<Sha256>(6, 10, &c, &root.0, &root.0),
        Err(MerkleError::RootMismatch {
            kind: RootKind::Old,
            ..
        })
    ));
    assert!(matches!(
        verify_consistency::<Sha256>(6, 10, &c, &old.0, &old.0),
        Err(MerkleError::RootMismatch {
            kind: RootKind::New,
            ..
        })
    ));
}

#[test]
fn generation_refuses_bad_requests_and_reports_missing_nodes() {
    let tree = MemoryTree::<Sha256>::from_leaf_hashes(leaves(5));
    assert!(matches!(
        inclusion_proof::<Sha256, _>(&tree, 5, 5),
        Err(GenerateError::Request(MerkleError::IndexOutOfRange { .. }))
    ));
    assert!(matches!(
        consistency_proof::<Sha256, _>(&tree, 3, 2),
        Err(GenerateError::Request(MerkleError::SizeRegression { .. }))
    ));
    // Asking for a tree larger than the store holds needs nodes it lacks.
    assert!(matches!(
        inclusion_proof::<Sha256, _>(&tree, 0, 8),
        Err(GenerateError::Reader(MissingNode(_)))
    ));
}

#[test]
fn proof_lengths_at_large_sizes() {
    assert_eq!(inclusion_proof_len(0, 1 << 20).unwrap(), 20);
    assert_eq!(inclusion_proof_len((1 << 40) - 1, 1 << 40).unwrap(), 40);
    assert_eq!(consistency_proof_len(1, 1 << 40).unwrap(), 40);
    assert_eq!(consistency_proof_len(1 << 39, 1 << 40).unwrap(), 1);
}

#[test]
fn hash_text_forms_round_trip_and_refuse_other_spellings() {
    let h = leaf(7);
    assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
    assert_eq!(Hash::from_base64(&h.to_base64()).unwrap(), h);
    assert_eq!(Hash::from_hex(&h.to_hex().to_uppercase()), Err(HashParseError::Hex));
    assert_eq!(Hash::from_slice(&[0; 31]), Err(HashParseError::Length(31)));
    assert_eq!(Hash::from_base64("AAAA"), Err(HashParseError::Length(3)));
    assert_eq!(Hash::from_base64("not base64!"), Err(HashParseError::Base64));
}

#[test]
fn consistency_proofs_match_the_reference_up_to_2000() {
    let d = leaves(2000);
    let tree = MemoryTree::<Sha256>::from_leaf_hashes(d.iter().copied());
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let new = 2 + x % 1999;
        let old = 1 + (x >> 20) % (new - 1);
        let proof = consistency_proof::<Sha256, _>(&tree, old, new).unwrap();
        let (old_d, new_d) = (&d[..old as usize], &d[..new as usize]);
        assert_eq!(proof, subproof(old as usize, new_d, true), "{old} -> {new}");
        verify_consistency::<Sha256>(old, new, &proof, &mth(old_d).0, &mth(new_d).0).unwrap();
    }
}
