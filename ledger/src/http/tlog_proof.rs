//! `GET /v1/proofs/tlog-proof?index=N`: the C2SP tlog-proof of one entry
//! against the newest cosigned checkpoint that covers it (else the newest
//! signed checkpoint), so that a gate holding an acknowledgement's
//! log-signed proof can upgrade it to a witnessed one.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cairn_api::entry::Entry;
use cairn_api::merkle::{GenerateError, Sha256, inclusion_proof};
use cairn_api::note::SignedNote;
use cairn_api::proof::{TlogProof, entry_header};
use serde::Deserialize;

use super::read::served_checkpoint;
use super::{ApiError, AppState, Query, blocking, error};
use crate::store::{StoreError, prefetched};

#[derive(Deserialize)]
pub(super) struct TlogProofQuery {
    #[serde(deserialize_with = "error::bounded")]
    index: u64,
}

pub(super) async fn get_tlog_proof(
    State(s): State<AppState>,
    Query(q): Query<TlogProofQuery>,
) -> Result<Response, ApiError> {
    let index = q.index;
    let (size, note) = served_checkpoint(&s, Some(index)).await?;
    let note = note.ok_or_else(|| ApiError::not_found("the log is empty: no checkpoint yet"))?;
    if index >= size {
        return Err(ApiError::not_found(format!(
            "no entry {index} in the tree of size {size}"
        )));
    }
    let st = s.store.clone();
    let (entry, proof) = blocking(move || {
        let bytes = st
            .entry(index)?
            .ok_or_else(|| StoreError::Corrupt(format!("entry {index} is in the tree but missing")))?;
        let entry = Entry::from_cbor(&bytes).map_err(|e| StoreError::Corrupt(format!("entry {index}: {e}")))?;
        let proof = prefetched(st.as_ref(), |n| inclusion_proof::<Sha256, _>(n, index, size)).map_err(|e| match e {
            GenerateError::Reader(e) => e,
            other => StoreError::Corrupt(other.to_string()),
        })?;
        Ok((entry, proof))
    })
    .await?;
    let checkpoint = SignedNote::parse(note.as_bytes())
        .map_err(|e| ApiError::from(StoreError::Corrupt(format!("checkpoint: {e}"))))?;
    let text = TlogProof {
        extra: Some(entry_header(entry.kind(), entry.integrated_at())),
        index,
        hashes: proof,
        checkpoint,
    }
    .to_text();
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}
