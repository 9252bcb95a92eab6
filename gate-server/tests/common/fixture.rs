//! A served gate in front of a real ledger (in process, on loopback), as
//! `cairn-gate serve` builds it from its settings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use cairn_api::entry::{Entry, KeyAction, KeyRole, KeyStatement, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::receipt::Receipt;
use cairn_api::timestamp::Timestamp;
use cairn_gate_server::config::Settings;
use cairn_gate_server::http::router;
use cairn_gate_server::serve::{Running, start};
use cairn_ledger::embedded::{EmbeddedLedger, LedgerSetup};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use super::TempDir;

/// The admin credential of the test ledger.
pub const ADMIN: &str = "gate-server-test-admin";
/// The credential callers of the test gate present.
pub const CALLER: &str = "caller-credential-0123456789";

/// The examples' bundle of `scenario`, as a directory.
pub fn policy_dir(scenario: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../examples/policies/{scenario}/cairn-rules"))
}

/// A ledger on `listen` (port 0: any) over `db`.
pub fn ledger(db: &Path, listen: Option<std::net::SocketAddr>) -> EmbeddedLedger {
    let mut setup =
        LedgerSetup::new(db, examples::log_key(), vec![examples::authority_key().verifier()]).admin_token(ADMIN);
    if let Some(l) = listen {
        setup.listen = l;
    }
    EmbeddedLedger::start(setup).unwrap()
}

/// Register the examples' gate key and archive the bundles of `scenarios`.
pub fn bootstrap(l: &EmbeddedLedger, scenarios: &[&str]) {
    let auth = examples::authority_key();
    let http = cairn_gate::client::Http::new(&l.url());
    let post = |path: &str, body: &[u8]| {
        let h = [("Authorization", format!("Bearer {ADMIN}"))];
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        http.post(path, "application/cose", &h, body, Duration::from_secs(5))
            .unwrap()
            .0
    };
    let st = KeyStatement {
        action: KeyAction::Register,
        role: KeyRole::Gate,
        key: examples::gate_key().verifier(),
        issued_at: Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap(),
        reason: None,
    };
    assert_eq!(post("/v1/keys", &st.sign(&auth).unwrap()), 201);
    for s in scenarios {
        let b = cairn_gate::policy_dir::pack_dir(&policy_dir(s)).unwrap();
        let signed = cairn_api::cose::sign(b.as_bytes(), POLICY_CONTENT_TYPE, &auth).unwrap();
        assert_eq!(post("/v1/policies", &signed), 201);
    }
}

/// A served gate and its ledger.
pub struct Served {
    pub dir: TempDir,
    pub ledger: Option<EmbeddedLedger>,
    pub running: Running,
    pub app: Router,
}

/// The settings of a gate for `ledger_url`, its files written in `dir`:
/// the devops-staging bundle for surface `eks`, no default.
pub fn settings(dir: &Path, ledger_url: &str) -> Settings {
    let key = dir.join("gate.key");
    cairn_host::keyfile::write_secret(&key, &examples::gate_key().to_private_string()).unwrap();
    std::fs::write(dir.join("callers"), format!("# test\n{CALLER}\n")).unwrap();
    Settings {
        ledger: Some(ledger_url.into()),
        log_key: Some(examples::log_key().verifier().to_string()),
        gate_key: Some(key),
        surfaces: Some(BTreeMap::from([("eks".to_owned(), policy_dir("devops-staging"))])),
        callers: Some(dir.join("callers")),
        spool: Some(dir.join("spool")),
        deadline_ms: Some(1500),
        spool_interval_s: Some(1),
        ..Settings::default()
    }
}

impl Served {
    /// A gate in front of a fresh, bootstrapped ledger.
    pub fn new(tag: &str) -> Self {
        Served::with(tag, |_| {})
    }

    /// The same, its settings changed by `change`.
    pub fn with(tag: &str, change: impl FnOnce(&mut Settings)) -> Self {
        let dir = TempDir::new(tag);
        let l = ledger(&dir.0.join("ledger.redb"), None);
        bootstrap(&l, &["devops-staging", "databases"]);
        let mut s = settings(&dir.0, &l.url());
        change(&mut s);
        let running = start(&s.resolve().unwrap()).unwrap();
        let app = router(running.state.clone());
        Served {
            dir,
            ledger: Some(l),
            running,
            app,
        }
    }

    /// The receipt logged at `index`.
    pub fn logged(&self, index: u64) -> Receipt {
        let l = self.ledger.as_ref().unwrap();
        let (status, bytes) = cairn_gate::client::Http::new(&l.url())
            .get(&format!("/v1/entries/{index}"), 1 << 20, Duration::from_secs(5))
            .unwrap();
        assert_eq!(status, 200);
        let entry = Entry::from_cbor(&bytes).unwrap();
        entry.receipt().unwrap().unverified().clone()
    }

    /// Files waiting in the spool.
    pub fn spooled(&self) -> usize {
        cairn_gate::spool::Spool::open(&self.dir.0.join("spool"))
            .unwrap()
            .pending()
            .unwrap()
            .len()
    }
}

/// An answer: status, headers, body as JSON (or null).
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: serde_json::Value,
}

/// Send `body` to `path` with the caller's credential and `headers`.
pub async fn post(app: &Router, path: &str, body: &serde_json::Value, headers: &[(&str, &str)]) -> Answer {
    let mut req = Request::post(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {CALLER}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(app, req.body(Body::from(body.to_string())).unwrap()).await
}

/// Send any request.
pub async fn send(app: &Router, req: Request<Body>) -> Answer {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Answer { status, headers, json }
}
