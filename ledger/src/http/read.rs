//! The read routes: key events (admin), archived bundles (admin),
//! checkpoints, entries, inclusion and consistency proofs, the export,
//! metrics and readiness. Every JSON body is a [`wire`] type.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use cairn_api::cbor::{self, CBOR};
use cairn_api::merkle::{GenerateError, Hash, MerkleError, Sha256, consistency_proof, inclusion_proof};
use cairn_api::wire;
use serde::Deserialize;

use super::submit::check_admin;
use super::{ApiError, AppState, Query, blocking, error};
use crate::metrics::Exposition;
use crate::store::{Store, StoreError, prefetched};

pub(super) async fn get_keys(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    check_admin(&s, &headers)?;
    let st = s.store.clone();
    let events = blocking(move || st.key_events()).await?;
    let key_events = events
        .into_iter()
        .map(|(index, e)| wire::KeyEventItem {
            index,
            key_ref: e.key_ref(),
            key: e.key.to_string(),
            role: e.role,
            registered: e.registered,
        })
        .collect();
    Ok(axum::Json(wire::KeyEventList { key_events }).into_response())
}

/// The archived bundle (the COSE_Sign1 body of its policy entry).
pub(super) async fn get_policy(
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

pub(crate) async fn latest_size(store: &Arc<dyn Store>) -> Result<(u64, Option<String>), ApiError> {
    let st = store.clone();
    blocking(move || st.head()).await
}

/// The checkpoint the read routes serve: the newest cosigned one (when
/// witnessed, and it covers `index` if one is given), else the newest.
pub(crate) async fn served_checkpoint(s: &AppState, index: Option<u64>) -> Result<(u64, Option<String>), ApiError> {
    let head = latest_size(&s.store).await?;
    Ok(s.published.note_for(index, head))
}

pub(super) async fn get_checkpoint(State(s): State<AppState>) -> Result<Response, ApiError> {
    match served_checkpoint(&s, None).await?.1 {
        Some(note) => Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response()),
        None => Err(ApiError::not_found("the log is empty: no checkpoint yet")),
    }
}

#[derive(Deserialize)]
pub(super) struct Range {
    #[serde(default, deserialize_with = "error::bounded_opt")]
    from: Option<u64>,
    #[serde(default, deserialize_with = "error::bounded_opt")]
    to: Option<u64>,
}

pub(super) async fn get_checkpoints(State(s): State<AppState>, Query(q): Query<Range>) -> Result<Response, ApiError> {
    let st = s.store.clone();
    let page = s.limits.page;
    let (from, to) = (q.from.unwrap_or(0), q.to.unwrap_or(u64::MAX));
    let cosigned = s.published.get();
    let list = blocking(move || {
        st.checkpoint_sizes(from, to, page)?
            .into_iter()
            .map(|size| {
                let note = match &cosigned {
                    Some(c) if c.size == size => c.note.clone(),
                    _ => st
                        .checkpoint(size)?
                        .ok_or_else(|| StoreError::Corrupt(format!("checkpoint {size} is listed but missing")))?,
                };
                Ok(wire::CheckpointItem { size, note })
            })
            .collect::<Result<Vec<_>, StoreError>>()
    })
    .await?;
    Ok(axum::Json(wire::CheckpointList { checkpoints: list }).into_response())
}

fn cbor_response(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/cbor")], bytes).into_response()
}

pub(super) async fn get_entry(State(s): State<AppState>, Path(index): Path<String>) -> Result<Response, ApiError> {
    let index = error::index(&index).ok_or_else(|| {
        ApiError::bad_param("index must be a decimal integer from 0 to 2^62, without sign or leading zero")
    })?;
    let st = s.store.clone();
    match blocking(move || st.entry(index)).await? {
        Some(b) => Ok(cbor_response(b)),
        None => Err(ApiError::not_found(format!("no entry {index}"))),
    }
}

#[derive(Deserialize)]
pub(super) struct Entries {
    #[serde(deserialize_with = "error::bounded")]
    start: u64,
    #[serde(deserialize_with = "error::bounded")]
    end: u64,
}

