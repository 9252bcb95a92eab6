//! The approval page's routes and HTML ([`crate::approval_page`] holds the
//! approvals and the sessions). Plain server-rendered HTML with forms: no
//! script, so it works in any browser and a strict Content-Security-Policy
//! holds.

use std::fmt::Write as _;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_api::receipt::ApprovalOutcome;
use cairn_gate::approval::ApprovalRequest;
use serde::Deserialize;

use crate::approval_page::{APPROVALS_PATH, Desk, SESSION_COOKIE, SESSION_TTL, Session};
use crate::http::AppState;
use crate::problem::{GateProblem, problem};

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    /// The approver's name.
    pub name: String,
    /// Their credential.
    pub credential: String,
}

/// The answer form.
#[derive(Debug, Deserialize)]
pub struct Answer {
    /// `approve` or `deny`.
    pub decision: String,
    /// The session's form token.
    pub form_token: String,
}

/// HTML text: `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str, refresh: bool) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · cairn-gate</title>{r}\
         <style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}\
         pre{{background:#f4f4f4;padding:1rem;overflow:auto}}button{{font-size:1rem;padding:.5rem 1.2rem;margin-right:1rem}}</style>\
         </head><body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = escape(title),
        r = if refresh {
            "<meta http-equiv=\"refresh\" content=\"2\">"
        } else {
            ""
        },
    );
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    res
}

fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

fn no_page() -> Response {
    problem(
        GateProblem::NotFound,
        "this gate has no approval page (its approver is not `page`)",
    )
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
}

fn session(d: &Desk, headers: &HeaderMap) -> Option<(String, Session)> {
    let token = cookie(headers)?;
    d.session(token).map(|s| (token.to_owned(), s))
}

fn sign_in_form(message: Option<&str>) -> String {
    format!(
        "{}<form method=\"post\" action=\"{APPROVALS_PATH}/login\">\
         <p><label>Name <input id=\"name\" name=\"name\" autocomplete=\"username\" required></label></p>\
         <p><label>Credential <input id=\"credential\" name=\"credential\" type=\"password\" autocomplete=\"current-password\" required></label></p>\
         <p><button id=\"sign-in\" type=\"submit\">Sign in</button></p></form>",
        message
            .map(|m| format!("<p id=\"message\">{}</p>", escape(m)))
            .unwrap_or_default()
    )
}

fn signed_in_as(s: &Session) -> String {
    format!(
        "<p>Signed in as <strong id=\"who\">{}</strong>. <form method=\"post\" action=\"{APPROVALS_PATH}/logout\" style=\"display:inline\"><button type=\"submit\">Sign out</button></form></p>",
        escape(&s.name)
    )
}

/// `GET /approvals`: sign in, or the pending approvals.
pub async fn list(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let Some(d) = s.desk.as_ref() else {
        return no_page();
    };
    let Some((_, who)) = session(d, &headers) else {
        return page(StatusCode::OK, "Sign in to approve", &sign_in_form(None), false);
    };
    let pending = d.pending();
    let mut body = signed_in_as(&who);
    if pending.is_empty() {
        body.push_str("<p id=\"none\">Nothing is waiting for approval.</p>");
    } else {
        body.push_str("<ul id=\"pending\">");
        for r in &pending {
            let _ = write!(
                body,
                "<li><a class=\"approval\" href=\"{APPROVALS_PATH}/{id}\">{m}</a> (until {e})</li>",
                id = escape(&r.request_id),
                m = escape(&r.binding_message),
                e = escape(&r.expires_at.to_rfc3339()),
            );
        }
        body.push_str("</ul>");
    }
    page(StatusCode::OK, "Waiting for approval", &body, true)
}

