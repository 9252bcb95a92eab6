//! The HTTP contract: `schemas/openapi.yaml`, docs/spec.md section 20, the
//! router and the wire types agree; request ids on every answer.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cairn_api::examples;
use cairn_ledger::start::{Ledger, LedgerConfig};
use cairn_ledger::store::MemoryStore;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

async fn app() -> (axum::Router, ()) {
    let config = LedgerConfig::new(examples::log_key(), vec![examples::authority_key().verifier()]);
    let ledger = Ledger::start(std::sync::Arc::new(MemoryStore::new()), config)
        .await
        .unwrap();
    (ledger.router(), ())
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

/// `schemas/openapi.yaml` lists exactly the routes the router serves, with
/// the same methods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_the_routes_that_exist() {
    let spec =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/openapi.yaml"))
            .unwrap();
    let mut documented = Vec::new();
    let mut path = String::new();
    for line in spec.lines() {
        if let Some(p) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
            path = format!("/{p}");
        } else if let Some(m) = ["    get:", "    post:"].iter().find(|m| line == **m) {
            documented.push(format!("{} {path}", m.trim().trim_end_matches(':').to_uppercase()));
        }
    }
    documented.sort();
    let (app, _) = app().await;
    // Every documented route answers (not the fallback's "no such route").
    for route in &documented {
        let (method, path) = route.split_once(' ').unwrap();
        let path = path
            .replace("{index}", "0")
            .replace("{hash}", &"0".repeat(64))
            .replace("{path}", "0/000");
        let req = Request::builder()
            .method(method)
            .uri(&path)
            .body(Body::empty())
            .unwrap();
        let (_, _, b) = call(&app, req).await;
        assert!(
            !String::from_utf8_lossy(&b).contains("no such route"),
            "{route} is documented but not served"
        );
    }
    let mut served: Vec<String> = cairn_ledger::http::ROUTES
        .iter()
        .flat_map(|(path, methods)| {
            // OpenAPI has no multi-segment parameter: `{*path}` is `{path}`.
            let path = path.replace("{*", "{");
            methods.iter().map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    served.sort();
    assert_eq!(documented, served, "update schemas/openapi.yaml with the router");
    // A method a route does not take is a 405 problem, never a bare 405:
    // ROUTES names exactly the methods the router serves.
    for (path, methods) in cairn_ledger::http::ROUTES {
        for m in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if methods.contains(&m.to_lowercase().as_str()) {
                continue;
            }
            let uri = path.replace("{index}", "0").replace("{hash}", &"0".repeat(64));
            let req = Request::builder().method(m).uri(&uri).body(Body::empty()).unwrap();
            let (status, ct, body) = call(&app, req).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{m} {path}");
            assert_eq!(ct, "application/problem+json", "{m} {path}");
            let p: cairn_api::wire::Problem = serde_json::from_slice(&body).unwrap();
            assert_eq!(p.problem_type(), Some(cairn_api::wire::ProblemType::MethodNotAllowed));
        }
    }
}

/// The one list of problem types: the enum, docs/spec.md section 20 and
/// `schemas/openapi.yaml` agree, slug for slug and status for status.
#[test]
fn problem_types_agree_across_enum_spec_and_openapi() {
    use cairn_api::wire::ProblemType;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let spec = std::fs::read_to_string(root.join("docs/spec.md")).unwrap();
    let section = &spec[spec.find("## 20. HTTP API").expect("spec section 20")..];
    let section = &section[..section.find("\n## 21.").unwrap_or(section.len())];
    let in_spec: Vec<(String, u16)> = section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let slug = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((slug.to_owned(), cells.get(2)?.parse().ok()?))
        })
        .collect();
    let in_enum: Vec<(String, u16)> = ProblemType::ALL
        .iter()
        .map(|t| (t.slug().to_owned(), t.status()))
        .collect();
    assert_eq!(in_spec, in_enum, "docs/spec.md section 20 and ProblemType::ALL");
    let openapi = std::fs::read_to_string(root.join("schemas/openapi.yaml")).unwrap();
    let list = &openapi[openapi.find("    ProblemType:").unwrap()..];
    let in_openapi: Vec<String> = list
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("      "))
        .filter_map(|l| l.trim().strip_prefix("- \"")?.strip_suffix('"').map(str::to_owned))
        .collect();
    let uris: Vec<String> = ProblemType::ALL.iter().map(|t| t.uri()).collect();
    assert_eq!(
        in_openapi, uris,
        "schemas/openapi.yaml ProblemType and ProblemType::ALL"
    );
}

/// Every answer carries an `x-request-id`: the client's, or a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id() {
    let (app, _) = app().await;
    let resp = app
        .clone()
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let made = resp.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
    assert!(!made.is_empty());
    let again = app
        .clone()
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_ne!(again.headers().get("x-request-id").unwrap().to_str().unwrap(), made);
    let resp = app
        .oneshot(
            Request::get("/v1/nothing")
                .header("x-request-id", "client-chosen-42")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers().get("x-request-id").unwrap(), "client-chosen-42");
}