pub(super) async fn get_entries(State(s): State<AppState>, Query(q): Query<Entries>) -> Result<Response, ApiError> {
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
pub(super) struct InclusionQuery {
    #[serde(default, deserialize_with = "error::bounded_opt")]
    index: Option<u64>,
    leaf_hash: Option<String>,
    #[serde(default, deserialize_with = "error::bounded_opt")]
    size: Option<u64>,
}

pub(super) async fn get_inclusion(
    State(s): State<AppState>,
    Query(q): Query<InclusionQuery>,
) -> Result<Response, ApiError> {
    let (latest, _) = latest_size(&s.store).await?;
    let size = match (q.size, q.index, s.published.get()) {
        (Some(size), _, _) => size,
        // The newest cosigned checkpoint, when it covers the entry.
        (None, Some(i), Some(c)) if i < c.size => c.size,
        _ => latest,
    };
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
            inclusion_proof::<Sha256, _>(n, index, size)
        }))
    })
    .await?
    .map_err(|e| ApiError::bad_param(e.to_string()))?;
    Ok(axum::Json(wire::InclusionProof { index, size, proof }).into_response())
}

#[derive(Deserialize)]
pub(super) struct ConsistencyQuery {
    #[serde(deserialize_with = "error::bounded")]
    from: u64,
    #[serde(default, deserialize_with = "error::bounded_opt")]
    to: Option<u64>,
}

pub(super) async fn get_consistency(
    State(s): State<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    let (latest, _) = latest_size(&s.store).await?;
    let to = q.to.unwrap_or(latest);
    if to > latest {
        return Err(ApiError::bad_param(format!("to {to} is beyond the log's {latest}")));
    }
    let st = s.store.clone();
    let from = q.from;
    let proof = blocking(move || split(prefetched(st.as_ref(), |n| consistency_proof::<Sha256, _>(n, from, to))))
        .await?
        .map_err(|e| ApiError::bad_param(e.to_string()))?;
    Ok(axum::Json(wire::ConsistencyProof { from, to, proof }).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExportQuery {
    #[serde(default, deserialize_with = "error::bounded_opt")]
    from: Option<u64>,
}

/// `GET /v1/export?from=N`: the export (docs/spec.md §18), streamed as the
/// store is read, so memory does not grow with the log.
pub(super) async fn get_export(State(s): State<AppState>, Query(q): Query<ExportQuery>) -> Result<Response, ApiError> {
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
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let store = s.store.clone();
    tokio::task::spawn_blocking(move || {
        let sent = crate::export::export(store.as_ref(), &origin, from, |chunk| {
            tx.blocking_send(Ok(chunk)).is_ok()
        });
        if let Err(e) = sent {
            // An export that cannot be completed must never end cleanly:
            // the stream is aborted (no final chunk), so the client sees an
            // error, not a shorter export that looks whole.
            tracing::error!(error = %e, from, "the export failed mid-stream; the response is aborted");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    Ok((
        [(header::CONTENT_TYPE, "application/cbor-seq")],
        Body::from_stream(stream),
    )
        .into_response())
}

pub(super) async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Exposition::negotiate(accept);
    (
        [(header::CONTENT_TYPE, format.content_type()), (header::VARY, "accept")],
        format.render(&{
            let m = s.sequencer.metrics();
            m.set_damaged(s.store.damaged());
            m.encode()
        }),
    )
        .into_response()
}

/// Ready: the store is readable and writes can be made durable (after a
/// failed commit the store is reopened here too, with its backoff).
pub(super) async fn readyz(State(s): State<AppState>) -> Result<&'static str, ApiError> {
    latest_size(&s.store).await?;
    if !s.store.writable() {
        let st = s.store.clone();
        let recovered = tokio::task::spawn_blocking(move || st.recover()).await.map_err(|_| {
            ApiError::new(
                cairn_api::wire::ProblemType::ShuttingDown,
                "the ledger is shutting down",
            )
        })?;
        if let Err(e) = recovered {
            return Err(ApiError::new(
                cairn_api::wire::ProblemType::NotDurable,
                format!("not ready: writes cannot be made durable now ({e})"),
            ));
        }
    }
    Ok("ready")
}
