//! One error type for every route, answered as RFC 9457 problem details
//! with a stable `type` per error.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_api::cose::CoseError;
use cairn_api::receipt::ReceiptError;
use serde_json::json;

use crate::sequencer::SubmitError;
use crate::store::StoreError;

/// Base of the problem `type` URIs.
pub const PROBLEM_BASE: &str = "https://cairn.dev/problems/";

/// An API error: status, stable type slug, and a precise detail.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable slug (the `type` is `PROBLEM_BASE` + slug).
    pub slug: &'static str,
    /// What exactly was wrong.
    pub detail: String,
    /// Seconds for Retry-After (429 and 503; 503 defaults to 1).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            slug,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 400 for a malformed request parameter.
    pub fn bad_param(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-parameter", detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }
}

impl ApiError {
    /// The problem details object.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "type": format!("{PROBLEM_BASE}{}", self.slug),
            "title": self.status.canonical_reason().unwrap_or("error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.to_json();
        let mut resp = (self.status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self.status {
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
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage-unavailable", e.to_string())
    }
}

fn cose(e: &CoseError) -> (StatusCode, &'static str) {
    match e {
        CoseError::BadSignature(_) | CoseError::KeyMismatch { .. } => (StatusCode::BAD_REQUEST, "bad-signature"),
        _ => (StatusCode::BAD_REQUEST, "bad-cose"),
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        use StatusCode as S;
        let (status, slug) = match &e {
            SubmitError::Receipt(r) => match r {
                ReceiptError::Encoding(_) | ReceiptError::View(_) | ReceiptError::NonCanonical(_) => {
                    (S::BAD_REQUEST, "non-canonical-cbor")
                }
                ReceiptError::Schema(_) | ReceiptError::Invalid { .. } => (S::UNPROCESSABLE_ENTITY, "invalid-receipt"),
                ReceiptError::GateMismatch { .. } => (S::FORBIDDEN, "gate-mismatch"),
                ReceiptError::Cose(c) => cose(c),
                _ => (S::BAD_REQUEST, "bad-receipt"),
            },
            SubmitError::Entry(_) => (S::BAD_REQUEST, "bad-entry"),
            SubmitError::NotAuthority(_) => (S::FORBIDDEN, "not-authority"),
            SubmitError::UnknownKey(_) => (S::FORBIDDEN, "unknown-key"),
            SubmitError::RevokedKey(_) => (S::FORBIDDEN, "revoked-key"),
            SubmitError::WrongRole(_) => (S::FORBIDDEN, "wrong-key-role"),
            SubmitError::UnarchivedPolicy(_) => (S::CONFLICT, "policy-not-archived"),
            SubmitError::Bundle(_) => (S::UNPROCESSABLE_ENTITY, "bad-policy-bundle"),
            SubmitError::ClockSkew { .. } => (S::UNPROCESSABLE_ENTITY, "clock-skew"),
            SubmitError::Busy => (S::SERVICE_UNAVAILABLE, "busy"),
            SubmitError::RateLimited { retry_after } => {
                let mut err = ApiError::new(S::TOO_MANY_REQUESTS, "rate-limited", e.to_string());
                err.retry_after = Some(retry_after.as_secs_f64().ceil() as u64);
                return err;
            }
            SubmitError::ShuttingDown => (S::SERVICE_UNAVAILABLE, "shutting-down"),
            SubmitError::Storage(_) | SubmitError::NotDurable(_) => (S::SERVICE_UNAVAILABLE, "not-durable"),
            _ => (S::INTERNAL_SERVER_ERROR, "internal"),
        };
        ApiError::new(status, slug, e.to_string())
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
    let v = u64::deserialize(d)?;
    if v > cairn_api::merkle::MAX_TREE_SIZE {
        return Err(D::Error::custom(format!("{v} is beyond the largest tree size, 2^62")));
    }
    Ok(v)
}

/// [`bounded`], optional (with `#[serde(default)]`).
pub(crate) fn bounded_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    bounded(d).map(Some)
}
