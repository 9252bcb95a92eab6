//! `cargo bench -p cairn-api`: the hot paths of ingest and verification.
//! Results and the machine they were measured on: docs/benchmarks.md.

use std::hint::black_box;

use cairn_api::cose::Sign1;
use cairn_api::entry::{Entry, EntryKind};
use cairn_api::examples;
use cairn_api::merkle::{Frontier, Hash, MerkleHasher, Sha256, root_from_inclusion_proof, verify_inclusion};
use cairn_api::receipt::{RECEIPT_CONTENT_TYPE, Receipt};
use cairn_api::timestamp::Timestamp;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn entry() -> Entry {
    let at = Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap();
    Entry::new(EntryKind::Receipt, at, examples::signed_receipt(4)).unwrap()
}

fn hashing(c: &mut Criterion) {
    let e = entry().to_cbor();
    let mut g = c.benchmark_group("hash");
    g.throughput(Throughput::Bytes(e.len() as u64));
    g.bench_function(format!("leaf_hash/{}B_entry", e.len()), |b| {
        b.iter(|| Sha256::hash_leaf(black_box(&e)))
    });
    g.finish();

    let leaves: Vec<Hash> = (0..1024u32).map(|i| Sha256::hash_leaf(&i.to_le_bytes())).collect();
    let mut g = c.benchmark_group("frontier");
    g.throughput(Throughput::Elements(leaves.len() as u64));
    g.bench_function("append_1024_leaves", |b| {
        b.iter_batched(
            || Frontier::<Sha256>::from_parts(0, vec![]).unwrap(),
            |mut f| {
                for l in &leaves {
                    f.append(*l);
                }
                f.root()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn inclusion(c: &mut Criterion) {
    let mut g = c.benchmark_group("verify_inclusion");
    for log2 in [20u32, 40] {
        let size = 1u64 << log2;
        let index = size / 3;
        let leaf = Sha256::hash_leaf(b"leaf");
        // Any hashes form a valid proof for the root they lead to.
        let proof: Vec<Hash> = (0..log2).map(|i| Sha256::hash_leaf(&i.to_le_bytes())).collect();
        let root = root_from_inclusion_proof::<Sha256>(&leaf, index, size, &proof).unwrap();
        g.bench_function(format!("size_2^{log2}"), |b| {
            b.iter(|| verify_inclusion::<Sha256>(black_box(&leaf), index, size, black_box(&proof), &root.0).unwrap())
        });
    }
    g.finish();
}

fn signatures(c: &mut Criterion) {
    let key = examples::gate_key();
    let v = key.verifier();
    let msg = [7u8; 64];
    let sig = key.sign(&msg);
    let mut g = c.benchmark_group("ed25519");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_strict/64B", |b| {
        b.iter(|| assert!(v.verify(black_box(&msg), black_box(&sig))))
    });
    g.bench_function("sign/64B", |b| b.iter(|| key.sign(black_box(&msg))));
    g.finish();
}

fn receipts(c: &mut Criterion) {
    let cose = examples::signed_receipt(4);
    let gate = examples::gate_key().verifier();
    let payload = Sign1::parse(&cose, RECEIPT_CONTENT_TYPE).unwrap().payload().to_vec();
    let mut g = c.benchmark_group("receipt");
    g.throughput(Throughput::Elements(1));
    g.bench_function("cose_parse", |b| {
        b.iter(|| Sign1::parse(black_box(&cose), RECEIPT_CONTENT_TYPE).unwrap())
    });
    g.bench_function("cose_parse_and_verify", |b| {
        b.iter(|| {
            Sign1::parse(black_box(&cose), RECEIPT_CONTENT_TYPE)
                .unwrap()
                .verify(&gate)
                .unwrap()
        })
    });
    g.bench_function(format!("decode/{}B_payload", payload.len()), |b| {
        b.iter(|| Receipt::from_cbor(black_box(&payload)).unwrap())
    });
    let e = entry().to_cbor();
    g.bench_function("entry_decode_and_leaf_hash", |b| {
        b.iter(|| Entry::from_cbor(black_box(&e)).unwrap().leaf_hash())
    });
    g.finish();
}

criterion_group!(benches, hashing, inclusion, signatures, receipts);
criterion_main!(benches);
