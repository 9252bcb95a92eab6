//! Differential test: roots and inclusion proofs equal those of rs_merkle
//! (an independent implementation, given the RFC 9162 domain prefixes) for
//! every tree size 1..=2000 at pseudo-random indices.

use cairn_api::merkle::{Hash, MemoryTree, MerkleHasher, Sha256, inclusion_proof, verify_inclusion};

#[derive(Clone)]
struct RfcSha256;

impl rs_merkle::Hasher for RfcSha256 {
    type Hash = [u8; 32];
    fn hash(data: &[u8]) -> [u8; 32] {
        Sha256::digest(&[data]).0
    }
    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(r) => Sha256::hash_children(&Hash(*left), &Hash(*r)).0,
            None => *left,
        }
    }
}

/// xorshift64*: a fixed, seedable sequence so failures reproduce.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[test]
fn roots_and_inclusion_proofs_equal_rs_merkle() {
    let mut rng = Rng(0x0c0f_fee0_dead_beef);
    let all: Vec<Hash> = (0..2000u32).map(|i| Sha256::hash_leaf(&i.to_le_bytes())).collect();
    let mut ours = MemoryTree::<Sha256>::new();
    let mut checked = 0;
    for n in 1..=2000usize {
        ours.append(all[n - 1]);
        let raw: Vec<[u8; 32]> = all[..n].iter().map(|h| h.0).collect();
        let theirs = rs_merkle::MerkleTree::<RfcSha256>::from_leaves(&raw);
        let root = ours.root();
        assert_eq!(Some(root.0), theirs.root(), "root of {n}");
        for _ in 0..3 {
            let i = rng.below(n as u64);
            let proof = inclusion_proof::<Sha256, _>(&ours, i, n as u64).unwrap();
            let their_proof: Vec<Hash> = theirs
                .proof(&[i as usize])
                .proof_hashes()
                .iter()
                .map(|h| Hash(*h))
                .collect();
            assert_eq!(proof, their_proof, "inclusion proof for {i} in {n}");
            verify_inclusion::<Sha256>(&all[i as usize], i, n as u64, &proof, &root.0).unwrap();
            checked += 1;
        }
    }
    println!("rs_merkle differential: 2000 roots, {checked} inclusion proofs equal");
}
