//! Request ids and a trace span per request: every request gets an
//! `x-request-id` (the client's, if it sent one of at most 64 printable
//! bytes, else a new one), echoed in the response and recorded in the
//! span with the method, path, status and latency.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids `<process start ms in hex>-<counter>`: unique per process,
/// ordered, and cheap (no randomness on the request path).
#[derive(Debug, Clone)]
pub struct Counter {
    prefix: String,
    next: std::sync::Arc<AtomicU64>,
}

impl Default for Counter {
    fn default() -> Self {
        Counter {
            prefix: format!("{:x}", cairn_host::clock::now_saturating().millis()),
            next: std::sync::Arc::new(AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for Counter {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// The span of a request.
pub fn span<B>(req: &Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64)
        .unwrap_or("");
    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
}
