//! The HTTP API (axum). `router(state)` is the whole service; tests drive
//! it with `oneshot`.
//!
//! Built so far: `POST /v1/receipts`, `POST /v1/receipts/batch`; admin `POST /v1/keys`,
//! `POST /v1/policies`; `GET /v1/checkpoint`, `/v1/checkpoints`,
//! `/v1/entries/{index}`, `/v1/entries`, `/v1/proofs/inclusion`,
//! `/v1/proofs/consistency`, `/v1/receipts` (queries), `/metrics`, `/healthz`, `/readyz`. Errors are RFC 9457
//! problem details ([`error::ApiError`]).

pub mod error;
pub mod query;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use cairn_api::cbor::{self, CBOR};
use cairn_api::merkle::{Blake3, GenerateError, Hash, MerkleError, consistency_proof, inclusion_proof};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq as _;

pub use error::{ApiError, Query};

use crate::sequencer::{Ack, Sequencer};
use crate::store::{Store, StoreError, prefetched};

/// Largest receipt submission body, in bytes.
pub const MAX_RECEIPT_BODY: usize = 128 * 1024;
/// Largest admin submission body (a policy bundle), in bytes.
pub const MAX_ADMIN_BODY: usize = 2 * 1024 * 1024 + 1024;
/// Most receipts in one batch submission.
pub const MAX_BATCH_ITEMS: usize = 256;
/// Largest batch submission body, in bytes.
pub const MAX_BATCH_BODY: usize = 4 * 1024 * 1024;

/// The request limits a ledger enforces; each at most its named constant
/// (the default), each configurable downwards (`[http]` in the config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest `POST /v1/receipts` body ([`MAX_RECEIPT_BODY`]).
    pub receipt_body: usize,
    /// Largest admin body ([`MAX_ADMIN_BODY`]).
    pub admin_body: usize,
    /// Most receipts in one batch ([`MAX_BATCH_ITEMS`]).
    pub batch_items: usize,
    /// Largest batch body ([`MAX_BATCH_BODY`]).
    pub batch_body: usize,
    /// Most entries, checkpoints or query hits in one page ([`MAX_PAGE`]).
    pub page: usize,
}

/// Most entries, checkpoints or query hits one page returns.
pub const MAX_PAGE: usize = 1000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            receipt_body: MAX_RECEIPT_BODY,
            admin_body: MAX_ADMIN_BODY,
            batch_items: MAX_BATCH_ITEMS,
            batch_body: MAX_BATCH_BODY,
            page: MAX_PAGE,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The write path.
    pub sequencer: Sequencer,
    /// The read path.
    pub store: Arc<dyn Store>,
    /// The admin bearer credential; `None` disables admin routes.
    pub admin_token: Option<Arc<str>>,
    /// The longest a client may take to send a request body: a client
    /// trickling bytes is cut off with 408, whatever its pace.
    pub body_deadline: std::time::Duration,
    /// Request limits.
    pub limits: Limits,
}

/// The default [`AppState::body_deadline`].
pub const DEFAULT_BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// The service.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/receipts", post(post_receipt).get(query::get_receipts))
        .route("/v1/receipts/batch", post(post_receipts_batch))
        .route("/v1/keys", post(post_key).get(get_keys))
        .route("/v1/policies", post(post_policy))
        .route("/v1/policies/{hash}", get(get_policy))
        .route("/v1/checkpoint", get(get_checkpoint))
        .route("/v1/checkpoints", get(get_checkpoints))
        .route("/v1/entries/{index}", get(get_entry))
        .route("/v1/entries", get(get_entries))
        .route("/v1/proofs/inclusion", get(get_inclusion))
        .route("/v1/proofs/consistency", get(get_consistency))
        .route("/v1/export", get(get_export))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(tower_http::timeout::RequestBodyDeadlineLayer::new(state.body_deadline))
        .with_state(state)
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting-down",
                "the ledger is shutting down",
            )
        })?
        .map_err(ApiError::from)
}

async fn body_bytes(headers: &HeaderMap, body: Body, limit: usize, media: &str) -> Result<Vec<u8>, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.split(';').next().map(str::trim) != Some(media) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("content type must be {media}, got {ct:?}"),
        ));
    }
    to_bytes(body, limit).await.map(|b| b.to_vec()).map_err(|e| {
        // Tell the body limit and the body deadline apart by the error's causes.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<http_body_util::LengthLimitError>() {
                return ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body-too-large",
                    format!("the body is over {limit} bytes"),
                );
            }
            if c.is::<tower_http::timeout::TimeoutError>() {
                return ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body-deadline",
                    "the request body did not arrive in time",
                );
            }
            cause = c.source();
        }
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-body",
            format!("the request body could not be read: {e}"),
        )
    })
}

