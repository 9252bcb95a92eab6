//! The approval page: a person approves or denies in a browser.
//!
//! When a policy asks for a human, the gate's decision waits at the
//! [`Desk`] (an [`Approver`]) until someone answers on the page or the
//! approval deadline passes (TIMED_OUT, a denial, as with every channel).
//! The page is served by `cairn-gate serve` under `/approvals`:
//!
//! - `GET /approvals`: sign in (name and credential from the approvers
//!   file, [`crate::approvers`]), then the pending requests;
//! - `GET /approvals/{id}`: the binding message and the exact arguments,
//!   with Approve and Deny;
//! - `POST /approvals/{id}`: the answer, recorded with the signed-in
//!   approver as `approval.approver` (`iss`: the page's URL, `sub`: the
//!   name), never with a name the browser sends;
//! - `POST /approvals/logout`.
//!
//! A session is an unguessable cookie (`HttpOnly`, `SameSite=Strict`,
//! `Secure` behind https) valid for [`SESSION_TTL`]; every answer also
//! carries the session's own form token. Pages forbid framing and caching.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use cairn_api::receipt::{ApprovalOutcome, Approver as ApproverId};
use cairn_gate::approval::{ApprovalAnswer, ApprovalRequest, Approver};

use crate::approvers::Approvers;

/// Route prefix of the page.
pub const APPROVALS_PATH: &str = "/approvals";
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cairn_approver";
/// How long a sign-in lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// Most sessions at once (expired ones are dropped first).
pub const MAX_SESSIONS: usize = 4096;
/// Most approvals waiting at once; beyond, a request is not shown and
/// times out (a denial).
pub const MAX_PENDING: usize = 1024;

/// A signed-in approver.
#[derive(Debug, Clone)]
pub struct Session {
    /// The approver's name (recorded as `approval.approver.sub`).
    pub name: String,
    /// The token every answer form carries.
    pub form_token: String,
    expires: Instant,
}

struct Pending {
    request: ApprovalRequest,
    answer: SyncSender<(ApprovalOutcome, String)>,
}

/// An answer could not be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// Nothing waits under that id any more: answered already, timed out,
    /// or never asked.
    #[error("this approval is no longer pending (answered, or its deadline passed)")]
    Gone,
}

/// Where approvals wait for a person, and who is signed in.
pub struct Desk {
    approvers: Approvers,
    issuer: String,
    secure: bool,
    pending: Mutex<BTreeMap<String, Pending>>,
    sessions: Mutex<HashMap<String, Session>>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("issuer", &self.issuer)
            .field("approvers", &self.approvers)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn random_hex() -> Option<String> {
    cairn_host::id::random_seed().ok().map(hex::encode)
}

impl Desk {
    /// A desk for `approvers`; `base` is the URL the gate is reached at
    /// (the page's URL is the recorded approver's `iss`).
    pub fn new(approvers: Approvers, base: &str) -> Self {
        Desk {
            approvers,
            issuer: format!("{}{APPROVALS_PATH}", base.trim_end_matches('/')),
            secure: base.starts_with("https://"),
            pending: Mutex::new(BTreeMap::new()),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The `iss` recorded for answers given here.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether the session cookie is `Secure`.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Sign `name` in; the new session's cookie value and the session.
    pub fn sign_in(&self, name: &str, credential: &str) -> Option<(String, Session)> {
        let name = self.approvers.sign_in(name, credential)?;
        let (token, form_token) = (random_hex()?, random_hex()?);
        let now = Instant::now();
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS {
            return None;
        }
        let s = Session {
            name,
            form_token,
            expires: now + SESSION_TTL,
        };
        sessions.insert(token.clone(), s.clone());
        Some((token, s))
    }

    /// The live session of cookie value `token`.
    pub fn session(&self, token: &str) -> Option<Session> {
        let mut sessions = lock(&self.sessions);
        match sessions.get(token) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                sessions.remove(token);
                None
            }
            None => None,
        }
    }

    /// End the session of cookie value `token`.
    pub fn sign_out(&self, token: &str) {
        lock(&self.sessions).remove(token);
    }

    /// The approvals waiting now, oldest first.
    pub fn pending(&self) -> Vec<ApprovalRequest> {
        let mut v: Vec<ApprovalRequest> = lock(&self.pending).values().map(|p| p.request.clone()).collect();
        v.sort_by(|a, b| {
            a.requested_at
                .cmp(&b.requested_at)
                .then_with(|| a.request_id.cmp(&b.request_id))
        });
        v
    }

