//! The ledger as a C2SP tlog-witness client, against real `cairn-witness`
//! services on loopback: cosignatures collected within the interval and
//! published at the checkpoint routes and in tlog-proofs; a witness that
//! is down, hangs or answers garbage costs a bounded call and a metric;
//! a witness that already cosigned a larger size (409) is resynced.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cairn_api::entry::{Entry, EntryKind};
use cairn_api::examples;
use cairn_api::keys::{KeyType, SignerKey, VerifierKey};
use cairn_api::note::Checkpoint;
use cairn_api::proof::TlogProof;
use cairn_api::timestamp::Timestamp;
use cairn_api::witness::WitnessPolicy;
use cairn_ledger::start::{Ledger, LedgerConfig};
use cairn_ledger::store::{CommitBatch, EntryRecord, MemoryStore, Store};
use cairn_ledger::witnessing::WitnessingConfig;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

async fn serve(router: axum::Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, router).await });
    url
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("cairn-witnessing-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A `cairn-witness` for the example log, on loopback.
async fn witness(dir: &std::path::Path, seed: u8) -> (VerifierKey, String) {
    let key = SignerKey::from_seed(&format!("witness.example/w{seed}"), KeyType::Cosignature, &[seed; 32]).unwrap();
    let w = cairn_witness::Witness::new(
        key.clone(),
        vec![examples::log_key().verifier()],
        cairn_witness::State::open(&dir.join(format!("w{seed}"))).unwrap(),
    );
    (key.verifier(), serve(cairn_witness::http::router(Arc::new(w))).await)
}

fn grow(store: &MemoryStore, n: u64) {
    let at = Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap();
    let size = store.size().unwrap();
    let records = (size..size + n)
        .map(|i| {
            EntryRecord::from_entry(&Entry::new(EntryKind::Receipt, at, examples::signed_receipt(i)).unwrap()).unwrap()
        })
        .collect();
    let (batch, _) = CommitBatch::build(&store.state().unwrap(), records, &examples::log_key()).unwrap();
    store.commit(&batch).unwrap();
}

async fn start(store: Arc<MemoryStore>, policy: &str) -> (Ledger, WitnessPolicy) {
    let policy = WitnessPolicy::parse(policy).unwrap();
    let mut config = LedgerConfig::new(examples::log_key(), vec![examples::authority_key().verifier()]);
    config.witnessing = Some(WitnessingConfig {
        policy: policy.clone(),
        interval: Duration::from_millis(50),
        timeout: Duration::from_millis(400),
    });
    (Ledger::start(store, config).await.unwrap(), policy)
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, String) {
    let resp = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, String::from_utf8(body).unwrap())
}

/// The served checkpoint's size and the names of its verified cosigners.
async fn served(app: &axum::Router, policy: &WitnessPolicy) -> (u64, Vec<String>) {
    let (_, note) = get(app, "/checkpoint").await;
    let (cp, _, cosigs) = Checkpoint::verify(note.as_bytes(), &examples::log_key().verifier(), &policy.keys()).unwrap();
    let keys: Vec<VerifierKey> = cosigs.into_iter().map(|c| c.key).collect();
    (cp.size, policy.names_of(&keys))
}