fn ack_response(ack: Ack) -> Result<Response, ApiError> {
    let (status, body) = ack_json(ack)?;
    Ok((status, axum::Json(body)).into_response())
}

fn ack_json(ack: Ack) -> Result<(StatusCode, serde_json::Value), ApiError> {
    let proof = ack.tlog_proof().map_err(ApiError::from)?;
    let status = if ack.existing {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let body = json!({
        "index": ack.index,
        "leaf_hash": ack.leaf_hash.to_hex(),
        "size": ack.size,
        "checkpoint": ack.checkpoint,
        "inclusion_proof": ack.proof.iter().map(Hash::to_base64).collect::<Vec<_>>(),
        "tlog_proof": proof.to_text(),
        "existing": ack.existing,
    });
    Ok((status, body))
}

/// `POST /v1/receipts/batch`: a CBOR array (at most [`MAX_BATCH_ITEMS`]) of
/// byte strings, each a COSE_Sign1 receipt. Every item is submitted at once
/// (so they share group commits) and answered in order with its own status
/// and acknowledgement or problem; the response is 200 when the batch
/// itself was readable.
async fn post_receipts_batch(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let bytes = body_bytes(&headers, body, s.limits.batch_body, "application/cbor").await?;
    let bodies = batch_items(&bytes, &s.limits)?;
    let results = futures_util::future::join_all(bodies.into_iter().map(|b| {
        let seq = s.sequencer.clone();
        async move { seq.submit_receipt(b).await }
    }))
    .await;
    let out: Vec<serde_json::Value> = results
        .into_iter()
        .map(|r| match r.map_err(ApiError::from).and_then(ack_json) {
            Ok((status, ack)) => json!({"status": status.as_u16(), "ack": ack}),
            Err(e) => json!({"status": e.status.as_u16(), "problem": e.to_json()}),
        })
        .collect();
    Ok(axum::Json(json!({ "results": out })).into_response())
}

/// The receipts of a batch body (a strict CBOR array of byte strings).
fn batch_items(bytes: &[u8], limits: &Limits) -> Result<Vec<Vec<u8>>, ApiError> {
    let bad = |d: String| ApiError::new(StatusCode::BAD_REQUEST, "bad-batch", d);
    let c = cbor::decode_with_limit(bytes, limits.batch_body).map_err(|e| bad(format!("batch: {e}")))?;
    let items = cbor::array(&c, "batch").map_err(|e| bad(e.to_string()))?;
    let max_items = limits.batch_items;
    if items.is_empty() || items.len() > max_items {
        return Err(bad(format!(
            "a batch holds 1 to {max_items} receipts, got {}",
            items.len()
        )));
    }
    items
        .iter()
        .map(|i| cbor::bytes(i, "batch[]").map(<[u8]>::to_vec))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))
}

async fn post_receipt(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let bytes = body_bytes(&headers, body, s.limits.receipt_body, "application/cose").await?;
    ack_response(s.sequencer.submit_receipt(bytes).await?)
}

fn check_admin(s: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let unauthorized = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "admin routes need the admin bearer credential",
        )
    };
    let Some(token) = &s.admin_token else {
        return Err(unauthorized());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(unauthorized)?;
    if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        Ok(())
    } else {
        Err(unauthorized())
    }
}

async fn post_key(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    check_admin(&s, &headers)?;
    let bytes = body_bytes(&headers, body, s.limits.admin_body, "application/cose").await?;
    ack_response(s.sequencer.submit_key(bytes).await?)
}

async fn post_policy(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    check_admin(&s, &headers)?;
    let bytes = body_bytes(&headers, body, s.limits.admin_body, "application/cose").await?;
    ack_response(s.sequencer.submit_policy(bytes).await?)
}

async fn get_keys(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    check_admin(&s, &headers)?;
    let st = s.store.clone();
    let events = blocking(move || st.key_events()).await?;
    let list: Vec<_> = events
        .into_iter()
        .map(|(index, e)| json!({"index": index, "key": e.vkey, "key_ref": e.key_ref, "role": e.role, "registered": e.registered}))
        .collect();
    Ok(axum::Json(json!({ "key_events": list })).into_response())
}

