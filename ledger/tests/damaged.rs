//! A ledger started on a damaged database: an entry whose bytes no longer
//! hash to its leaf is refused (503 `damaged-entry`), counted, and every
//! write stops until an operator acts; undamaged entries are still served.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cairn_api::entry::{KeyAction, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_ledger::start::{Ledger, LedgerConfig};
use cairn_ledger::store::{RedbStore, Store};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use redb::ReadableTable as _;

const ENTRIES: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("entries");

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let s = resp.status();
    let b = resp.into_body().collect().await.unwrap().to_bytes();
    (s, String::from_utf8_lossy(&b).into_owned())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn post(path: &str, body: Vec<u8>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/cose")
        .header(header::AUTHORIZATION, "Bearer t")
        .body(Body::from(body))
        .unwrap()
}

async fn ledger(path: &std::path::Path) -> Ledger {
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(path).unwrap());
    let config = LedgerConfig {
        admin_token: Some("t".into()),
        ..LedgerConfig::new(examples::log_key(), vec![examples::authority_key().verifier()])
    };
    Ledger::start(store, config).await.unwrap()
}

fn receipt(n: u64) -> Vec<u8> {
    common::receipt(
        n,
        &examples::gate_key(),
        common::now_ms(),
        &common::bundle("empty", b""),
        "dmg",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_entry_is_refused_counted_and_stops_writes() {
    let dir = common::server::TempDir::new("damaged");
    std::fs::create_dir_all(&dir.0).unwrap();
    let path = dir.0.join("ledger.redb");
    let l = ledger(&path).await;
    let app = l.router();
    let key = common::key_statement(KeyAction::Register, &examples::gate_key());
    assert_eq!(call(&app, post("/v1/keys", key)).await.0, StatusCode::CREATED);
    let b = cairn_api::cose::sign(
        common::bundle("empty", b"").as_bytes(),
        POLICY_CONTENT_TYPE,
        &examples::authority_key(),
    )
    .unwrap();
    assert_eq!(call(&app, post("/v1/policies", b)).await.0, StatusCode::CREATED);
    for n in 0..3 {
        assert_eq!(
            call(&app, post("/v1/receipts", receipt(n))).await.0,
            StatusCode::CREATED
        );
    }
    drop(app);
    l.stop().await;

    // One byte of entry 3 changes on disk.
    {
        let db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(ENTRIES).unwrap();
            let mut bytes = t.get(3).unwrap().unwrap().value().to_vec();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            t.insert(3, bytes.as_slice()).unwrap();
        }
        tx.commit().unwrap();
    }

    let l = ledger(&path).await;
    let app = l.router();
    assert_eq!(call(&app, get("/v1/entries/2")).await.0, StatusCode::OK);
    let (s, body) = call(&app, get("/v1/entries/3")).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("https://cairn.dev/problems/damaged-entry"), "{body}");
    let (_, metrics) = call(&app, get("/metrics")).await;
    assert!(metrics.contains("cairn_damaged_entries 1"), "{metrics}");
    // Writes stop; the ledger says it is not ready.
    let (s, body) = call(&app, post("/v1/receipts", receipt(7))).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(call(&app, get("/readyz")).await.0, StatusCode::SERVICE_UNAVAILABLE);
    // The export stops at it (aborted, never a clean end).
    let resp = app.clone().oneshot(get("/v1/export")).await.unwrap();
    assert!(resp.into_body().collect().await.is_err());
    drop(app);
    l.stop().await;
}
