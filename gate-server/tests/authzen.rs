//! `cairn-gate serve`'s AuthZEN API against a real ledger: every decision
//! logged or failed closed, every answer valid under the AuthZEN 1.0
//! response schemas (schemas/authzen-1.0.schema.json).

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cairn_api::receipt::Decision as Recorded;
use common::fixture::{CALLER, Served, post, send};
use serde_json::{Value, json};

fn schema(def: &str) -> jsonschema::Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/authzen-1.0.schema.json");
    let mut s: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    s["$ref"] = json!(format!("#/$defs/{def}"));
    jsonschema::validator_for(&s).unwrap()
}

fn valid(def: &str, v: &Value) {
    let errors: Vec<String> = schema(def).iter_errors(v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{def}: {errors:?} in {v:#}");
}

fn request(action: &str, target: &str) -> Value {
    json!({
        "subject": {"type": "agent", "id": "agent:devops-helper", "properties": {"team": "platform"}},
        "action": {"name": action, "properties": {"args": ["web-7d9f"]}},
        "resource": {"type": "eks", "id": target},
        "context": {"ticket": "OPS-1004"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permit_is_answered_true_only_once_durably_logged_and_a_deny_false() {
    let s = Served::new("permit");
    let a = post(
        &s.app,
        "/access/v1/evaluation",
        &request("delete_pod", "staging:web"),
        &[],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    valid("decision", &a.json);
    assert_eq!(a.json["decision"], true);
    let ev = &a.json["context"]["cairn"];
    assert_eq!(
        (ev["decision"].as_str(), ev["durable"].as_bool()),
        (Some("PERMIT"), Some(true))
    );
    // The receipt at that index is this decision, with the request as sent.
    let logged = s.logged(ev["log_index"].as_u64().unwrap());
    let p = logged.parts();
    assert_eq!(p.receipt_id, ev["receipt_id"].as_str().unwrap());
    assert_eq!(p.decision, Recorded::Permit);
    assert_eq!(p.request.resource.id, "staging:web");
    assert_eq!(p.request.context.as_ref().unwrap()["ticket"], "OPS-1004");

    let a = post(
        &s.app,
        "/access/v1/evaluation",
        &request("delete_pod", "production:web"),
        &[],
    )
    .await;
    valid("decision", &a.json);
    assert_eq!(a.json["decision"], false);
    let ctx = &a.json["context"];
    assert_eq!(ctx["cairn"]["decision"], "DENY");
    assert_eq!(ctx["cairn"]["durable"], true);
    assert!(ctx["reason_user"]["en"].as_str().unwrap().contains("blocked"), "{ctx}");
    let logged = s.logged(ctx["cairn"]["log_index"].as_u64().unwrap());
    assert_eq!(logged.parts().reason.code, ctx["id"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_members_are_ignored_and_not_recorded() {
    let s = Served::new("unknown");
    let mut r = request("get_pods", "production:web");
    r["subject"]["nickname"] = json!("helper");
    r["page"] = json!({"next_token": ""});
    let a = post(&s.app, "/access/v1/evaluation", &r, &[]).await;
    assert_eq!(a.json["decision"], true, "{}", a.json);
    let logged = s.logged(a.json["context"]["cairn"]["log_index"].as_u64().unwrap());
    let recorded = serde_json::to_value(&logged.parts().request).unwrap();
    assert!(recorded["subject"].get("nickname").is_none(), "{recorded}");
    assert!(recorded.get("page").is_none(), "{recorded}");
}

/// Numbers with a fraction, empty identifiers, empty keys and values: all
/// AuthZEN-valid, decided and recorded exactly (docs/spec.md section 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fractions_and_empty_strings_are_decided_and_recorded_exactly() {
    let s = Served::new("edges");
    let mut r = request("get_pods", "production:web");
    r["subject"]["properties"] = json!({"": "", "trust": 0.75});
    r["context"] = json!({"ratio": 0.5, "one": 1.0, "tiny": -2.5e-8, "huge": 1e300, "n": 3, "list": [0.1, {"": 3.25}]});
    let a = post(&s.app, "/access/v1/evaluation", &r, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_eq!(a.json["decision"], true, "{}", a.json);
    let logged = s.logged(a.json["context"]["cairn"]["log_index"].as_u64().unwrap());
    let recorded = serde_json::to_value(&logged.parts().request).unwrap();
    assert_eq!(recorded["context"], r["context"]);
    assert_eq!(recorded["subject"]["properties"], r["subject"]["properties"]);
    assert!(recorded["context"]["one"].is_f64(), "1.0 stays 1.0: {recorded}");
    // An empty subject id is AuthZEN-valid too.
    let mut r = request("get_pods", "production:web");
    r["subject"]["id"] = json!("");
    let a = post(&s.app, "/access/v1/evaluation", &r, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    let logged = s.logged(a.json["context"]["cairn"]["log_index"].as_u64().unwrap());
    assert_eq!(logged.parts().request.subject.id, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_the_same_idempotency_key_gets_the_first_decision() {
    let s = Served::new("retry");
    let h = [("idempotency-key", "call-7f3a")];
    let first = post(&s.app, "/access/v1/evaluation", &request("get_pods", "staging:web"), &h).await;
    let again = post(&s.app, "/access/v1/evaluation", &request("get_pods", "staging:web"), &h).await;
    assert_eq!(first.json["context"]["cairn"], again.json["context"]["cairn"]);
    assert_eq!(again.json["decision"], true);
    // An idempotency key a receipt cannot carry: refused, nothing logged.
    let bad = post(
        &s.app,
        "/access/v1/evaluation",
        &request("get_pods", "staging:web"),
        &[("idempotency-key", "two words")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.json);
    assert_eq!(bad.json["type"], "https://cairn.dev/problems/unrecordable-request");
    // AuthZEN-valid, but text not in Unicode NFC has no deterministic
    // encoding (docs/spec.md section 2): refused before deciding.
    let mut nfd = request("get_pods", "staging:web");
    nfd["context"]["note"] = json!("cafe\u{301}");
    let bad = post(&s.app, "/access/v1/evaluation", &nfd, &[]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.json);
    assert_eq!(bad.json["type"], "https://cairn.dev/problems/unrecordable-request");
    assert!(
        bad.json["detail"].as_str().unwrap().contains("request.context.note"),
        "{}",
        bad.json
    );
    assert_eq!(
        s.running.batcher.receipts(),
        2,
        "only the first call and its retry were sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_must_authenticate_and_bad_requests_are_problems() {
    let s = Served::new("auth");
    let body = request("get_pods", "staging:web").to_string();
    for auth in [None, Some("Bearer wrong-credential-0123456789"), Some("Basic abc")] {
        let mut req = Request::post("/access/v1/evaluation").header("content-type", "application/json");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let a = send(&s.app, req.body(Body::from(body.clone())).unwrap()).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(a.headers["www-authenticate"], "Bearer");
        assert_eq!(a.json["type"], "https://cairn.dev/problems/unauthenticated");
    }
    let a = send(
        &s.app,
        Request::post("/access/v1/evaluation")
            .header("authorization", format!("Bearer {CALLER}"))
            .header("content-type", "text/plain")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let a = post(
        &s.app,
        "/access/v1/evaluation",
        &json!({"subject": {"type": "agent"}}),
        &[],
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json["type"], "https://cairn.dev/problems/bad-request");
    assert_eq!(a.headers["content-type"], "application/problem+json");
    let a = post(&s.app, "/access/v1/nothing", &json!({}), &[]).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let mut big = request("get_pods", "staging:web");
    big["context"]["pad"] = json!("x".repeat(cairn_gate_server::authzen::MAX_REQUEST_BYTES));
    let a = post(&s.app, "/access/v1/evaluation", &big, &[]).await;
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(a.json["type"], "https://cairn.dev/problems/body-too-large");
    // Nothing of the above reached the ledger: its log holds the key and the bundle.
    assert_eq!(s.running.batcher.receipts(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_is_echoed_or_made() {
    let s = Served::new("reqid");
    let a = post(
        &s.app,
        "/access/v1/evaluation",
        &request("get_pods", "staging:web"),
        &[("x-request-id", "bfe9eb29-ab87")],
    )
    .await;
    assert_eq!(a.headers["x-request-id"], "bfe9eb29-ab87");
    let a = post(
        &s.app,
        "/access/v1/evaluation",
        &request("get_pods", "staging:web"),
        &[],
    )
    .await;
    assert!(!a.headers["x-request-id"].is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_names_the_endpoints() {
    let s = Served::new("meta");
    let a = send(
        &s.app,
        Request::get("/.well-known/authzen-configuration")
            .header("host", "gate.internal:8418")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    valid("metadata", &a.json);
    assert_eq!(a.json["policy_decision_point"], "http://gate.internal:8418");
    assert_eq!(
        a.json["access_evaluations_endpoint"],
        "http://gate.internal:8418/access/v1/evaluations"
    );
    let s = Served::with("meta-fixed", |c| c.public_url = Some("https://pdp.example/".into()));
    let a = send(
        &s.app,
        Request::get("/.well-known/authzen-configuration")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        a.json["access_evaluation_endpoint"],
        "https://pdp.example/access/v1/evaluation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluations_follow_each_semantic() {
    let s = Served::new("evals");
    let base = json!({
        "subject": {"type": "agent", "id": "agent:devops-helper"},
        "action": {"name": "delete_pod"},
        "evaluations": [
            {"resource": {"type": "eks", "id": "staging:a"}},
            {"resource": {"type": "eks", "id": "production:b"}},
            {"resource": {"type": "eks", "id": "staging:c"}},
            {"action": {"name": "get_pods"}}
        ]
    });
    let a = post(&s.app, "/access/v1/evaluations", &base, &[]).await;
    valid("evaluationsResponse", &a.json);
    let d: Vec<Value> = a.json["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["decision"].clone())
        .collect();
    assert_eq!(d, [json!(true), json!(false), json!(true), json!(false)]);
    // The fourth has no resource and no default: an error in its context.
    assert_eq!(a.json["evaluations"][3]["context"]["error"]["status"], 400);
    assert!(a.json["evaluations"][3]["context"].get("cairn").is_none());

    let mut deny_first = base.clone();
    deny_first["options"] = json!({"evaluations_semantic": "deny_on_first_deny"});
    let a = post(&s.app, "/access/v1/evaluations", &deny_first, &[]).await;
    valid("evaluationsResponse", &a.json);
    let d: Vec<Value> = a.json["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["decision"].clone())
        .collect();
    assert_eq!(d, [json!(true), json!(false)]);

    let mut permit_first = base.clone();
    permit_first["options"] = json!({"evaluations_semantic": "permit_on_first_permit"});
    let a = post(&s.app, "/access/v1/evaluations", &permit_first, &[]).await;
    assert_eq!(a.json["evaluations"].as_array().unwrap().len(), 1);

    // Without `evaluations`: an Access Evaluation request, answered as one.
    let a = post(
        &s.app,
        "/access/v1/evaluations",
        &request("get_pods", "staging:web"),
        &[],
    )
    .await;
    valid("decision", &a.json);
    assert_eq!(a.json["decision"], true);
    let mut unknown = base.clone();
    unknown["options"] = json!({"evaluations_semantic": "majority"});
    let a = post(&s.app, "/access/v1/evaluations", &unknown, &[]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surface_without_a_policy_is_denied_without_a_receipt() {
    let s = Served::new("surface");
    let mut r = request("merge", "org/repo");
    r["resource"]["type"] = json!("github");
    let a = post(&s.app, "/access/v1/evaluation", &r, &[]).await;
    valid("decision", &a.json);
    assert_eq!(a.json["decision"], false);
    assert_eq!(a.json["context"]["id"], "no_policy_for_surface");
    assert_eq!(s.running.batcher.receipts(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_down_is_a_silence_delivered_in_the_background_when_it_is_back() {
    let mut s = Served::new("silence");
    let l = s.ledger.take().unwrap();
    let addr = l.addr();
    l.stop();
    let a = post(
        &s.app,
        "/access/v1/evaluation",
        &request("delete_pod", "staging:web"),
        &[],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    valid("decision", &a.json);
    assert_eq!(a.json["decision"], false, "a PERMIT not logged is not allowed");
    let ctx = &a.json["context"];
    assert_eq!(ctx["id"], cairn_api::policy::LEDGER_UNAVAILABLE);
    assert_eq!(ctx["cairn"]["decision"], "SILENCE");
    assert_eq!(ctx["cairn"]["durable"], false);
    let silence_id = ctx["cairn"]["receipt_id"].as_str().unwrap().to_owned();
    assert_eq!(s.spooled(), 1);
    // The ledger comes back on its address; the gate delivers on its own.
    s.ledger = Some(common::fixture::ledger(&s.dir.0.join("ledger.redb"), Some(addr)));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.spooled() > 0 {
        assert!(std::time::Instant::now() < deadline, "the spool was not delivered");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Index 0 is the key, 1 and 2 the bundles: the SILENCE receipt is next.
    let logged = s.logged(3);
    assert_eq!(logged.parts().receipt_id, silence_id);
    assert_eq!(logged.parts().decision, Recorded::Silence);
}

#[test]
fn the_spec_lists_every_problem_type() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/spec.md");
    let spec = std::fs::read_to_string(path).unwrap();
    let section = &spec[spec.find("## 21. The gate's AuthZEN API").unwrap()..];
    let section = &section[..section.find("\n## 22.").unwrap()];
    let listed: Vec<(String, u16)> = section
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("- `")?;
            let (slug, rest) = rest.split_once("` (")?;
            Some((slug.to_owned(), rest.get(..3)?.parse().ok()?))
        })
        .collect();
    let ours: Vec<(String, u16)> = cairn_gate_server::problem::GateProblem::ALL
        .iter()
        .map(|p| {
            let (slug, status, _) = p.parts();
            (slug.to_owned(), status)
        })
        .collect();
    assert_eq!(listed, ours);
}
