//! The witness's HTTP answers, as C2SP tlog-witness gives them: the status
//! of every refusal, the `text/x.tlog.size` body of a 409, problem details
//! for the rest, and the monitoring routes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cairn_api::examples::TestLog;
use cairn_api::keys::{KeyType, SignerKey};
use cairn_api::witness::wire::{ForkEvidenceList, WitnessedLogs};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

async fn post(app: &axum::Router, path: &str, body: Vec<u8>) -> (StatusCode, String, Vec<u8>) {
    let resp = app
        .clone()
        .oneshot(Request::post(path).body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let status = resp.status();
    (
        status,
        ct,
        resp.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

#[tokio::test]
async fn every_answer_of_add_checkpoint() {
    let dir = std::env::temp_dir().join(format!("cairn-witness-http-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut log = TestLog::new("log.example/http", 1);
    log.grow(9, "h");
    let w = cairn_witness::Witness::new(
        SignerKey::from_seed("witness.example/http", KeyType::Cosignature, &[5; 32]).unwrap(),
        vec![log.key.verifier()],
        cairn_witness::State::open(&dir).unwrap(),
    );
    let app = cairn_witness::http::router(Arc::new(w));
    let (s, ct, body) = post(&app, "/add-checkpoint", log.request(0, 4)).await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "text/plain; charset=utf-8"));
    assert!(
        String::from_utf8(body)
            .unwrap()
            .starts_with("\u{2014} witness.example/http ")
    );
    let (s, ct, body) = post(&app, "/add-checkpoint", log.request(0, 9)).await;
    assert_eq!(
        (s, ct.as_str(), body.as_slice()),
        (StatusCode::CONFLICT, "text/x.tlog.size", &b"4\n"[..])
    );
    let problem = |s: StatusCode, ct: &str, body: &[u8], slug: &str| {
        assert_eq!(ct, "application/problem+json");
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["type"], format!("https://cairn.dev/problems/witness/{slug}"));
        assert_eq!(v["status"], s.as_u16());
    };
    let (s, ct, body) = post(&app, "/add-checkpoint", b"old 1\n".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    problem(s, &ct, &body, "malformed");
    let stranger = TestLog::new("log.example/other", 2);
    let (s, ct, body) = post(&app, "/add-checkpoint", stranger.request(0, 0)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    problem(s, &ct, &body, "unknown-log");
    let mut impostor = TestLog::new("log.example/http", 3);
    impostor.grow(9, "h");
    let (s, ct, body) = post(&app, "/add-checkpoint", impostor.request(4, 9)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    problem(s, &ct, &body, "not-signed");
    let mut fork = TestLog::new("log.example/http", 1);
    fork.grow(9, "fork");
    let (s, ct, body) = post(&app, "/add-checkpoint", fork.request(4, 9)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    problem(s, &ct, &body, "inconsistent");
    let (s, _, _) = post(&app, "/add-checkpoint", vec![b'x'; 200_000]).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let (s, _, _) = post(&app, "/add-checkpoint", log.request(4, 9)).await;
    assert_eq!(s, StatusCode::OK);
    // The monitoring routes.
    let get = |path: &'static str| {
        let app = app.clone();
        async move {
            let resp = app
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            (
                resp.status(),
                resp.into_body().collect().await.unwrap().to_bytes().to_vec(),
            )
        }
    };
    let (s, body) = get("/logs").await;
    assert_eq!(s, StatusCode::OK);
    let logs: WitnessedLogs = serde_json::from_slice(&body).unwrap();
    assert_eq!((logs.logs.len(), logs.logs[0].size), (1, 9));
    let (_, body) = get("/forks").await;
    let forks: ForkEvidenceList = serde_json::from_slice(&body).unwrap();
    assert_eq!(forks.forks.len(), 1);
    assert_eq!(forks.forks[0].reason, "consistency proof does not verify");
    assert_eq!(get("/nothing").await.0, StatusCode::NOT_FOUND);
    let _ = std::fs::remove_dir_all(&dir);
}
