//! `cargo bench -p cairn-ledger --bench ingest`: durable ingest through the
//! sequencer into redb on disk (every acknowledgement after a
//! Durability::Immediate commit, with its inclusion proof), receipts signed
//! before the timed part. Prints receipts/s and latency percentiles per
//! concurrency. In-process: no HTTP or TCP (the load generator over HTTP
//! comes with the gate issue).

use std::sync::Arc;
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use cairn_api::entry::{KeyAction, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::policy::Bundle;
use cairn_ledger::sequencer::{Sequencer, SequencerConfig};
use cairn_ledger::store::{RedbStore, Store};
use common::now_ms;

fn bundle() -> Bundle {
    common::bundle("bench", b"")
}

fn receipts(n: u64, offset: u64) -> Vec<Vec<u8>> {
    let (gate, hash) = (examples::gate_key(), bundle().hash());
    (offset..offset + n)
        .map(|k| common::receipt(k, &gate, now_ms(), hash, "bench"))
        .collect()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let dir = std::env::temp_dir().join(format!("cairn-ingest-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.join("ledger.redb")).unwrap());
        let (seq, _) = Sequencer::start(
            store.clone(),
            examples::log_key(),
            vec![examples::authority_key().verifier()],
            SequencerConfig::default(),
        )
        .await
        .unwrap();
        let key = common::key_statement(KeyAction::Register, &examples::gate_key());
        seq.submit_key(key).await.unwrap();
        let b = cairn_api::cose::sign(bundle().as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
        seq.submit_policy(b).await.unwrap();
        println!("| concurrency | receipts | receipts/s | p50 | p90 | p99 | max |");
        println!("|---|---|---|---|---|---|---|");
        let mut offset = 0;
        for (conc, n) in [(1usize, 2_000u64), (16, 20_000), (64, 40_000), (256, 40_000)] {
            let all = receipts(n, offset);
            offset += n;
            let per = all.len() / conc;
            let start = Instant::now();
            let mut tasks = Vec::new();
            for chunk in all.chunks(per.max(1)) {
                let seq = seq.clone();
                let chunk = chunk.to_vec();
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::with_capacity(chunk.len());
                    for body in chunk {
                        let t = Instant::now();
                        seq.submit_receipt(body).await.unwrap();
                        lat.push(t.elapsed());
                    }
                    lat
                }));
            }
            let mut lat = Vec::new();
            for t in tasks {
                lat.extend(t.await.unwrap());
            }
            let elapsed = start.elapsed();
            lat.sort_unstable();
            println!(
                "| {conc} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
                lat.len(),
                lat.len() as f64 / elapsed.as_secs_f64(),
                pct(&lat, 0.50).as_secs_f64() * 1e3,
                pct(&lat, 0.90).as_secs_f64() * 1e3,
                pct(&lat, 0.99).as_secs_f64() * 1e3,
                lat.last().unwrap().as_secs_f64() * 1e3,
            );
        }
        let size = store.state().unwrap().frontier.size();
        let bytes = std::fs::metadata(dir.join("ledger.redb")).unwrap().len();
        println!(
            "\nlog size {size} entries, database {} bytes ({:.0} bytes/entry)",
            bytes,
            bytes as f64 / size as f64
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