/// The archived bundle (the COSE_Sign1 body of its policy entry).
async fn get_policy(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    check_admin(&s, &headers)?;
    let h = Hash::from_hex(&hash).map_err(|e| ApiError::bad_param(format!("hash: {e}")))?;
    let st = s.store.clone();
    let bytes = blocking(move || match st.bundle_index(&h)? {
        Some(i) => st.entry(i),
        None => Ok(None),
    })
    .await?
    .ok_or_else(|| ApiError::not_found(format!("no archived bundle {hash}")))?;
    let entry = cairn_api::entry::Entry::from_cbor(&bytes)
        .map_err(|e| ApiError::from(StoreError::Corrupt(format!("policy entry: {e}"))))?;
    Ok(([(header::CONTENT_TYPE, "application/cose")], entry.body().to_vec()).into_response())
}

async fn latest_size(store: &Arc<dyn Store>) -> Result<(u64, Option<String>), ApiError> {
    let st = store.clone();
    blocking(move || st.head()).await
}

async fn get_checkpoint(State(s): State<AppState>) -> Result<Response, ApiError> {
    match latest_size(&s.store).await?.1 {
        Some(note) => Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response()),
        None => Err(ApiError::not_found("the log is empty: no checkpoint yet")),
    }
}

#[derive(Deserialize)]
struct Range {
    #[serde(default, deserialize_with = "error::bounded_opt")]
    from: Option<u64>,
    #[serde(default, deserialize_with = "error::bounded_opt")]
    to: Option<u64>,
}

async fn get_checkpoints(State(s): State<AppState>, Query(q): Query<Range>) -> Result<Response, ApiError> {
    let st = s.store.clone();
    let page = s.limits.page;
    let (from, to) = (q.from.unwrap_or(0), q.to.unwrap_or(u64::MAX));
    let list = blocking(move || {
        st.checkpoint_sizes(from, to, page)?
            .into_iter()
            .map(|size| Ok(json!({"size": size, "note": st.checkpoint(size)?})))
            .collect::<Result<Vec<_>, StoreError>>()
    })
    .await?;
    Ok(axum::Json(json!({ "checkpoints": list })).into_response())
}

fn cbor_response(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/cbor")], bytes).into_response()
}

async fn get_entry(State(s): State<AppState>, Path(index): Path<String>) -> Result<Response, ApiError> {
    let index: u64 = index
        .parse()
        .ok()
        .filter(|i| *i <= cairn_api::merkle::MAX_TREE_SIZE)
        .ok_or_else(|| ApiError::bad_param("index must be an integer from 0 to 2^62"))?;
    let st = s.store.clone();
    match blocking(move || st.entry(index)).await? {
        Some(b) => Ok(cbor_response(b)),
        None => Err(ApiError::not_found(format!("no entry {index}"))),
    }
}

#[derive(Deserialize)]
struct Entries {
    #[serde(deserialize_with = "error::bounded")]
    start: u64,
    #[serde(deserialize_with = "error::bounded")]
    end: u64,
}

async fn get_entries(State(s): State<AppState>, Query(q): Query<Entries>) -> Result<Response, ApiError> {
    let page = s.limits.page as u64;
    if q.end <= q.start || q.end - q.start > page {
        return Err(ApiError::bad_param(format!(
            "need start < end and at most {page} entries"
        )));
    }
    let st = s.store.clone();
    let items = blocking(move || {
        let mut out = Vec::new();
        for i in q.start..q.end {
            match st.entry(i)? {
                Some(b) => out.push(b),
                None => break,
            }
        }
        Ok(out)
    })
    .await?;
    if items.is_empty() {
        return Err(ApiError::not_found(format!("no entries from {}", q.start)));
    }
    let items: Vec<CBOR> = items.into_iter().map(CBOR::to_byte_string).collect();
    Ok(cbor_response(cbor::encode(&CBOR::from(items))))
}

/// Split a proof generation result into the caller's fault (a request for a
/// proof that does not exist: 400) and the store's (503).
fn split(r: Result<Vec<Hash>, GenerateError<StoreError>>) -> Result<Result<Vec<Hash>, MerkleError>, StoreError> {
    match r {
        Ok(p) => Ok(Ok(p)),
        Err(GenerateError::Request(e)) => Ok(Err(e)),
        Err(GenerateError::Reader(e)) => Err(e),
        Err(_) => Err(StoreError::Corrupt("proof generation failed".into())),
    }
}