/// `POST /approvals/login`.
pub async fn login(State(s): State<AppState>, form: Result<Form<SignIn>, FormRejection>) -> Response {
    let Some(d) = s.desk.as_ref() else {
        return no_page();
    };
    let Ok(Form(f)) = form else {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign in to approve",
            &sign_in_form(Some("Send a name and a credential.")),
            false,
        );
    };
    let Some((token, _)) = d.sign_in(&f.name, &f.credential) else {
        return page(
            StatusCode::UNAUTHORIZED,
            "Sign in to approve",
            &sign_in_form(Some("That name and credential are not on the approvers list.")),
            false,
        );
    };
    let mut res = see_other(APPROVALS_PATH);
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path={APPROVALS_PATH}; Max-Age={}; HttpOnly; SameSite=Strict{}",
        SESSION_TTL.as_secs(),
        if d.secure() { "; Secure" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// `POST /approvals/logout`.
pub async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(d) = s.desk.as_ref()
        && let Some(token) = cookie(&headers)
    {
        d.sign_out(token);
    }
    let mut res = see_other(APPROVALS_PATH);
    let clear = format!("{SESSION_COOKIE}=; Path={APPROVALS_PATH}; Max-Age=0; HttpOnly; SameSite=Strict");
    if let Ok(v) = HeaderValue::from_str(&clear) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

fn approval_body(r: &ApprovalRequest, who: &Session) -> String {
    let arguments = serde_json::to_string_pretty(&r.arguments).unwrap_or_default();
    format!(
        "{signed}<p id=\"binding\">{m}</p><h2>Exact arguments</h2><pre id=\"arguments\">{a}</pre>\
         <p>Asked {q}; it is denied if nobody answers by {e}.</p>\
         <form method=\"post\" action=\"{APPROVALS_PATH}/{id}\">\
         <input type=\"hidden\" name=\"form_token\" value=\"{t}\">\
         <button id=\"approve\" name=\"decision\" value=\"approve\" type=\"submit\">Approve</button>\
         <button id=\"deny\" name=\"decision\" value=\"deny\" type=\"submit\">Deny</button></form>",
        signed = signed_in_as(who),
        m = escape(&r.binding_message),
        a = escape(&arguments),
        q = escape(&r.requested_at.to_rfc3339()),
        e = escape(&r.expires_at.to_rfc3339()),
        id = escape(&r.request_id),
        t = escape(&who.form_token),
    )
}

fn gone() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "No longer pending",
        &format!(
            "<p id=\"gone\">This approval was answered already, or its deadline passed (a denial).</p><p><a href=\"{APPROVALS_PATH}\">Waiting approvals</a></p>"
        ),
        false,
    )
}

/// `GET /approvals/{id}`: what is asked, with Approve and Deny.
pub async fn show(State(s): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let Some(d) = s.desk.as_ref() else {
        return no_page();
    };
    let Some((_, who)) = session(d, &headers) else {
        return see_other(APPROVALS_PATH);
    };
    match d.get(&id) {
        Some(r) => page(StatusCode::OK, "Approval requested", &approval_body(&r, &who), false),
        None => gone(),
    }
}

/// `POST /approvals/{id}`: the signed-in approver's answer.
pub async fn answer(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Answer>, FormRejection>,
) -> Response {
    let Some(d) = s.desk.as_ref() else {
        return no_page();
    };
    let Some((_, who)) = session(d, &headers) else {
        return page(
            StatusCode::UNAUTHORIZED,
            "Sign in to approve",
            &sign_in_form(Some("Sign in first: answers are recorded under your name.")),
            false,
        );
    };
    let Ok(Form(f)) = form else {
        return problem(GateProblem::BadRequest, "send decision and form_token as a form");
    };
    let same_token: bool = subtle::ConstantTimeEq::ct_eq(f.form_token.as_bytes(), who.form_token.as_bytes()).into();
    if !same_token {
        return page(
            StatusCode::FORBIDDEN,
            "Not accepted",
            "<p id=\"message\">This answer did not come from your own page; open the approval again.</p>",
            false,
        );
    }
    let outcome = match f.decision.as_str() {
        "approve" => ApprovalOutcome::Approved,
        "deny" => ApprovalOutcome::Denied,
        _ => return problem(GateProblem::BadRequest, "decision is approve or deny"),
    };
    match d.answer(&id, outcome, &who.name) {
        Ok(()) => {
            let word = if outcome == ApprovalOutcome::Approved {
                "Approved"
            } else {
                "Denied"
            };
            page(
                StatusCode::OK,
                word,
                &format!(
                    "<p id=\"outcome\">{word} by {}.</p><p><a href=\"{APPROVALS_PATH}\">Waiting approvals</a></p>",
                    escape(&who.name)
                ),
                false,
            )
        }
        Err(_) => gone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            escape(r#"<script>alert("x&'y")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;&#39;y&quot;)&lt;/script&gt;"
        );
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; cairn_approver=abc; b=2"));
        assert_eq!(cookie(&h), Some("abc"));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("cairn_approverx=abc"));
        assert_eq!(cookie(&h), None);
    }
}
