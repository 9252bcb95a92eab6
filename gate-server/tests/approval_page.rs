//! The approval page in a real browser: Debian's headless Chromium, driven
//! through ChromeDriver, signs in, reads what it is asked, and clicks
//! Approve, then Deny. The decisions wait for those clicks, and each
//! receipt records the signed-in approver. Then what a browser must not be
//! able to do: answer without a session, or with another page's form token.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cairn_api::receipt::{ApprovalOutcome, Decision as Recorded};
use common::TempDir;
use common::fixture::{Served, policy_dir, post, send};
use common::webdriver::Browser;
use serde_json::{Value, json};

const ALICE: &str = "alice-on-call-credential";

fn drop_table(table: &str) -> Value {
    json!({
        "subject": {"type": "agent", "id": "agent:db-helper"},
        "action": {"name": "DROP", "properties": {"table": table, "cascade": true}},
        "resource": {"type": "postgres", "id": "production/orders"},
        "context": {"ticket": "DB-77"}
    })
}

/// A gate whose approver is the page, for the databases bundle, served on
/// a real port (the browser needs one); its base URL.
async fn served(tag: &str, people: &TempDir) -> (Served, String) {
    std::fs::write(people.0.join("approvers"), format!("# on call\nalice {ALICE}\n")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let s = Served::with(tag, |c| {
        c.surfaces = Some([("postgres".to_owned(), policy_dir("databases"))].into());
        c.approver = Some("page".into());
        c.approvers = Some(people.0.join("approvers"));
        c.approval_s = Some(60);
        c.public_url = Some(base.clone());
    });
    let app = s.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (s, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_approves_and_denies_in_a_browser() {
    let people = TempDir::new("approvers-browser");
    let (s, base) = served("page-browser", &people).await;

    // The agent asks; the decision waits for a person.
    let app = s.app.clone();
    let waiting = tokio::spawn(async move { post(&app, "/access/v1/evaluation", &drop_table("orders"), &[]).await });

    let browser = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            let b = Browser::start("approve");
            b.open(&format!("{base}/approvals"));
            b.type_into("#name", "alice");
            b.type_into("#credential", ALICE);
            b.click("#sign-in");
            assert_eq!(b.text("#who"), "alice");
            b.click("a.approval");
            let binding = b.text("#binding");
            let arguments = b.text("#arguments");
            b.click("#approve");
            (b, binding, arguments)
        }
    })
    .await
    .unwrap();
    let (b, binding, arguments) = browser;
    assert_eq!(
        binding,
        "Approve DROP by agent:db-helper on postgres:production/orders?"
    );
    assert!(
        arguments.contains("\"table\": \"orders\"") && arguments.contains("\"cascade\": true"),
        "{arguments}"
    );

    let a = waiting.await.unwrap();
    assert_eq!(a.json["decision"], true, "{}", a.json);
    let logged = s.logged(a.json["context"]["cairn"]["log_index"].as_u64().unwrap());
    let p = logged.parts();
    assert_eq!(p.decision, Recorded::Permit);
    let approval = p.approval.as_ref().unwrap();
    assert_eq!(approval.channel, "page");
    assert_eq!(approval.outcome, Some(ApprovalOutcome::Approved));
    let who = approval.approver.as_ref().unwrap();
    assert_eq!(
        (who.iss.as_str(), who.sub.as_str()),
        (format!("{base}/approvals").as_str(), "alice")
    );
    assert_eq!(approval.presented.as_ref().unwrap().binding_message, binding);

    // The next one is denied, in the same signed-in browser.
    let app = s.app.clone();
    let waiting = tokio::spawn(async move { post(&app, "/access/v1/evaluation", &drop_table("invoices"), &[]).await });
    let outcome = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            b.open(&format!("{base}/approvals"));
            b.click("a.approval");
            assert!(b.text("#arguments").contains("invoices"));
            b.click("#deny");
            b.text("#outcome")
        }
    })
    .await
    .unwrap();
    assert_eq!(outcome, "Denied by alice.");
    let a = waiting.await.unwrap();
    assert_eq!(a.json["decision"], false, "{}", a.json);
    assert_eq!(a.json["context"]["cairn"]["decision"], "DENY");
    let logged = s.logged(a.json["context"]["cairn"]["log_index"].as_u64().unwrap());
    let approval = logged.parts().approval.clone().unwrap();
    assert_eq!(approval.outcome, Some(ApprovalOutcome::Denied));
    assert_eq!(approval.approver.unwrap().sub, "alice");
}

fn cookie_of(a: &common::fixture::Answer) -> String {
    let set = a.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    set.split(';').next().unwrap().to_owned()
}

fn form(uri: &str, cookie: Option<&str>, body: &str) -> Request<Body> {
    let mut r = Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        r = r.header(header::COOKIE, c);
    }
    r.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_need_a_session_and_its_own_form_token() {
    let people = TempDir::new("approvers-rules");
    let (s, _) = served("page-rules", &people).await;
    let app = s.app.clone();
    let waiting = tokio::spawn(async move { post(&app, "/access/v1/evaluation", &drop_table("orders"), &[]).await });
    let desk = s.running.state.desk.clone().unwrap();
    while desk.pending().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let id = desk.pending()[0].request_id.clone();
    let page = format!("/approvals/{id}");

    // No session: the page sends the browser to sign in, an answer is refused.
    let a = send(&s.app, Request::get(&page).body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let a = send(&s.app, form(&page, None, "decision=approve&form_token=x")).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // A wrong credential signs no one in.
    let a = send(
        &s.app,
        form("/approvals/login", None, "name=alice&credential=not-alices-credential"),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.headers.get(header::SET_COOKIE).is_none());
    // Signed in, but the form token is not this session's: refused.
    let a = send(
        &s.app,
        form("/approvals/login", None, &format!("name=alice&credential={ALICE}")),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let cookie = cookie_of(&a);
    let a = send(&s.app, form(&page, Some(&cookie), "decision=approve&form_token=forged")).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // The page may not be framed or cached.
    let mut r = Request::get(&page).body(Body::empty()).unwrap();
    r.headers_mut().insert(header::COOKIE, cookie.parse().unwrap());
    let a = send(&s.app, r).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(a.headers[header::CACHE_CONTROL], "no-store");
    // Nothing was answered: the decision still waits. Signed out, the
    // session is gone.
    assert_eq!(desk.pending().len(), 1);
    let a = send(&s.app, form("/approvals/logout", Some(&cookie), "")).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let a = send(&s.app, form(&page, Some(&cookie), "decision=approve&form_token=x")).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // Deny it through the desk so that the test ends at once.
    desk.answer(&id, ApprovalOutcome::Denied, "alice").unwrap();
    let a = waiting.await.unwrap();
    assert_eq!(a.json["decision"], false);
}