    /// The waiting approval `id`.
    pub fn get(&self, id: &str) -> Option<ApprovalRequest> {
        lock(&self.pending).get(id).map(|p| p.request.clone())
    }

    /// Answer approval `id` as approver `name`. Only the first answer
    /// counts.
    pub fn answer(&self, id: &str, outcome: ApprovalOutcome, name: &str) -> Result<(), AnswerError> {
        let p = lock(&self.pending).remove(id).ok_or(AnswerError::Gone)?;
        // The decision stopped waiting in the meantime: its deadline won.
        p.answer.send((outcome, name.to_owned())).map_err(|_| AnswerError::Gone)
    }
}

impl Approver for Desk {
    fn channel(&self) -> &str {
        "page"
    }

    fn ask(&self, r: &ApprovalRequest, deadline: Duration) -> ApprovalAnswer {
        let (tx, rx) = sync_channel(1);
        {
            let mut pending = lock(&self.pending);
            if pending.len() >= MAX_PENDING {
                return ApprovalAnswer::timed_out();
            }
            pending.insert(
                r.request_id.clone(),
                Pending {
                    request: r.clone(),
                    answer: tx,
                },
            );
        }
        let got = rx.recv_timeout(deadline);
        lock(&self.pending).remove(&r.request_id);
        match got {
            Ok((outcome, name)) => ApprovalAnswer {
                outcome,
                approver: Some(ApproverId {
                    iss: self.issuer.clone(),
                    sub: name,
                }),
            },
            Err(_) => ApprovalAnswer::timed_out(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_api::timestamp::Timestamp;
    use std::path::Path;
    use std::sync::Arc;

    fn desk() -> Arc<Desk> {
        let a = Approvers::parse("alice alice-credential-0001\n", Path::new("t")).unwrap();
        Arc::new(Desk::new(a, "https://gate.example/"))
    }

    fn request(id: &str) -> ApprovalRequest {
        ApprovalRequest {
            request_id: id.into(),
            binding_message: "Approve drop_database by agent:x on postgres:prod?".into(),
            arguments: serde_json::json!({"database": "prod"}),
            requested_at: Timestamp::from_millis(1).unwrap(),
            expires_at: Timestamp::from_millis(2).unwrap(),
        }
    }

    #[test]
    fn an_answer_reaches_the_waiting_decision_with_the_signed_in_name() {
        let d = desk();
        let asking = {
            let d = d.clone();
            std::thread::spawn(move || d.ask(&request("r1"), Duration::from_secs(10)))
        };
        while d.get("r1").is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(d.pending().len(), 1);
        d.answer("r1", ApprovalOutcome::Approved, "alice").unwrap();
        let a = asking.join().unwrap();
        assert_eq!(a.outcome, ApprovalOutcome::Approved);
        let who = a.approver.unwrap();
        assert_eq!(
            (who.iss.as_str(), who.sub.as_str()),
            ("https://gate.example/approvals", "alice")
        );
        // Only the first answer counts; nothing is left waiting.
        assert_eq!(d.answer("r1", ApprovalOutcome::Denied, "alice"), Err(AnswerError::Gone));
        assert!(d.pending().is_empty());
    }

    #[test]
    fn no_answer_in_time_is_timed_out_and_a_late_answer_is_refused() {
        let d = desk();
        let a = d.ask(&request("r2"), Duration::from_millis(50));
        assert_eq!(a, ApprovalAnswer::timed_out());
        assert_eq!(
            d.answer("r2", ApprovalOutcome::Approved, "alice"),
            Err(AnswerError::Gone)
        );
    }

    #[test]
    fn sessions_need_the_right_credential_and_end() {
        let d = desk();
        assert!(d.sign_in("alice", "wrong-credential-0000").is_none());
        let (token, s) = d.sign_in("alice", "alice-credential-0001").unwrap();
        assert_eq!(s.name, "alice");
        assert_eq!(token.len(), 64);
        assert_eq!(d.session(&token).unwrap().form_token, s.form_token);
        assert!(d.session("not-a-session").is_none());
        d.sign_out(&token);
        assert!(d.session(&token).is_none());
        assert!(d.secure());
    }
}
