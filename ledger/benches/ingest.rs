//! `cargo bench -p cairn-ledger --bench ingest`: durable ingest through the
//! sequencer into redb on disk (every acknowledgement after a
//! Durability::Immediate commit, with its inclusion proof), receipts signed
//! before the timed part. Prints receipts/s and latency percentiles per
//! concurrency, first in-process (straight into the sequencer), then over
//! HTTP/1.1 on loopback TCP (the axum router, one keep-alive connection per
//! client, single-receipt POSTs answered with index, checkpoint and proofs).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use cairn_api::entry::{KeyAction, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::policy::Bundle;
use cairn_ledger::start::{DB_FILE, Ledger, LedgerConfig, open_redb};

use common::now_ms;

fn bundle() -> Bundle {
    common::bundle("bench", b"")
}

fn receipts(n: u64, offset: u64) -> Vec<Vec<u8>> {
    let (gate, bundle) = (examples::gate_key(), bundle());
    (offset..offset + n)
        .map(|k| common::receipt(k, &gate, now_ms(), &bundle, "bench"))
        .collect()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A minimal HTTP/1.1 keep-alive client: POST one body, read one response.
async fn post(conn: &mut tokio::io::BufStream<tokio::net::TcpStream>, path: &str, body: &[u8]) -> u16 {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/cose\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(body).await.unwrap();
    conn.flush().await.unwrap();
    let mut line = String::new();
    conn.read_line(&mut line).await.unwrap();
    let status: u16 = line[9..12].parse().unwrap();
    let mut len = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    conn.read_exact(&mut body).await.unwrap();
    status
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
        let ledger = Ledger::start(
            open_redb(&dir.join(DB_FILE)).unwrap(),
            LedgerConfig {
                query_index: Some(dir.join(cairn_ledger::query_index::INDEX_FILE)),
                ..LedgerConfig::new(examples::log_key(), vec![examples::authority_key().verifier()])
            },
        )
        .await
        .unwrap();
        let seq = ledger.sequencer().clone();
        let key = common::key_statement(KeyAction::Register, &examples::gate_key());
        seq.submit_key(key).await.unwrap();
        let b = cairn_api::cose::sign(bundle().as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
        seq.submit_policy(b).await.unwrap();
        // The HTTP server on loopback, in the same process and runtime.
        let app = ledger.router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        println!("| path | concurrency | receipts | receipts/s | p50 | p90 | p99 | max |");
        println!("|---|---|---|---|---|---|---|---|");
        let mut offset = 0;
        for http in [false, true] {
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
                        let mut conn = if http {
                            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                            tcp.set_nodelay(true).unwrap();
                            Some(tokio::io::BufStream::new(tcp))
                        } else {
                            None
                        };
                        for body in chunk {
                            let t = Instant::now();
                            match conn.as_mut() {
                                Some(c) => assert_eq!(post(c, "/v1/receipts", &body).await, 201),
                                None => {
                                    seq.submit_receipt(body).await.unwrap();
                                }
                            }
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
                    "| {} | {conc} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
                    if http { "HTTP" } else { "in-process" },
                    lat.len(),
                    lat.len() as f64 / elapsed.as_secs_f64(),
                    pct(&lat, 0.50).as_secs_f64() * 1e3,
                    pct(&lat, 0.90).as_secs_f64() * 1e3,
                    pct(&lat, 0.99).as_secs_f64() * 1e3,
                    lat.last().unwrap().as_secs_f64() * 1e3,
                );
            }
        }
        let size = ledger.store().state().unwrap().frontier.size();
        let bytes = std::fs::metadata(dir.join("ledger.redb")).unwrap().len();
        println!(
            "\nlog size {size} entries, database {} bytes ({:.0} bytes/entry)",
            bytes,
            bytes as f64 / size as f64
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
