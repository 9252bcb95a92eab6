//! One error type for every route, answered as RFC 9457 problem details
//! ([`cairn_api::wire::Problem`]) whose `type` is one of
//! [`ProblemType::ALL`]. Every [`SubmitError`] variant is mapped by an
//! exhaustive match: a new variant does not compile until someone decides
//! its problem type.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_api::wire::{Problem, ProblemType};

use crate::sequencer::SubmitError;
use crate::store::StoreError;

/// An API error: its problem type, a precise detail, and for 429/503 the
/// seconds a client should wait.
#[derive(Debug)]
pub struct ApiError {
    /// The problem type (and so the status).
    pub kind: ProblemType,
    /// What exactly was wrong.
    pub detail: String,
    /// Seconds for Retry-After (429 and 503; 503 defaults to 1).
    pub retry_after: Option<u64>,
    /// For `not-leader`: the leader's advertised URL (the [`LEADER_HEADER`]).
    pub leader: Option<String>,
}

/// The header naming the instance that writes, on a `not-leader` answer.
pub const LEADER_HEADER: &str = "cairn-leader";

impl ApiError {
    /// A new error.
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        ApiError {
            kind,
            detail: detail.into(),
            retry_after: None,
            leader: None,
        }
    }

    /// 400 for a malformed request parameter.
    pub fn bad_param(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::BadParameter, detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::NotFound, detail)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The problem details body.
    pub fn problem(&self) -> Problem {
        Problem::new(self.kind, self.detail.clone())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(problem = %self.kind, detail = %self.detail, "request failed");
        }
        let body = serde_json::to_string(&self.problem()).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match status {
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
                let secs = self.retry_after.unwrap_or(1).max(1);
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    h.insert(header::RETRY_AFTER, v);
                }
            }
            StatusCode::UNAUTHORIZED => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        if let Some(v) = self.leader.as_deref().and_then(|l| HeaderValue::from_str(l).ok()) {
            h.insert(LEADER_HEADER, v);
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let t = match e {
            StoreError::Damaged { .. } => ProblemType::DamagedEntry,
            _ => ProblemType::StorageUnavailable,
        };
        ApiError::new(t, e.to_string())
    }
}

/// The problem type of a submission error.
pub fn submit_problem(e: &SubmitError) -> ProblemType {
    use ProblemType as P;
    match e {
        SubmitError::Receipt(r) => r.problem_type(),
        SubmitError::Entry(_) | SubmitError::UnknownEntryKind(_) => P::BadEntry,
        SubmitError::UnknownAuthority(_) => P::NotAuthority,
        SubmitError::AuthoritySignature(_) => P::BadAuthoritySignature,
        SubmitError::UnknownKey(_) => P::UnknownKey,
        SubmitError::RevokedKey(_) => P::RevokedKey,
        SubmitError::WrongRole { .. } => P::WrongKeyRole,
        SubmitError::UnarchivedPolicy(_) => P::PolicyNotArchived,
        SubmitError::PolicyMismatch(_) => P::PolicyMismatch,
        SubmitError::KeyHistory { .. } => P::KeyHistory,
        SubmitError::Bundle(_) | SubmitError::Policy(_) => P::BadPolicyBundle,
        SubmitError::ClockSkew { .. } => P::ClockSkew,
        SubmitError::TooLate { .. } => P::TooLate,
        SubmitError::RateLimited { .. } => P::RateLimited,
        SubmitError::Busy => P::Busy,
        SubmitError::ShuttingDown => P::ShuttingDown,
        SubmitError::NotLeader { .. } => P::NotLeader,
        SubmitError::Storage(_) | SubmitError::NotDurable(_) => P::NotDurable,
        SubmitError::Checkpoint(_) => P::Internal,
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        let mut err = ApiError::new(submit_problem(&e), e.to_string());
        match e {
            SubmitError::RateLimited { retry_after } => {
                err.retry_after = Some(retry_after.as_secs_f64().ceil() as u64);
            }
            SubmitError::NotLeader { leader } => err.leader = leader,
            _ => {}
        }
        err
    }
}

/// `axum::extract::Query` whose rejection is a problem (400
/// `bad-parameter` naming the parameter), not axum's plain-text answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        // A query string must decode to UTF-8: the form decoder would replace
        // invalid bytes and answer for a parameter nobody sent.
        if let Some(q) = parts.uri.query()
            && std::str::from_utf8(&percent_decode(q.as_bytes())).is_err()
        {
            return Err(ApiError::bad_param(
                "the query string is not UTF-8 once percent-decoded",
            ));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(q)) => Ok(Query(q)),
            Err(e) => Err(ApiError::bad_param(e.body_text())),
        }
    }
}

/// A query integer: an index or a tree size, at most
/// [`cairn_api::merkle::MAX_TREE_SIZE`].
pub(crate) fn bounded<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    use serde::Deserialize as _;
    use serde::de::Error as _;
    let s = std::borrow::Cow::<str>::deserialize(d)?;
    let v = decimal(&s).ok_or_else(|| D::Error::custom(format!("{s:?} is not a decimal integer")))?;
    if v > cairn_api::merkle::MAX_TREE_SIZE {
        return Err(D::Error::custom(format!("{v} is beyond the largest tree size, 2^62")));
    }
    Ok(v)
}

/// An index, size or cursor as the API spells it: ASCII digits, no sign,
/// no leading zero (one spelling per number, as in tile paths).
pub(crate) fn decimal(s: &str) -> Option<u64> {
    let canonical = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

/// The bytes a percent-encoded string stands for (`%` not followed by two
/// hex digits stands for itself, as the form decoder reads it).
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && let (Some(h), Some(l)) = (s.get(i + 1).and_then(|&b| hex(b)), s.get(i + 2).and_then(|&b| hex(b)))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(0));
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// [`decimal`], at most [`cairn_api::merkle::MAX_TREE_SIZE`].
pub(crate) fn index(s: &str) -> Option<u64> {
    decimal(s).filter(|i| *i <= cairn_api::merkle::MAX_TREE_SIZE)
}

/// [`bounded`], optional (with `#[serde(default)]`).
pub(crate) fn bounded_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    bounded(d).map(Some)
}
