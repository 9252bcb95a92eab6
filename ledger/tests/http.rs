//! Every route built so far, and its error paths, through `router(state)`.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cairn_api::entry::{Entry, KeyAction, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::merkle::{Hash, Sha256, verify_consistency, verify_inclusion};
use cairn_api::note::Checkpoint;
use cairn_api::policy::Bundle;
use cairn_api::proof::TlogProof;
use cairn_ledger::http::MAX_RECEIPT_BODY;
use cairn_ledger::sequencer::SequencerConfig;
use cairn_ledger::start::{Ledger, LedgerConfig};
use cairn_ledger::store::{Fault, FaultyStore, MemoryStore, Store};
use common::now_ms;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

const TOKEN: &str = "s3cret-admin-token";

fn bundle() -> Bundle {
    common::bundle(
        "all",
        b"[[rule]]\nid = \"a\"\neffect = \"ALLOW\"\nsubjects = [\"*\"]\nsurfaces = [\"*\"]\nactions = [\"*\"]\nresources = [\"*\"]\n",
    )
}

fn receipt(n: u64) -> Vec<u8> {
    common::receipt(n, &examples::gate_key(), now_ms(), &bundle(), "idem")
}

async fn app() -> (axum::Router, Arc<dyn Store>) {
    app_with(SequencerConfig::default()).await
}

async fn app_with(config: SequencerConfig) -> (axum::Router, Arc<dyn Store>) {
    app_on(Arc::new(MemoryStore::new()), config).await
}

async fn app_on(store: Arc<dyn Store>, config: SequencerConfig) -> (axum::Router, Arc<dyn Store>) {
    app_limited(store, config, cairn_ledger::http::Limits::default()).await
}

async fn app_limited(
    store: Arc<dyn Store>,
    config: SequencerConfig,
    limits: cairn_ledger::http::Limits,
) -> (axum::Router, Arc<dyn Store>) {
    let config = LedgerConfig {
        admin_token: Some(TOKEN.into()),
        sequencer: config,
        body_deadline: std::time::Duration::from_millis(300),
        limits,
        ..LedgerConfig::new(examples::log_key(), vec![examples::authority_key().verifier()])
    };
    let ledger = Ledger::start(store.clone(), config).await.unwrap();
    (ledger.router(), store)
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, ct, body)
}

fn post(path: &str, body: Vec<u8>, token: Option<&str>) -> Request<Body> {
    let mut r = Request::post(path).header(header::CONTENT_TYPE, "application/cose");
    if let Some(t) = token {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    r.body(Body::from(body)).unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// Split an RFC 8742 CBOR sequence into its items.
fn cbor_seq(mut bytes: &[u8]) -> Vec<cairn_api::cbor::CBOR> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (item, n) = cairn_api::cbor::decode_prefix(bytes, 1 << 22).unwrap();
        out.push(item);
        bytes = &bytes[n..];
    }
    out
}

fn json(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b).unwrap()
}

fn problem(status: StatusCode, ct: &str, body: &[u8], slug: &str) {
    assert_eq!(ct, "application/problem+json", "{}", String::from_utf8_lossy(body));
    let p = json(body);
    assert_eq!(p["status"], status.as_u16());
    assert_eq!(p["type"], format!("https://cairn.dev/problems/{slug}"), "{p}");
    assert!(p["detail"].as_str().unwrap().len() > 3);
}

