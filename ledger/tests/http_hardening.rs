//! The HTTP findings of the black-box test, each pinned: an export that
//! cannot be completed is aborted (never a clean end), numbers have one
//! spelling, a cursor cannot wrap, a query must be UTF-8, and a declared
//! body over the limit is refused before it is read.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cairn_api::entry::{KeyAction, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_ledger::sequencer::SequencerConfig;
use cairn_ledger::start::{Ledger, LedgerConfig};
use cairn_ledger::store::{Fault, FaultyStore, MemoryStore, Store};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

const TOKEN: &str = "hardening-admin-token";

async fn app(store: Arc<dyn Store>) -> axum::Router {
    let config = LedgerConfig {
        admin_token: Some(TOKEN.into()),
        sequencer: SequencerConfig::default(),
        ..LedgerConfig::new(examples::log_key(), vec![examples::authority_key().verifier()])
    };
    Ledger::start(store, config).await.unwrap().router()
}

fn post(path: &str, body: Vec<u8>, admin: bool) -> Request<Body> {
    let mut r = Request::post(path).header(header::CONTENT_TYPE, "application/cose");
    if admin {
        r = r.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    r.body(Body::from(body)).unwrap()
}

async fn status(app: &axum::Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let s = resp.status();
    (s, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
}

async fn populated(store: Arc<dyn Store>, n: u64) -> axum::Router {
    let app = app(store).await;
    let key = common::key_statement(KeyAction::Register, &examples::gate_key());
    assert_eq!(status(&app, post("/v1/keys", key, true)).await.0, StatusCode::CREATED);
    let bundle = common::bundle("empty", b"");
    let b = cairn_api::cose::sign(bundle.as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
    assert_eq!(status(&app, post("/v1/policies", b, true)).await.0, StatusCode::CREATED);
    let items: Vec<Vec<u8>> = (0..n)
        .map(|k| common::receipt(k, &examples::gate_key(), common::now_ms(), &bundle, "h"))
        .collect();
    for chunk in items.chunks(256) {
        let body = cairn_api::cbor::encode(&cairn_api::cbor::CBOR::from(
            chunk
                .iter()
                .map(|b| cairn_api::cbor::CBOR::to_byte_string(b.clone()))
                .collect::<Vec<_>>(),
        ));
        let req = Request::post("/v1/receipts/batch")
            .header(header::CONTENT_TYPE, "application/cbor")
            .body(Body::from(body))
            .unwrap();
        assert_eq!(status(&app, req).await.0, StatusCode::OK);
    }
    app
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_that_fails_midway_is_aborted_never_ended_cleanly() {
    let faulty = Arc::new(FaultyStore::new(MemoryStore::new()));
    let app = populated(faulty.clone(), 700).await;
    // Whole: it ends cleanly.
    let resp = app.clone().oneshot(get("/v1/export")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.into_body().collect().await.is_ok());
    // A read fails at entry 600, after chunks were sent: the body errors.
    faulty.arm(Fault::EntriesFrom(600));
    let resp = app.clone().oneshot(get("/v1/export")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the status was sent before the failure");
    assert!(
        resp.into_body().collect().await.is_err(),
        "a truncated export must not end like a whole one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_cursors_and_queries_have_one_meaning() {
    let app = populated(Arc::new(MemoryStore::new()), 3).await;
    assert_eq!(status(&app, get("/v1/entries/1")).await.0, StatusCode::OK);
    for bad in [
        "/v1/entries/+1",
        "/v1/entries/01",
        "/v1/entries/-1",
        "/v1/entries/%201",
        "/v1/entries?start=+0&end=1",
        "/v1/entries?start=00&end=1",
        "/v1/proofs/inclusion?index=01",
        // The largest cursor does not wrap around to the first page.
        "/v1/receipts?cursor=18446744073709551615",
        "/v1/receipts?cursor=4611686018427387905",
        // Invalid UTF-8, percent-encoded.
        "/v1/receipts?gate=%ff%fe",
        "/v1/export?from=%c3%28",
    ] {
        let (s, body) = status(&app, get(bad)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {}", String::from_utf8_lossy(&body));
        let p: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(p["type"], "https://cairn.dev/problems/bad-parameter", "{bad}");
    }
    assert_eq!(status(&app, get("/v1/entries?start=0&end=3")).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_over_the_limit_is_refused_before_the_body_is_read() {
    let app = app(Arc::new(MemoryStore::new())).await;
    // The body never comes: the answer must not wait for it.
    let (_tx, body) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
    let stream = futures_util::stream::unfold(body, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let req = Request::post("/v1/receipts")
        .header(header::CONTENT_TYPE, "application/cose")
        .header(header::CONTENT_LENGTH, (1u64 << 30).to_string())
        .header(header::EXPECT, "100-continue")
        .body(Body::from_stream(stream))
        .unwrap();
    let resp = tokio::time::timeout(std::time::Duration::from_secs(2), app.oneshot(req))
        .await
        .expect("answered at once")
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_is_shed_before_the_body_is_read() {
    let config = LedgerConfig {
        in_flight: (4, cairn_ledger::http::in_flight::MAX_IN_FLIGHT_BYTES),
        ..LedgerConfig::new(examples::log_key(), vec![examples::authority_key().verifier()])
    };
    let app = Ledger::start(Arc::new(MemoryStore::new()), config)
        .await
        .unwrap()
        .router();
    // Four submissions whose bodies are still coming hold the budget.
    let mut senders = Vec::new();
    let mut held = Vec::new();
    for _ in 0..4 {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
        let req = Request::post("/v1/receipts")
            .header(header::CONTENT_TYPE, "application/cose")
            .body(Body::from_stream(stream))
            .unwrap();
        held.push(tokio::spawn(app.clone().oneshot(req)));
        senders.push(tx);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The fifth is refused at once, before its body is read.
    let started = std::time::Instant::now();
    let resp = app
        .clone()
        .oneshot(post("/v1/receipts", vec![0xa0], false))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().contains_key(header::RETRY_AFTER));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // The bodies end (garbage: 400): the budget is back.
    drop(senders);
    for h in held {
        let _ = h.await;
    }
    let (s, _) = status(&app, post("/v1/receipts", vec![0xa0], false)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
