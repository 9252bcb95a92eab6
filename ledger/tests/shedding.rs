//! Overload is shed by queue wait: while the writer is behind (a slow
//! disk here), submissions that would wait longer than
//! `sequencer.max_queue_wait` are answered 503 `busy` with Retry-After at
//! once, before their body is read, and counted; what was admitted is
//! acknowledged; once the queue is drained the ledger admits again.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cairn_api::entry::{KeyAction, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_ledger::sequencer::SequencerConfig;
use cairn_ledger::start::{Ledger, LedgerConfig};
use cairn_ledger::store::{Fault, FaultyStore, MemoryStore};
use tower::ServiceExt as _;

fn bundle() -> cairn_api::policy::Bundle {
    let rules = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/policies/devops-staging/cairn-rules/rules.toml"),
    )
    .unwrap();
    common::bundle("devops-staging", &rules)
}

fn post(body: Body) -> Request<Body> {
    Request::post("/v1/receipts")
        .header(header::CONTENT_TYPE, "application/cose")
        .body(body)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_that_waits_too_long_sheds_new_submissions_at_once() {
    let store = Arc::new(FaultyStore::new(MemoryStore::new()));
    let config = LedgerConfig {
        sequencer: SequencerConfig {
            max_batch: 1,
            max_queue_wait: Duration::from_millis(50),
            ..SequencerConfig::default()
        },
        ..LedgerConfig::new(examples::log_key(), vec![examples::authority_key().verifier()])
    };
    let ledger = Ledger::start(store.clone(), config).await.unwrap();
    let (seq, app) = (ledger.sequencer().clone(), ledger.router());
    seq.submit_key(common::key_statement(KeyAction::Register, &examples::gate_key()))
        .await
        .unwrap();
    let signed = cairn_api::cose::sign(bundle().as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
    seq.submit_policy(signed).await.unwrap();
    let receipt = |n: u64| common::receipt(n, &examples::gate_key(), common::now_ms(), &bundle(), "shed");

    // A slow disk: each commit of one entry takes 300 ms.
    store.arm(Fault::SlowCommits(Duration::from_millis(300)));
    let admitted: Vec<_> = (0..6)
        .map(|n| tokio::spawn(app.clone().oneshot(post(Body::from(receipt(n))))))
        .collect();
    // The second commit starts with a submission that waited about 300 ms.
    tokio::time::sleep(Duration::from_millis(450)).await;

    // A new submission whose body never comes is answered 503 at once.
    let (_tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
    let never = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let resp = tokio::time::timeout(
        Duration::from_secs(1),
        app.clone().oneshot(post(Body::from_stream(never))),
    )
    .await
    .expect("shed at once, without reading the body")
    .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().contains_key(header::RETRY_AFTER));
    let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
    assert!(
        String::from_utf8_lossy(&body).contains("/problems/busy"),
        "{}",
        String::from_utf8_lossy(&body)
    );

    // What was admitted is acknowledged, the disk gets fast again, the
    // queue drains: the wait signal is reset (nothing waits), and new
    // submissions, a burst of them at once, are admitted.
    store.clear();
    for h in admitted {
        assert_eq!(h.await.unwrap().unwrap().status(), StatusCode::CREATED);
    }
    let metrics = || async {
        let m = app
            .clone()
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let text = axum::body::to_bytes(m.into_body(), 1 << 20).await.unwrap();
        String::from_utf8_lossy(&text).into_owned()
    };
    let text = metrics().await;
    assert!(text.contains("cairn_queue_wait_seconds 0.0\n"), "{text}");
    let burst: Vec<_> = (100..108)
        .map(|n| tokio::spawn(app.clone().oneshot(post(Body::from(receipt(n))))))
        .collect();
    for h in burst {
        assert_eq!(h.await.unwrap().unwrap().status(), StatusCode::CREATED);
    }
    let text = metrics().await;
    assert!(text.contains("cairn_shed_total 1\n"), "{text}");
}
