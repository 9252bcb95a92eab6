//! `cairn-gate mcp --upstream URL`: the gate in front of an MCP server
//! that speaks the streamable HTTP transport (MCP 2025-06-18), as a reverse
//! proxy. The agent's MCP configuration changes by one line: the server's
//! URL becomes the proxy's (same path).
//!
//! Every request is passed to the upstream server unchanged (method, path,
//! query, headers but the hop-by-hop ones, body), and every answer back
//! unchanged and streamed as it comes (server-sent events included: the
//! server's own requests to the agent, its notifications, its answers),
//! except a `POST` whose body is a JSON-RPC `tools/call` request. That one
//! is decided first, exactly as on stdio ([`crate::mcp`]): only a durable
//! PERMIT forwards it; anything else is answered `200` with the tool error
//! ("Action blocked by policy: ..."), and the server never sees the call.
//! A `tools/call` without an id, a name or object arguments, a batch
//! holding one, or a body that is not strict JSON is answered `400` with a
//! JSON-RPC error; a body with a `Content-Encoding`, or on another method
//! than `POST`, `415`: what the gate cannot read is never passed on.
//!
//! When the agent presents a bearer token (MCP authorization), it goes to
//! the server as it came, and its delegation chain is recorded as the
//! receipt's lineage ([`crate::lineage`]) when the gate can verify it.

use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::lineage::TokenIssuers;
use crate::mcp::{MAX_LINE_BYTES, McpMapping, Route, blocked, route};
use crate::pdp::Pdp;

/// The longest the proxy waits to connect to the upstream server or to
/// send it a request.
pub const UPSTREAM_CONNECT: Duration = Duration::from_secs(10);
/// Bytes read from the upstream answer at a time (each sent on at once).
const CHUNK: usize = 16 * 1024;

/// What the proxy's handler shares.
#[derive(Debug, Clone)]
pub struct ProxyState {
    /// The decision point.
    pub pdp: Arc<Pdp>,
    /// How a call becomes an AuthZEN request.
    pub mapping: Arc<McpMapping>,
    /// The upstream server's base URL (`http://host:port`, maybe with a
    /// path prefix), without a trailing slash.
    pub upstream: Arc<str>,
    /// The issuers whose tokens the gate verifies for the lineage.
    pub issuers: Option<Arc<TokenIssuers>>,
    agent: ureq::Agent,
}

impl ProxyState {
    /// The proxy to `upstream`.
    pub fn new(pdp: Arc<Pdp>, mapping: McpMapping, upstream: &str, issuers: Option<Arc<TokenIssuers>>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(UPSTREAM_CONNECT))
            .timeout_send_request(Some(UPSTREAM_CONNECT))
            .build()
            .into();
        ProxyState {
            pdp,
            mapping: Arc::new(mapping),
            upstream: upstream.trim_end_matches('/').into(),
            issuers,
            agent,
        }
    }
}

