//! `cargo run --release -p xtask -- machine-limits [DIR]`: what this machine
//! can do at most, for the benchmarks to be read against: Ed25519
//! `verify_strict` per second on every core, `fdatasync` per second on a
//! file in DIR (the ledger's data directory's file system), and SHA-256 leaf
//! hashes of a receipt-sized entry per second on one core.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cairn_api::examples;
use cairn_api::merkle::{MerkleHasher, Sha256};

const RUN: Duration = Duration::from_secs(3);

pub(crate) fn verify_rate() -> (usize, f64) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let key = examples::gate_key();
    let msg = vec![0x5au8; 1300];
    let sig = key.sign(&msg);
    let vkey = key.verifier();
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (count, stop, vkey, msg) = (count.clone(), stop.clone(), vkey.clone(), msg.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    assert!(vkey.verify(&msg, &sig));
                    n += 1;
                }
                count.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    let t = Instant::now();
    std::thread::sleep(RUN);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("verify thread");
    }
    (
        threads,
        count.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64(),
    )
}

pub(crate) fn fdatasync_rate(dir: &Path) -> f64 {
    let path = dir.join(format!("cairn-fdatasync-{}", std::process::id()));
    let mut f = std::fs::File::create(&path).expect("create the probe file");
    let block = [0u8; 4096];
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < RUN {
        f.write_all(&block).expect("write");
        f.sync_data().expect("fdatasync");
        n += 1;
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    rate
}

pub(crate) fn sha256_rate() -> f64 {
    let entry = vec![0xa5u8; 1300];
    let t = Instant::now();
    let mut n = 0u64;
    let mut acc = 0u8;
    while t.elapsed() < RUN {
        for _ in 0..1000 {
            acc ^= Sha256::hash_leaf(&entry).0[0];
        }
        n += 1000;
    }
    std::hint::black_box(acc);
    n as f64 / t.elapsed().as_secs_f64()
}

/// What the ledger's admission pays per receipt on one core, in µs: the
/// COSE parse, the receipt decode (strict, canonical), the whole parse of a
/// signed receipt, the decode of a log entry holding it (what an audit
/// reads), and its `verify_strict`. The receipt is the examples'
/// receipt 9 (a break-glass decision with its delegation lineage), signed
/// by the example gate.
pub(crate) fn receipt_costs() -> Vec<(&'static str, f64)> {
    use cairn_api::cose::Sign1;
    use cairn_api::entry::{Entry, EntryKind};
    use cairn_api::receipt::{RECEIPT_CONTENT_TYPE, Receipt, SignedReceipt};
    use cairn_api::timestamp::Timestamp;
    let bytes = examples::signed_receipt(9);
    let payload = examples::receipt(9).to_cbor();
    let gate = examples::gate_key().verifier();
    let parsed = SignedReceipt::parse(&bytes).expect("the example receipt parses");
    let entry = Entry::new(
        EntryKind::Receipt,
        Timestamp::from_millis(examples::EXAMPLE_NOW_MS).expect("in range"),
        bytes.clone(),
    )
    .expect("the example receipt makes an entry")
    .to_cbor();
    let per_call = |f: &dyn Fn() -> bool| {
        let t = Instant::now();
        let mut n = 0u64;
        while t.elapsed() < RUN / 3 {
            for _ in 0..100 {
                assert!(std::hint::black_box(f()));
            }
            n += 100;
        }
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    };
    vec![
        (
            "COSE_Sign1 parse",
            per_call(&|| Sign1::parse(&bytes, RECEIPT_CONTENT_TYPE).is_ok()),
        ),
        (
            "receipt decode (Receipt::from_cbor)",
            per_call(&|| Receipt::from_cbor(&payload).is_ok()),
        ),
        (
            "signed receipt parse (both)",
            per_call(&|| SignedReceipt::parse(&bytes).is_ok()),
        ),
        (
            "log entry decode (`Entry::from_cbor`, its COSE checked)",
            per_call(&|| Entry::from_cbor(&entry).is_ok()),
        ),
        (
            "verify_strict of the receipt",
            per_call(&|| parsed.verify(&gate).is_ok()),
        ),
    ]
}

/// Run the measurements and print a Markdown table.
pub fn run(dir: &Path) -> std::process::ExitCode {
    let (threads, verify) = verify_rate();
    let sync = fdatasync_rate(dir);
    let hash = sha256_rate();
    println!("| limit | per second |");
    println!("|---|---|");
    println!("| Ed25519 verify_strict, 1,300-byte message, {threads} threads | {verify:.0} |");
    println!("| fdatasync of a 4 KiB write in {} | {sync:.0} |", dir.display());
    println!("| SHA-256 leaf hash of a 1,300-byte entry, one core | {hash:.0} |");
    println!();
    println!(
        "| per receipt, one core ({} bytes signed) | µs |",
        examples::signed_receipt(9).len()
    );
    println!("|---|---|");
    for (what, us) in receipt_costs() {
        println!("| {what} | {us:.1} |");
    }
    std::process::ExitCode::SUCCESS
}