#[derive(Deserialize)]
struct InclusionQuery {
    #[serde(default, deserialize_with = "error::bounded_opt")]
    index: Option<u64>,
    leaf_hash: Option<String>,
    #[serde(default, deserialize_with = "error::bounded_opt")]
    size: Option<u64>,
}

async fn get_inclusion(State(s): State<AppState>, Query(q): Query<InclusionQuery>) -> Result<Response, ApiError> {
    let (latest, _) = latest_size(&s.store).await?;
    let size = q.size.unwrap_or(latest);
    if size > latest {
        return Err(ApiError::bad_param(format!("size {size} is beyond the log's {latest}")));
    }
    let st = s.store.clone();
    let index = match (q.index, q.leaf_hash) {
        (Some(i), None) => i,
        (None, Some(h)) => {
            let h = Hash::from_hex(&h).map_err(|e| ApiError::bad_param(format!("leaf_hash: {e}")))?;
            blocking(move || st.index_of_leaf(&h))
                .await?
                .ok_or_else(|| ApiError::not_found("no entry with that leaf hash"))?
        }
        _ => return Err(ApiError::bad_param("give exactly one of index and leaf_hash")),
    };
    let st = s.store.clone();
    let proof = blocking(move || {
        split(prefetched(st.as_ref(), |n| {
            inclusion_proof::<Blake3, _>(n, index, size)
        }))
    })
    .await?
    .map_err(|e| ApiError::bad_param(e.to_string()))?;
    Ok(axum::Json(json!({
        "index": index,
        "size": size,
        "proof": proof.iter().map(|h| B64.encode(h.0)).collect::<Vec<_>>(),
    }))
    .into_response())
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    #[serde(deserialize_with = "error::bounded")]
    from: u64,
    #[serde(default, deserialize_with = "error::bounded_opt")]
    to: Option<u64>,
}

async fn get_consistency(State(s): State<AppState>, Query(q): Query<ConsistencyQuery>) -> Result<Response, ApiError> {
    let (latest, _) = latest_size(&s.store).await?;
    let to = q.to.unwrap_or(latest);
    if to > latest {
        return Err(ApiError::bad_param(format!("to {to} is beyond the log's {latest}")));
    }
    let st = s.store.clone();
    let from = q.from;
    let proof = blocking(move || split(prefetched(st.as_ref(), |n| consistency_proof::<Blake3, _>(n, from, to))))
        .await?
        .map_err(|e| ApiError::bad_param(e.to_string()))?;
    Ok(axum::Json(json!({
        "from": from,
        "to": to,
        "proof": proof.iter().map(|h| B64.encode(h.0)).collect::<Vec<_>>(),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    #[serde(default, deserialize_with = "error::bounded_opt")]
    from: Option<u64>,
}

/// `GET /v1/export?from=N`: the export (docs/spec.md §18), streamed as the
/// store is read, so memory does not grow with the log.
async fn get_export(State(s): State<AppState>, Query(q): Query<ExportQuery>) -> Result<Response, ApiError> {
    let (size, note) = latest_size(&s.store).await?;
    let note = note.ok_or_else(|| ApiError::not_found("the log is empty: nothing to export"))?;
    let from = q.from.unwrap_or(0);
    if from > size {
        return Err(ApiError::bad_param(format!("from {from} is beyond the log's {size}")));
    }
    let origin = cairn_api::note::SignedNote::parse(note.as_bytes())
        .ok()
        .and_then(|n| cairn_api::note::Checkpoint::parse(n.text()).ok())
        .map(|c| c.origin)
        .ok_or_else(|| ApiError::from(StoreError::Corrupt("the latest checkpoint does not parse".into())))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let store = s.store.clone();
    tokio::task::spawn_blocking(move || {
        // A storage error mid-stream ends the body early; the reader sees a
        // truncated export (its last checkpoint tells it how far it got).
        let _ = crate::export::export(store.as_ref(), &origin, from, |chunk| tx.blocking_send(chunk).is_ok());
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (Ok::<_, std::io::Error>(c), rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/cbor-seq")],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.sequencer.metrics().encode(),
    )
        .into_response()
}

async fn readyz(State(s): State<AppState>) -> Result<&'static str, ApiError> {
    latest_size(&s.store).await.map(|_| "ready")
}