/// The proxy: every route, every method.
pub fn router(state: ProxyState) -> Router {
    Router::new()
        .fallback(proxy)
        .layer(DefaultBodyLimit::max(MAX_LINE_BYTES))
        .with_state(state)
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn proxy(
    State(s): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let msg = format!("the request body: {}", e.body_text());
            return json(e.status(), crate::mcp::error(&Value::Null, &msg));
        }
    };
    // What the gate cannot read is not passed on: an encoded body, or a body
    // on another method than POST, could carry a tools/call never decided.
    let encoded = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded || (method != Method::POST && !body.is_empty()) {
        let msg = "the cairn gate reads only unencoded POST bodies";
        return json(StatusCode::UNSUPPORTED_MEDIA_TYPE, crate::mcp::error(&Value::Null, msg));
    }
    if method == Method::POST {
        match route(&body) {
            Route::Forward => {}
            Route::Refuse(answer) => return json(StatusCode::BAD_REQUEST, answer),
            Route::Decide { id, tool, arguments } => {
                let lineage = match &s.issuers {
                    Some(issuers) => match issuers.lineage(headers.get(header::AUTHORIZATION)) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::warn!(tool = %tool, error = %e, "tools/call refused: its token");
                            return json(StatusCode::OK, blocked(&id, &e.as_decision()).to_string().into_bytes());
                        }
                    },
                    None => Vec::new(),
                };
                let (pdp, mapping) = (s.pdp.clone(), s.mapping.clone());
                let t = tool.clone();
                let decided = tokio::task::spawn_blocking(move || {
                    let req = mapping.evaluation_over(&t, &arguments, "streamable-http");
                    pdp.evaluate_with_lineage(req, None, lineage)
                        .unwrap_or_else(|e| e.as_decision())
                })
                .await;
                let d = match decided {
                    Ok(d) => d,
                    Err(e) => crate::pdp::EvalError::Gate(format!("the decision's task: {e}")).as_decision(),
                };
                if !d.decision {
                    tracing::warn!(tool = %tool, reason = ?d.context.as_ref().map(|c| &c.id), "tools/call blocked");
                    return json(StatusCode::OK, blocked(&id, &d).to_string().into_bytes());
                }
                tracing::info!(tool = %tool, "tools/call allowed");
            }
        }
    }
    forward(&s, method, &uri, &headers, body).await
}

/// Hop-by-hop headers (RFC 9110 section 7.6.1) and what the proxy sets
/// itself: never passed on.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

/// Pass the request to the upstream server and stream its answer back.
async fn forward(s: &ProxyState, method: Method, uri: &Uri, headers: &HeaderMap, body: Bytes) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{path}", s.upstream);
    let mut req = ureq::http::Request::builder().method(method).uri(&url);
    for (k, v) in headers {
        if !hop_by_hop(k) {
            req = req.header(k, v);
        }
    }
    let (head_tx, head_rx) = tokio::sync::oneshot::channel();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let agent = s.agent.clone();
    let sent = tokio::task::spawn_blocking(move || {
        let answer = if body.is_empty() {
            req.body(())
                .map_err(|e| e.to_string())
                .and_then(|r| agent.run(r).map_err(|e| e.to_string()))
        } else {
            req.body(body.to_vec())
                .map_err(|e| e.to_string())
                .and_then(|r| agent.run(r).map_err(|e| e.to_string()))
        };
        let (parts, upstream_body) = match answer {
            Ok(r) => r.into_parts(),
            Err(e) => {
                let _ = head_tx.send(Err(e));
                return;
            }
        };
        if head_tx.send(Ok(parts)).is_err() {
            return;
        }
        let mut reader = upstream_body.into_reader();
        let mut buf = vec![0u8; CHUNK];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if tx.blocking_send(Ok(Bytes::copy_from_slice(&buf[..n]))).is_err() {
                        // The agent went away: stop reading.
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    drop(sent);
    let parts = match head_rx.await {
        Ok(Ok(parts)) => parts,
        Ok(Err(e)) => return upstream_failed(&url, &e),
        Err(_) => return upstream_failed(&url, "no answer"),
    };
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = parts.status;
    for (k, v) in &parts.headers {
        if !hop_by_hop(k) {
            resp.headers_mut().append(k, v.clone());
        }
    }
    resp
}

fn upstream_failed(url: &str, detail: &str) -> Response {
    tracing::warn!(%url, %detail, "the MCP server did not answer");
    let msg = format!("the MCP server behind the gate did not answer: {detail}");
    json(StatusCode::BAD_GATEWAY, crate::mcp::error(&Value::Null, &msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_stay_here() {
        for h in ["connection", "transfer-encoding", "host", "content-length", "upgrade"] {
            assert!(hop_by_hop(&HeaderName::from_static(h)), "{h}");
        }
        for h in [
            "mcp-session-id",
            "mcp-protocol-version",
            "authorization",
            "accept",
            "last-event-id",
            "content-type",
        ] {
            assert!(!hop_by_hop(&HeaderName::from_static(h)), "{h}");
        }
    }
}
