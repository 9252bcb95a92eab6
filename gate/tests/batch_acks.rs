//! A batch's acknowledgements are each checked as a single one is: a
//! ledger that answers a batch with a proof that does not hold for one
//! receipt, or with a checkpoint another key signed, gets that receipt
//! refused as not acknowledged, whatever the other items say.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::time::Duration;

use cairn_api::entry::{Entry, EntryKind};
use cairn_api::examples;
use cairn_api::merkle::{MemoryTree, Sha256, inclusion_proof};
use cairn_api::note::Checkpoint;
use cairn_api::proof::{TlogProof, entry_header};
use cairn_api::timestamp::Timestamp;
use cairn_api::wire::{Ack, BatchResponse, BatchResult};
use cairn_gate::client::{HttpLedger, LedgerError};

/// The honest answer of a log holding exactly `bodies`, its checkpoint
/// signed by `log`.
fn answer(bodies: &[Vec<u8>], log: &cairn_api::keys::SignerKey) -> BatchResponse {
    let at = Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap();
    let entries: Vec<Entry> = bodies
        .iter()
        .map(|b| Entry::new(EntryKind::Receipt, at, b.clone()).unwrap())
        .collect();
    let tree = MemoryTree::<Sha256>::from_leaf_hashes(entries.iter().map(Entry::leaf_hash));
    let n = entries.len() as u64;
    let note = Checkpoint::new(log.name(), n, tree.root()).sign(log).unwrap();
    let results = (0..n)
        .map(|i| {
            let hashes = inclusion_proof::<Sha256, _>(&tree, i, n).unwrap();
            let proof = TlogProof {
                extra: Some(entry_header(EntryKind::Receipt, at)),
                index: i,
                hashes: hashes.clone(),
                checkpoint: note.clone(),
            };
            BatchResult {
                status: 201,
                ack: Some(Ack {
                    index: i,
                    leaf_hash: entries[i as usize].leaf_hash(),
                    size: n,
                    checkpoint: note.to_text(),
                    inclusion_proof: hashes,
                    tlog_proof: proof.to_text(),
                    existing: false,
                    late_by_ms: None,
                }),
                problem: None,
            }
        })
        .collect();
    BatchResponse { results }
}

/// A "ledger" that answers one request with `body`.
fn answering(body: String) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        // The whole request, head and body, so that closing the socket
        // does not reset the connection under the client.
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            let n = s.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some(end) = text.find("\r\n\r\n") {
                let len: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if got.len() >= end + 4 + len {
                    break;
                }
            }
            assert!(n > 0, "the client closed before sending its request");
        }
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    url
}

#[test]
fn each_acknowledgement_of_a_batch_is_proven_on_its_own() {
    let bodies: Vec<Vec<u8>> = (0..4).map(examples::signed_receipt).collect();
    let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    let log = examples::log_key();
    let client = |a: &BatchResponse| HttpLedger::new(&answering(serde_json::to_string(a).unwrap()), log.verifier());

    // Honest: every item proven.
    let honest = answer(&bodies, &log);
    let r = client(&honest).submit_batch(&refs, Duration::from_secs(5)).unwrap();
    assert!(r.iter().all(Result::is_ok), "{r:?}");
    assert_eq!(
        r.iter().map(|a| a.as_ref().unwrap().index).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );

    // Item 2's proof is item 1's: the shared, verified checkpoint does not
    // vouch for it.
    let mut lying = honest.clone();
    let one = lying.results[1].ack.clone().unwrap();
    lying.results[2].ack.as_mut().unwrap().tlog_proof = one.tlog_proof;
    let r = client(&lying).submit_batch(&refs, Duration::from_secs(5)).unwrap();
    assert!(r[0].is_ok() && r[1].is_ok() && r[3].is_ok(), "{r:?}");
    assert!(matches!(r[2], Err(LedgerError::BadAcknowledgement(_))), "{r:?}");

    // Item 3 under a checkpoint another key signed (a forked view).
    let mut forked = honest.clone();
    let other = answer(&bodies, &examples::authority_key());
    forked.results[3] = other.results[3].clone();
    let r = client(&forked).submit_batch(&refs, Duration::from_secs(5)).unwrap();
    assert!(r[..3].iter().all(Result::is_ok), "{r:?}");
    assert!(matches!(r[3], Err(LedgerError::BadAcknowledgement(_))), "{r:?}");

    // An answer with a result missing: nothing is acknowledged.
    let mut short = honest;
    short.results.pop();
    let r = client(&short).submit_batch(&refs, Duration::from_secs(5));
    assert!(matches!(r, Err(LedgerError::BadAcknowledgement(_))), "{r:?}");
}