async fn bootstrap(app: &axum::Router) {
    let key = common::key_statement(KeyAction::Register, &examples::gate_key());
    let (s, _, _) = call(app, post("/v1/keys", key, Some(TOKEN))).await;
    assert_eq!(s, StatusCode::CREATED);
    let b = cairn_api::cose::sign(bundle().as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
    let (s, _, _) = call(app, post("/v1/policies", b, Some(TOKEN))).await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_and_read_back_everything_an_auditor_needs() {
    let (app, _) = app().await;
    let (s, ct, b) = call(&app, get("/v1/checkpoint")).await;
    problem(s, &ct, &b, "not-found");
    let (s, ct, b) = call(&app, get("/v1/export")).await;
    problem(s, &ct, &b, "not-found");
    bootstrap(&app).await;
    let body = receipt(1);
    let (s, _, b) = call(&app, post("/v1/receipts", body.clone(), None)).await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let ack = json(&b);
    assert_eq!(ack["index"], 2);
    // The tlog-proof in the answer verifies from the body alone.
    let proof = TlogProof::parse(ack["tlog_proof"].as_str().unwrap().as_bytes()).unwrap();
    proof.verify_body(&body, &examples::log_key().verifier(), &[]).unwrap();
    // Resubmission: 200 with the original.
    let (s, _, b) = call(&app, post("/v1/receipts", body.clone(), None)).await;
    assert_eq!((s, json(&b)["index"].clone()), (StatusCode::OK, serde_json::json!(2)));
    for n in 2..6 {
        let (s, _, _) = call(&app, post("/v1/receipts", receipt(n), None)).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    // The checkpoint.
    let (s, ct, b) = call(&app, get("/v1/checkpoint")).await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "text/plain; charset=utf-8"));
    let (cp, _, _) = Checkpoint::verify(&b, &examples::log_key().verifier(), &[]).unwrap();
    assert_eq!(cp.size, 7);
    let (_, _, b) = call(&app, get("/v1/checkpoints?from=0&to=3")).await;
    let list = json(&b);
    assert_eq!(list["checkpoints"].as_array().unwrap().len(), 3);
    let old = Checkpoint::verify(
        list["checkpoints"][2]["note"].as_str().unwrap().as_bytes(),
        &examples::log_key().verifier(),
        &[],
    )
    .unwrap()
    .0;
    // Entries, one and a page.
    let (s, ct, b) = call(&app, get("/v1/entries/2")).await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/cbor"));
    let entry = Entry::from_cbor(&b).unwrap();
    assert_eq!(entry.body(), body.as_slice());
    let (_, _, b) = call(&app, get("/v1/entries?start=0&end=100")).await;
    let page = cairn_api::cbor::decode(&b).unwrap();
    assert_eq!(cairn_api::cbor::array(&page, "page").unwrap().len(), 7);
    // Inclusion, by index and by leaf hash.
    for q in [
        "index=2&size=7".to_string(),
        format!("leaf_hash={}", entry.leaf_hash().to_hex()),
    ] {
        let (s, _, b) = call(&app, get(&format!("/v1/proofs/inclusion?{q}"))).await;
        assert_eq!(s, StatusCode::OK);
        let p = json(&b);
        let hashes: Vec<Hash> = p["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
            .collect();
        verify_inclusion::<Sha256>(&entry.leaf_hash(), 2, 7, &hashes, &cp.root.0).unwrap();
    }
    // Consistency between the stored checkpoint at 3 and the latest.
    let (s, _, b) = call(&app, get("/v1/proofs/consistency?from=3&to=7")).await;
    assert_eq!(s, StatusCode::OK);
    let hashes: Vec<Hash> = json(&b)["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    verify_consistency::<Sha256>(3, 7, &hashes, &old.root.0, &cp.root.0).unwrap();
    // The export: header, 7 entries, a checkpoint after each batch.
    let (s, ct, b) = call(&app, get("/v1/export")).await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/cbor-seq"));
    let items = cbor_seq(&b);
    let kinds: Vec<String> = items
        .iter()
        .map(|i| {
            cairn_api::cbor::text(&cairn_api::cbor::array(i, "i").unwrap()[0], "k")
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds[0], "cairn-export/v1");
    assert_eq!(kinds.iter().filter(|k| *k == "entry").count(), 7);
    assert_eq!(
        kinds.iter().filter(|k| *k == "checkpoint").count(),
        7,
        "one commit per submission here"
    );
    let (_, _, b) = call(&app, get("/v1/export?from=5")).await;
    assert_eq!(cbor_seq(&b).len(), 1 + 2 + 2);
    let (s, ct, b) = call(&app, get("/v1/export?from=99")).await;
    problem(s, &ct, &b, "bad-parameter");
    // Without Accept: Prometheus text 0.0.4 (counters named with _total in
    // HELP and TYPE, no # EOF); asked for: OpenMetrics.
    let (s, ct, b) = call(&app, get("/metrics")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    let m = String::from_utf8(b).unwrap();
    assert!(m.contains("# TYPE cairn_decisions_total counter"), "{m}");
    assert!(!m.contains("# EOF"), "{m}");
    let om = Request::get("/metrics")
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .body(Body::empty())
        .unwrap();
    let (s, ct, b) = call(&app, om).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    assert!(String::from_utf8(b).unwrap().ends_with("# EOF\n"));
    assert!(m.contains("cairn_tree_size 7"), "{m}");
    assert!(
        m.contains("cairn_decisions_total{gate=\"gate.example/eks-proxy\""),
        "{m}"
    );
    assert!(m.contains("cairn_batch_entries_count"), "{m}");
    let (s, _, b) = call(&app, get("/healthz")).await;
    assert_eq!((s, b.as_slice()), (StatusCode::OK, &b"ok"[..]));
    let (s, _, _) = call(&app, get("/readyz")).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_problem_details_and_change_nothing() {
    let (app, store) = app().await;
    // Unknown gate key before registration.
    let (s, ct, b) = call(&app, post("/v1/receipts", receipt(1), None)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    problem(s, &ct, &b, "unknown-key");
    // Admin routes need the credential.
    let (s, ct, b) = call(&app, post("/v1/keys", vec![1], None)).await;
    problem(s, &ct, &b, "unauthorized");
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = call(&app, post("/v1/keys", vec![1], Some("wrong"))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, ct, b) = call(&app, post("/v1/keys", vec![0xa0], Some(TOKEN))).await;
    problem(s, &ct, &b, "bad-entry");
    // A key statement signed by the gate, not an authority.
    let forged = common::key_statement_signed_by(KeyAction::Register, &examples::gate_key(), &examples::gate_key());
    let (s, ct, b) = call(&app, post("/v1/keys", forged, Some(TOKEN))).await;
    problem(s, &ct, &b, "not-authority");
    // Register the key only: the receipt's bundle is not archived.
    let key = common::key_statement(KeyAction::Register, &examples::gate_key());
    assert_eq!(
        call(&app, post("/v1/keys", key, Some(TOKEN))).await.0,
        StatusCode::CREATED
    );
    let (s, ct, b) = call(&app, post("/v1/receipts", receipt(1), None)).await;
    assert_eq!(s, StatusCode::CONFLICT);
    problem(s, &ct, &b, "policy-not-archived");
    assert!(json(&b)["detail"].as_str().unwrap().contains(&bundle().hash().to_hex()));
    // Wrong media type, oversized body, garbage.
    let req = Request::post("/v1/receipts")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    let (s, ct, b) = call(&app, req).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    problem(s, &ct, &b, "unsupported-media-type");
    let (s, ct, b) = call(&app, post("/v1/receipts", vec![0; MAX_RECEIPT_BODY + 1], None)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    problem(s, &ct, &b, "body-too-large");
    let (s, ct, b) = call(&app, post("/v1/receipts", vec![0xa0], None)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    problem(s, &ct, &b, "bad-cose");
    // A flipped signature bit.
    let mut tampered = receipt(2);
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let (s, ct, b) = call(&app, post("/v1/receipts", tampered, None)).await;
    problem(s, &ct, &b, "bad-signature");
    // Bad read parameters.
    let (s, ct, b) = call(&app, get("/v1/entries/x")).await;
    problem(s, &ct, &b, "bad-parameter");
    let (s, ct, b) = call(&app, get("/v1/entries/99")).await;
    problem(s, &ct, &b, "not-found");
    let (s, _, _) = call(&app, get("/v1/entries?start=5&end=2")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, ct, b) = call(&app, get("/v1/proofs/inclusion?index=0&size=99")).await;
    problem(s, &ct, &b, "bad-parameter");
    let (s, ct, b) = call(&app, get("/v1/proofs/inclusion?index=5")).await;
    problem(s, &ct, &b, "bad-parameter");
    let (s, ct, b) = call(&app, get("/v1/proofs/consistency?from=0")).await;
    problem(s, &ct, &b, "bad-parameter");
    let (s, ct, b) = call(&app, get("/nope")).await;
    problem(s, &ct, &b, "not-found");
    // Only the one key registration was written.
    assert_eq!(store.state().unwrap().frontier.size(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_queries_filter_and_paginate_and_admin_reads_work() {
    let (app, _) = app().await;
    bootstrap(&app).await;
    // Receipts 0..12: n % 4 picks surface (eks, github, postgres, s3) and
    // n % 3 the decision (PERMIT, DENY, SILENCE); indices n + 2.
    for n in 0..12 {
        assert_eq!(
            call(&app, post("/v1/receipts", receipt(n), None)).await.0,
            StatusCode::CREATED
        );
    }
    let q = |path: String| {
        let app = app.clone();
        async move {
            let (s, _, b) = call(&app, get(&path)).await;
            assert_eq!(s, StatusCode::OK, "{path}: {}", String::from_utf8_lossy(&b));
            json(&b)
        }
    };
    let idx = |v: &serde_json::Value| -> Vec<u64> {
        v["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["index"].as_u64().unwrap())
            .collect()
    };
    // receipt n uses example n % 9: surface index (n % 9) % 4.
    let eks = q("/v1/receipts?surface=eks".into()).await;
    let want: Vec<u64> = (0..12u64).filter(|n| (n % 9) % 4 == 0).map(|n| n + 2).collect();
    assert_eq!(idx(&eks), want);
    assert!(eks["next_cursor"].is_null());
    // Two filters at once.
    let both = q("/v1/receipts?surface=eks&decision=PERMIT".into()).await;
    let want: Vec<u64> = (0..12u64)
        .filter(|n| (n % 9) % 4 == 0 && (n % 9) % 3 == 0)
        .map(|n| n + 2)
        .collect();
    assert_eq!(idx(&both), want);
    assert_eq!(both["receipts"][0]["receipt"]["decision"], "PERMIT");
    // The intersection, filters in another order, one hit per page: the
    // same hits, each once, and a final page without a cursor.
    let (mut paged, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let more = cursor.as_deref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = q(format!("/v1/receipts?decision=PERMIT&surface=eks&limit=1{more}")).await;
        paged.extend(idx(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, idx(&both));
    // An empty intersection.
    let none = q("/v1/receipts?surface=github&decision=SILENCE&action=nope".into()).await;
    assert!(idx(&none).is_empty());
    // Pagination over everything.
    let p1 = q("/v1/receipts?limit=5".into()).await;
    assert_eq!(idx(&p1), vec![2, 3, 4, 5, 6]);
    let cursor = p1["next_cursor"].as_str().unwrap().to_owned();
    let p2 = q(format!("/v1/receipts?limit=5&cursor={cursor}")).await;
    assert_eq!(idx(&p2), vec![7, 8, 9, 10, 11]);
    let p3 = q(format!(
        "/v1/receipts?limit=5&cursor={}",
        p2["next_cursor"].as_str().unwrap()
    ))
    .await;
    assert_eq!(idx(&p3), vec![12, 13]);
    assert!(p3["next_cursor"].is_null());
    // A time window that excludes everything.
    let none = q("/v1/receipts?until=2000-01-01T00:00:00Z".into()).await;
    assert!(idx(&none).is_empty());
    // Bad parameters.
    for bad in [
        "/v1/receipts?limit=0",
        "/v1/receipts?limit=100000",
        "/v1/receipts?decision=ALLOW",
        "/v1/receipts?since=yesterday",
        "/v1/receipts?cursor=abc",
        "/v1/receipts?since=2030-01-01T00:00:00Z&until=2020-01-01T00:00:00Z",
    ] {
        let (s, _, _) = call(&app, get(bad)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (s, _, _) = call(&app, get("/v1/receipts?colour=red")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "unknown filter");
    // Admin reads.
    let (s, _, _) = call(&app, get("/v1/keys")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let req = Request::get("/v1/keys")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (s, _, b) = call(&app, req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        json(&b)["key_events"][0]["key_ref"],
        examples::gate_key().verifier().key_ref()
    );
    let path = format!("/v1/policies/{}", bundle().hash().to_hex());
    let req = Request::get(&path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (s, ct, b) = call(&app, req).await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/cose"));
    let msg = cairn_api::cose::Sign1::parse(&b, POLICY_CONTENT_TYPE).unwrap();
    assert_eq!(Bundle::from_bytes(msg.payload()).unwrap().hash(), bundle().hash());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_submissions_answer_each_item() {
    let (app, store) = app().await;
    bootstrap(&app).await;
    let good: Vec<Vec<u8>> = (0..20).map(receipt).collect();
    let mut items: Vec<cairn_api::cbor::CBOR> = good.iter().map(cairn_api::cbor::CBOR::to_byte_string).collect();
    items.push(cairn_api::cbor::CBOR::to_byte_string(good[3].clone())); // a duplicate
    items.push(cairn_api::cbor::CBOR::to_byte_string(vec![0xa0])); // garbage
    let body = cairn_api::cbor::encode(&cairn_api::cbor::CBOR::from(items));
    let req = Request::post("/v1/receipts/batch")
        .header(header::CONTENT_TYPE, "application/cbor")
        .body(Body::from(body))
        .unwrap();
    let (s, _, b) = call(&app, req).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let results = json(&b)["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 22);
    let statuses: Vec<u64> = results.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    // The original and its duplicate race into the same group commit:
    // whichever arrives first is the new entry (201), the other gets it
    // back (200); one entry either way.
    assert!(statuses[..20].iter().all(|s| *s == 201 || *s == 200));
    let mut pair = [statuses[3], statuses[20]];
    pair.sort_unstable();
    assert_eq!(pair, [200, 201]);
    assert_eq!(results[20]["ack"]["index"], results[3]["ack"]["index"]);
    assert_eq!(statuses[21], 400);
    assert_eq!(results[21]["problem"]["type"], "https://cairn.dev/problems/bad-cose");
    assert_eq!(store.state().unwrap().frontier.size(), 2 + 20);
    for (i, body) in good.iter().enumerate() {
        let p = TlogProof::parse(results[i]["ack"]["tlog_proof"].as_str().unwrap().as_bytes()).unwrap();
        p.verify_body(body, &examples::log_key().verifier(), &[]).unwrap();
    }
    // Malformed batches.
    for (ct, body, slug) in [
        ("application/cbor", vec![0x01], "bad-batch"),
        ("application/cbor", vec![0x80], "bad-batch"),
        (
            "application/cbor",
            cairn_api::cbor::encode(&cairn_api::cbor::CBOR::from(vec![cairn_api::cbor::CBOR::from(1u64)])),
            "bad-batch",
        ),
        ("application/cose", vec![0x80], "unsupported-media-type"),
    ] {
        let req = Request::post("/v1/receipts/batch")
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap();
        let (s, c, b) = call(&app, req).await;
        problem(s, &c, &b, slug);
    }
    let too_many = cairn_api::cbor::encode(&cairn_api::cbor::CBOR::from(vec![
        cairn_api::cbor::CBOR::to_byte_string(
            [0u8]
        );
        257
    ]));
    let req = Request::post("/v1/receipts/batch")
        .header(header::CONTENT_TYPE, "application/cbor")
        .body(Body::from(too_many))
        .unwrap();
    let (s, c, b) = call(&app, req).await;
    problem(s, &c, &b, "bad-batch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_cut_off_at_the_deadline() {
    use futures_util::StreamExt as _;
    let (app, store) = app().await;
    // One byte, then nothing: the body never completes.
    let stream = futures_util::stream::once(async { Ok::<_, std::io::Error>(vec![0xd2u8]) })
        .chain(futures_util::stream::pending());
    let req = Request::post("/v1/receipts")
        .header(header::CONTENT_TYPE, "application/cose")
        .body(Body::from_stream(stream))
        .unwrap();
    let started = std::time::Instant::now();
    let (s, ct, b) = call(&app, req).await;
    assert_eq!(s, StatusCode::REQUEST_TIMEOUT);
    problem(s, &ct, &b, "body-deadline");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(store.state().unwrap().frontier.size(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_over_its_rate_gets_429_with_retry_after_and_nothing_changes() {
    let (app, store) = app_with(SequencerConfig {
        gate_rate: Some(cairn_ledger::ratelimit::GateRate {
            per_second: 0.5,
            burst: 2.0,
        }),
        ..SequencerConfig::default()
    })
    .await;
    bootstrap(&app).await;
    let size = store.size().unwrap();
    // At the limit: the burst goes through.
    for n in 0..2 {
        assert_eq!(
            call(&app, post("/v1/receipts", receipt(n), None)).await.0,
            StatusCode::CREATED
        );
    }
    // Beyond it: 429, a Retry-After, a problem naming the limit, no entry.
    let resp = app
        .clone()
        .oneshot(post("/v1/receipts", receipt(2), None))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["type"], "https://cairn.dev/problems/rate-limited");
    assert_eq!(store.size().unwrap(), size + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_query_strings_get_problem_details() {
    let (app, _) = app().await;
    for path in [
        "/v1/checkpoints?to=-1",
        "/v1/entries?start=x&end=2",
        "/v1/proofs/inclusion?index=1.5",
        "/v1/proofs/consistency?from=abc",
        "/v1/export?from=-3",
        "/v1/receipts?break_glass=maybe",
        "/v1/receipts?nonsense=1",
        "/v1/receipts?subject=",
        "/v1/checkpoints?to=4611686018427387905",
        "/v1/entries/4611686018427387905",
        "/v1/proofs/consistency?from=99999999999999999999",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([format!("/v1/receipts?target={}", "x".repeat(257))])
    {
        let path = path.as_str();
        let (status, ct, body) = call(&app, get(path)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(ct, "application/problem+json", "{path}");
        let p: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(p["type"], "https://cairn.dev/problems/bad-parameter", "{path}");
        assert!(!p["detail"].as_str().unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_503_and_reads_keep_working() {
    let faulty = Arc::new(FaultyStore::new(MemoryStore::new()));
    let (app, store) = app_on(faulty.clone(), SequencerConfig::default()).await;
    bootstrap(&app).await;
    assert_eq!(
        call(&app, post("/v1/receipts", receipt(0), None)).await.0,
        StatusCode::CREATED
    );
    let size = store.size().unwrap();
    faulty.arm(Fault::Full);
    for n in 1..4 {
        let resp = app
            .clone()
            .oneshot(post("/v1/receipts", receipt(n), None))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().contains_key(header::RETRY_AFTER));
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let p: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(p["type"], "https://cairn.dev/problems/not-durable");
        assert!(p["detail"].as_str().unwrap().contains("no space left"), "{p}");
    }
    assert_eq!(store.size().unwrap(), size, "nothing written");
    // Reads keep working.
    for path in [
        "/v1/checkpoint",
        "/v1/entries/0",
        "/v1/export",
        "/v1/proofs/inclusion?index=2",
    ] {
        assert_eq!(call(&app, get(path)).await.0, StatusCode::OK, "{path}");
    }
    // Not ready while writes cannot be made durable; ready again after.
    assert_eq!(call(&app, get("/readyz")).await.0, StatusCode::SERVICE_UNAVAILABLE);
    // Space again: writes resume, the same receipts are accepted.
    faulty.clear();
    assert_eq!(call(&app, get("/readyz")).await.0, StatusCode::OK);
    for n in 1..4 {
        assert_eq!(
            call(&app, post("/v1/receipts", receipt(n), None)).await.0,
            StatusCode::CREATED
        );
    }
    assert_eq!(store.size().unwrap(), size + 3);
}

fn batch(items: &[Vec<u8>]) -> Request<Body> {
    let items: Vec<cairn_api::cbor::CBOR> = items.iter().map(cairn_api::cbor::CBOR::to_byte_string).collect();
    Request::post("/v1/receipts/batch")
        .header(header::CONTENT_TYPE, "application/cbor")
        .body(Body::from(cairn_api::cbor::encode(&cairn_api::cbor::CBOR::from(items))))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_limits_hold_at_and_beyond_the_limit() {
    let limits = cairn_ledger::http::Limits {
        receipt_body: 2000,
        admin_body: cairn_ledger::http::MAX_ADMIN_BODY,
        batch_items: 2,
        batch_body: 100_000,
        page: 5,
    };
    let (app, _) = app_limited(Arc::new(MemoryStore::new()), SequencerConfig::default(), limits).await;
    bootstrap(&app).await;
    // Body size: at the limit it is read (and refused as garbage), beyond it 413.
    assert_eq!(
        call(&app, post("/v1/receipts", vec![0; 2000], None)).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(&app, post("/v1/receipts", vec![0; 2001], None)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Batch size.
    let (s, _, b) = call(&app, batch(&[receipt(1), receipt(2)])).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (s, _, b) = call(&app, batch(&[receipt(3), receipt(4), receipt(5)])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(json(&b)["type"], "https://cairn.dev/problems/bad-batch");
    // Page size.
    assert_eq!(call(&app, get("/v1/entries?start=0&end=4")).await.0, StatusCode::OK);
    assert_eq!(
        call(&app, get("/v1/entries?start=0&end=6")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(call(&app, get("/v1/receipts?limit=5")).await.0, StatusCode::OK);
    assert_eq!(call(&app, get("/v1/receipts?limit=6")).await.0, StatusCode::BAD_REQUEST);
    // The defaults: a receipt body at MAX_RECEIPT_BODY is read, one byte more is 413.
    let (default, _) = self::app().await;
    assert_eq!(
        call(&default, post("/v1/receipts", vec![0; MAX_RECEIPT_BODY], None))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(&default, post("/v1/receipts", vec![0; MAX_RECEIPT_BODY + 1], None))
            .await
            .0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

/// A receipt names its bundle by hash and by id, revision and engine: all
/// four must be the archived bundle's (422 `policy-mismatch`, nothing
/// logged), and the first that differs is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_whose_policy_fields_are_not_its_bundle_s_is_refused() {
    use cairn_api::receipt::{Receipt, SignedReceipt};
    let (app, store) = app().await;
    bootstrap(&app).await;
    let before = store.state().unwrap().frontier.size();
    let lie = |n: u64, change: &dyn Fn(&mut cairn_api::receipt::PolicyRef)| {
        let mut p = examples::receipt_parts(n % 9);
        p.idempotency_key = format!("lie-{n}");
        p.receipt_id = examples::receipt_id(now_ms(), n);
        p.decided_at = cairn_api::timestamp::Timestamp::from_millis(now_ms()).unwrap();
        p.policy = cairn_api::policy::policy_ref(&bundle());
        change(&mut p.policy);
        SignedReceipt::sign(Receipt::new(p).unwrap(), &examples::gate_key())
            .unwrap()
            .1
    };
    type Change = fn(&mut cairn_api::receipt::PolicyRef);
    let cases: [(&str, Change); 4] = [
        ("bundle_id", |p| p.bundle_id = "made-up".into()),
        ("revision", |p| p.revision += 1),
        ("engine cedar", |p| p.engine.name = "cedar".into()),
        ("engine cairn-rules 0.0.9", |p| p.engine.version = "0.0.9".into()),
    ];
    for (n, (what, change)) in cases.iter().enumerate() {
        let (s, ct, b) = call(&app, post("/v1/receipts", lie(n as u64, &change), None)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
        problem(s, &ct, &b, "policy-mismatch");
        assert!(
            json(&b)["detail"].as_str().unwrap().contains(what),
            "{what}: {}",
            json(&b)
        );
    }
    assert_eq!(store.state().unwrap().frontier.size(), before, "nothing logged");
    // The same receipt with the bundle's own fields is logged.
    let (s, _, _) = call(&app, post("/v1/receipts", lie(9, &|_| {}), None)).await;
    assert_eq!(s, StatusCode::CREATED);
}

/// A key is registered once and revoked for good (docs/spec.md 9.2): a
/// second registration, a registration after revocation, revoking a key
/// never registered or twice are 409 `key-history` and change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_statements_must_follow_the_key_s_history() {
    let (app, store) = app().await;
    let gate = examples::gate_key();
    let other =
        cairn_api::keys::SignerKey::from_seed("gate.example/other", cairn_api::keys::KeyType::Ed25519, &[7; 32])
            .unwrap();
    let post_key = |body: Vec<u8>| call(&app, post("/v1/keys", body, Some(TOKEN)));
    let refused = |(s, ct, b): (StatusCode, String, Vec<u8>), why: &str| {
        assert_eq!(s, StatusCode::CONFLICT, "{why}");
        problem(s, &ct, &b, "key-history");
        assert!(json(&b)["detail"].as_str().unwrap().contains(why), "{}", json(&b));
    };
    refused(
        post_key(common::key_statement(KeyAction::Revoke, &other)).await,
        "never registered",
    );
    assert_eq!(
        post_key(common::key_statement(KeyAction::Register, &gate)).await.0,
        StatusCode::CREATED
    );
    std::thread::sleep(std::time::Duration::from_millis(2));
    refused(
        post_key(common::key_statement(KeyAction::Register, &gate)).await,
        "registered already",
    );
    assert_eq!(
        post_key(common::key_statement(KeyAction::Revoke, &gate)).await.0,
        StatusCode::CREATED
    );
    std::thread::sleep(std::time::Duration::from_millis(2));
    refused(
        post_key(common::key_statement(KeyAction::Revoke, &gate)).await,
        "revoked already",
    );
    refused(
        post_key(common::key_statement(KeyAction::Register, &gate)).await,
        "revocation is permanent",
    );
    assert_eq!(
        store.state().unwrap().frontier.size(),
        2,
        "only the registration and the revocation"
    );
}
