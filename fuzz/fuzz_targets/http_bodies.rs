//! The ledger's request-body paths through the real router (in memory):
//! receipts, batches, key statements and policy bundles, with the admin
//! credential so every decoder is reached. Whatever the body, the answer is
//! a client error or a success, never a 500, and never a panic.
#![no_main]
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cairn_api::entry::{KeyAction, KeyRole, KeyStatement, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::timestamp::Timestamp;
use cairn_ledger::start::{Ledger, LedgerConfig};
use cairn_ledger::store::{MemoryStore, Store};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

const ROUTES: [(&str, &str); 4] = [
    ("/v1/receipts", "application/cose"),
    ("/v1/receipts/batch", "application/cbor"),
    ("/v1/keys", "application/cose"),
    ("/v1/policies", "application/cose"),
];

fn app() -> &'static (tokio::runtime::Runtime, axum::Router) {
    static APP: OnceLock<(tokio::runtime::Runtime, axum::Router)> = OnceLock::new();
    APP.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let app = rt.block_on(async {
            let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
            let config = LedgerConfig {
                admin_token: Some("fuzz".into()),
                ..LedgerConfig::new(examples::log_key(), vec![examples::authority_key().verifier()])
            };
            let ledger = Ledger::start(store, config).await.unwrap();
            let seq = ledger.sequencer().clone();
            let key = KeyStatement {
                action: KeyAction::Register,
                role: KeyRole::Gate,
                key: examples::gate_key().verifier(),
                issued_at: Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap(),
                reason: None,
            };
            seq.submit_key(key.sign(&examples::authority_key()).unwrap())
                .await
                .unwrap();
            let mut files = std::collections::BTreeMap::new();
            files.insert("rules.toml".to_owned(), b"".to_vec());
            let engine = cairn_api::policy::registry::CAIRN_RULES.engine_ref();
            let bundle =
                cairn_api::policy::Bundle::new("fuzz", 1, engine, Timestamp::from_millis(0).unwrap(), files).unwrap();
            let signed =
                cairn_api::cose::sign(bundle.as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
            seq.submit_policy(signed).await.unwrap();
            ledger.router()
        });
        (rt, app)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((pick, body)) = data.split_first() else { return };
    let (path, ct) = ROUTES[usize::from(*pick) % ROUTES.len()];
    let (rt, app) = app();
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, ct)
        .header(header::AUTHORIZATION, "Bearer fuzz")
        .body(Body::from(body.to_vec()))
        .unwrap();
    let resp = rt.block_on(app.clone().oneshot(req)).unwrap();
    assert_ne!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
});
