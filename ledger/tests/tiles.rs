//! The C2SP tlog-tiles read path through the router: `GET /checkpoint` and
//! `GET /tile/...` serve exactly what the text says, from a log of 600
//! entries (two full tiles and a partial one at level 0).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cairn_api::entry::{Entry, EntryKind};
use cairn_api::examples;
use cairn_api::merkle::{Hash, MemoryTree, Sha256, subtree_root};
use cairn_api::tiles::decode_bundle;
use cairn_api::timestamp::Timestamp;
use cairn_ledger::start::{Ledger, LedgerConfig};
use cairn_ledger::store::{CommitBatch, EntryRecord, MemoryStore, Store};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

const SIZE: u64 = 600;

async fn app() -> (axum::Router, Vec<Entry>) {
    let store = Arc::new(MemoryStore::new());
    let at = Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap();
    let entries: Vec<Entry> = (0..SIZE)
        .map(|n| Entry::new(EntryKind::Receipt, at, examples::signed_receipt(n)).unwrap())
        .collect();
    for chunk in entries.chunks(128) {
        let records = chunk.iter().map(|e| EntryRecord::from_entry(e).unwrap()).collect();
        let (batch, _) = CommitBatch::build(&store.state().unwrap(), records, &examples::log_key()).unwrap();
        store.commit(&batch).unwrap();
    }
    let config = LedgerConfig::new(examples::log_key(), vec![examples::authority_key().verifier()]);
    let ledger = Ledger::start(store, config).await.unwrap();
    (ledger.router(), entries)
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, String, String, Vec<u8>) {
    let resp = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let h = |n: header::HeaderName| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (status, ct, cache) = (resp.status(), h(header::CONTENT_TYPE), h(header::CACHE_CONTROL));
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, ct, cache, body)
}

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    assert_eq!(bytes.len() % 32, 0);
    bytes.chunks(32).map(|c| Hash::from_slice(c).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiles_and_checkpoint_are_served_as_c2sp_says() {
    let (app, entries) = app().await;
    let tree = MemoryTree::<Sha256>::from_leaf_hashes(entries.iter().map(Entry::leaf_hash));

    let (s, ct, cache, body) = get(&app, "/checkpoint").await;
    assert_eq!(
        (s, ct.as_str(), cache.as_str()),
        (StatusCode::OK, "text/plain; charset=utf-8", "no-cache")
    );
    let (_, _, _, v1) = get(&app, "/v1/checkpoint").await;
    assert_eq!(body, v1);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains(&format!("\n{SIZE}\n{}\n", tree.root().to_base64()))
    );

    let immutable = "public, max-age=31536000, immutable";
    // Level 0: leaf hashes, two full tiles and one of width 600 - 512 = 88.
    for (path, first, width) in [
        ("/tile/0/000", 0u64, 256u64),
        ("/tile/0/001", 256, 256),
        ("/tile/0/002.p/88", 512, 88),
    ] {
        let (s, ct, cache, body) = get(&app, path).await;
        assert_eq!(
            (s, ct.as_str(), cache.as_str()),
            (StatusCode::OK, "application/octet-stream", immutable),
            "{path}"
        );
        let want: Vec<Hash> = (first..first + width)
            .map(|i| entries[i as usize].leaf_hash())
            .collect();
        assert_eq!(hashes(&body), want, "{path}");
    }
    // A narrower partial tile is the prefix (its bytes never change).
    let (s, _, _, body) = get(&app, "/tile/0/002.p/5").await;
    assert_eq!((s, hashes(&body).len()), (StatusCode::OK, 5));
    // Level 1: the roots of the two full level-0 tiles.
    let (s, _, _, body) = get(&app, "/tile/1/000.p/2").await;
    assert_eq!(s, StatusCode::OK);
    let want: Vec<Hash> = (0..2u64)
        .map(|k| subtree_root::<Sha256, _>(&tree, k * 256, (k + 1) * 256).unwrap())
        .collect();
    assert_eq!(hashes(&body), want);
    // Entry bundles: the entries, each after a big-endian u16 length.
    let (s, ct, cache, body) = get(&app, "/tile/entries/002.p/88").await;
    assert_eq!(
        (s, ct.as_str(), cache.as_str()),
        (StatusCode::OK, "application/octet-stream", immutable)
    );
    let got = decode_bundle(&body, 88).unwrap();
    for (k, e) in got.iter().enumerate() {
        assert_eq!(*e, entries[512 + k].to_cbor().as_slice());
    }
    let (s, _, _, body) = get(&app, "/tile/entries/000").await;
    assert_eq!((s, decode_bundle(&body, 256).unwrap().len()), (StatusCode::OK, 256));

    // Tiles the tree does not have, and paths that are not C2SP's one
    // spelling of a tile: not-found problems.
    for path in [
        "/tile/0/002",
        "/tile/0/002.p/89",
        "/tile/0/003.p/1",
        "/tile/1/000",
        "/tile/2/000.p/1",
        "/tile/entries/002",
        "/tile/0/2",
        "/tile/0/x000/002.p/88",
        "/tile/0/002.p/088",
        "/tile/0/000.p/256",
        "/tile/00/000",
        "/tile/64/000",
        "/tile/data/000",
        "/tile/0/000/",
        "/tile/",
    ] {
        let (s, ct, _, body) = get(&app, path).await;
        assert_eq!(
            (s, ct.as_str()),
            (StatusCode::NOT_FOUND, "application/problem+json"),
            "{path}"
        );
        let p: cairn_api::wire::Problem = serde_json::from_slice(&body).unwrap();
        assert_eq!(p.problem_type(), Some(cairn_api::wire::ProblemType::NotFound), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_log_has_no_checkpoint_and_no_tiles() {
    let config = LedgerConfig::new(examples::log_key(), vec![examples::authority_key().verifier()]);
    let ledger = Ledger::start(Arc::new(MemoryStore::new()), config).await.unwrap();
    let app = ledger.router();
    for path in ["/checkpoint", "/tile/0/000.p/1", "/tile/entries/000.p/1"] {
        assert_eq!(get(&app, path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
}