async fn wait_until<F: AsyncFn() -> bool>(what: &str, f: F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_witnesses_cosign_and_the_checkpoint_routes_serve_it() {
    let dir = tmp("two");
    let (k1, u1) = witness(&dir, 1).await;
    let (k2, u2) = witness(&dir, 2).await;
    let store = Arc::new(MemoryStore::new());
    grow(&store, 10);
    let (ledger, policy) = start(
        store.clone(),
        &format!("witness w1 {k1} {u1}\nwitness w2 {k2} {u2}\ngroup both all w1 w2\nquorum both\n"),
    )
    .await;
    let app = ledger.router();
    wait_until("a cosigned checkpoint of size 10", async || {
        served(&app, &policy).await == (10, vec!["w1".into(), "w2".into()])
    })
    .await;
    // The log grows: the next round sends a consistency proof from 10.
    grow(&store, 7);
    wait_until("a cosigned checkpoint of size 17", async || {
        served(&app, &policy).await.0 == 17
    })
    .await;
    let (_, v1) = get(&app, "/v1/checkpoint").await;
    let (_, tiles) = get(&app, "/checkpoint").await;
    assert_eq!(v1, tiles);
    assert!(tiles.contains("\n\u{2014} witness.example/w2 "), "{tiles}");
    let (_, list) = get(&app, "/v1/checkpoints?from=17").await;
    let list: cairn_api::wire::CheckpointList = serde_json::from_str(&list).unwrap();
    let item = list.checkpoints.iter().find(|c| c.size == 17).unwrap();
    assert_eq!(item.note, tiles, "the list serves the cosigned note");
    // A tlog-proof against the cosigned checkpoint, verifiable offline
    // with the quorum.
    let (status, text) = get(&app, "/v1/proofs/tlog-proof?index=3").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let proof = TlogProof::parse(text.as_bytes()).unwrap();
    let body = examples::signed_receipt(3);
    let (_, _, cosigs) = proof
        .verify_body(&body, &examples::log_key().verifier(), &policy.keys())
        .unwrap();
    let keys: Vec<VerifierKey> = cosigs.into_iter().map(|c| c.key).collect();
    assert!(policy.quorum_met(&keys));
    assert_eq!(
        get(&app, "/v1/proofs/tlog-proof?index=17").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/v1/proofs/tlog-proof?index=x").await.0,
        StatusCode::BAD_REQUEST
    );
    let (_, metrics) = get(&app, "/metrics").await;
    assert!(
        metric(&metrics, "cairn_witness_cosignatures_total{witness=\"w1\"}") >= 2.0,
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "cairn_witness_cosigned_size"), 17.0);
    assert!(metrics.contains("\ncairn_witness_cosigned_age_seconds "), "{metrics}");
    drop(app);
    ledger.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witnesses_down_hanging_or_answering_garbage_are_bounded_and_counted() {
    let dir = tmp("bad");
    let (k1, u1) = witness(&dir, 1).await;
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    // Accepts connections and never answers.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_url = format!("http://{}", hang.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hang.accept().await {
            held.push(s);
        }
    });
    let garbage = serve(axum::Router::new().fallback(|| async { "hello\n" })).await;
    let k = |n: u8| {
        SignerKey::from_seed(&format!("witness.example/w{n}"), KeyType::Cosignature, &[n; 32])
            .unwrap()
            .verifier()
    };
    let store = Arc::new(MemoryStore::new());
    grow(&store, 5);
    let (ledger, policy) = start(
        store.clone(),
        &format!(
            "witness w1 {k1} {u1}\nwitness down {} {down}\nwitness hang {} {hang_url}\nwitness garbage {} {garbage}\nquorum w1\n",
            k(2),
            k(3),
            k(4)
        ),
    )
    .await;
    let app = ledger.router();
    // The one good witness is the quorum: checkpoints keep being cosigned
    // although every round waits out the hanging witness.
    wait_until("size 5 cosigned", async || {
        served(&app, &policy).await == (5, vec!["w1".into()])
    })
    .await;
    // Ingest goes on while rounds wait out the hanging witness: durable
    // acknowledgements carry the log-signed checkpoint of their batch.
    for n in 0..3u8 {
        let key = SignerKey::from_seed(&format!("gate.example/g{n}"), KeyType::Ed25519, &[60 + n; 32]).unwrap();
        let body = common::key_statement(cairn_api::entry::KeyAction::Register, &key);
        let ack = ledger.sequencer().submit_key(body).await.unwrap();
        assert_eq!(ack.index, 5 + u64::from(n));
        let (cp, _, cosigs) = Checkpoint::verify(
            ack.checkpoint.as_bytes(),
            &examples::log_key().verifier(),
            &policy.keys(),
        )
        .unwrap();
        assert_eq!(
            (cp.size, cosigs.len()),
            (ack.index + 1, 0),
            "the log-signed checkpoint of its batch"
        );
    }
    wait_until("size 8 cosigned", async || served(&app, &policy).await.0 == 8).await;
    let (_, m) = get(&app, "/metrics").await;
    assert!(
        metric(
            &m,
            "cairn_witness_refusals_total{witness=\"down\",reason=\"unreachable\"}"
        ) >= 1.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "cairn_witness_refusals_total{witness=\"hang\",reason=\"unreachable\"}"
        ) >= 1.0,
        "{m}"
    );
    assert!(
        metric(
            &m,
            "cairn_witness_refusals_total{witness=\"garbage\",reason=\"invalid-answer\"}"
        ) >= 1.0,
        "{m}"
    );
    drop(app);
    ledger.stop().await;

    // A quorum that needs the dead witness: nothing is published, the
    // checkpoint routes serve the log-signed checkpoint, the lag grows.
    let store2 = Arc::new(MemoryStore::new());
    grow(&store2, 4);
    let (ledger, policy) = start(
        store2.clone(),
        &format!(
            "witness w1 {k1} {u1}\nwitness down {} {down}\ngroup both all w1 down\nquorum both\n",
            k(2)
        ),
    )
    .await;
    let app = ledger.router();
    wait_until("the lag to pass 300 ms", async || {
        metric(&get(&app, "/metrics").await.1, "cairn_witness_lag_seconds") > 0.3
    })
    .await;
    assert_eq!(
        served(&app, &policy).await,
        (4, vec![]),
        "the newest log-signed checkpoint, no quorum"
    );
    drop(app);
    ledger.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_ledger_resyncs_from_the_witness_409() {
    let dir = tmp("resync");
    let (k1, u1) = witness(&dir, 1).await;
    let policy_text = format!("witness w1 {k1} {u1}\nquorum w1\n");
    let store = Arc::new(MemoryStore::new());
    grow(&store, 6);
    let (ledger, policy) = start(store.clone(), &policy_text).await;
    let app = ledger.router();
    wait_until("size 6 cosigned", async || served(&app, &policy).await.0 == 6).await;
    drop(app);
    ledger.stop().await;
    // A new ledger process knows nothing of what w1 cosigned: it sends
    // `old 0`, gets 409 with 6, and resends from 6.
    grow(&store, 4);
    let (ledger, policy) = start(store.clone(), &policy_text).await;
    let app = ledger.router();
    wait_until("size 10 cosigned", async || {
        served(&app, &policy).await == (10, vec!["w1".into()])
    })
    .await;
    let (_, m) = get(&app, "/metrics").await;
    assert_eq!(
        metric(&m, "cairn_witness_refusals_total"),
        0.0,
        "a 409 resync is not a refusal: {m}"
    );
    drop(app);
    ledger.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
