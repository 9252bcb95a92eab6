//! The write routes: `POST /v1/receipts`, `POST /v1/receipts/batch`, and
//! the admin routes `POST /v1/keys` and `POST /v1/policies`. Bodies are
//! read with a size limit and a deadline; every answer is a
//! [`wire::Ack`], a [`wire::BatchResponse`] or a problem.

use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_api::cbor;
use cairn_api::wire::{self, ProblemType};
use subtle::ConstantTimeEq as _;

use super::{ApiError, AppState, Limits};
use crate::sequencer::Ack;

pub(crate) async fn body_bytes(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    media: &str,
) -> Result<Vec<u8>, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.split(';').next().map(str::trim) != Some(media) {
        return Err(ApiError::new(
            ProblemType::UnsupportedMediaType,
            format!("content type must be {media}, got {ct:?}"),
        ));
    }
    // A declared length over the limit is refused before a byte is read:
    // at once, and without `100 Continue` to a client that asked for it
    // (hyper sends it only when the body is read).
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(ApiError::new(
            ProblemType::BodyTooLarge,
            format!("the declared body of {len} bytes is over {limit} bytes"),
        ));
    }
    to_bytes(body, limit).await.map(|b| b.to_vec()).map_err(|e| {
        // Tell the body limit and the body deadline apart by the error's causes.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<http_body_util::LengthLimitError>() {
                return ApiError::new(ProblemType::BodyTooLarge, format!("the body is over {limit} bytes"));
            }
            if c.is::<tower_http::timeout::TimeoutError>() {
                return ApiError::new(ProblemType::BodyDeadline, "the request body did not arrive in time");
            }
            cause = c.source();
        }
        ApiError::new(ProblemType::BadBody, format!("the request body could not be read: {e}"))
    })
}

fn ack_response(ack: Ack) -> Response {
    let (status, body) = ack_body(&ack);
    (status, axum::Json(body)).into_response()
}

/// 201 for a new entry, 200 for the original answer to a resubmission.
fn ack_body(ack: &Ack) -> (StatusCode, wire::Ack) {
    let status = if ack.existing {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, ack.to_wire())
}

/// Admit a submission before its body is read, or shed it (503 `busy`):
/// the queue's wait over its bound, or no room in the in-flight budget.
fn admit(s: &AppState, headers: &HeaderMap, limit: usize) -> Result<super::in_flight::Admitted, ApiError> {
    // An instance that does not write says so before reading anything, and
    // for a whole batch at once (a 200 whose every item is 503 would not
    // send a client to the leader).
    s.sequencer.check_leader()?;
    let admitted = s
        .sequencer
        .check_queue_wait()
        .map_err(ApiError::from)
        .and_then(|()| s.in_flight.admit(headers, limit));
    if admitted.is_err() {
        s.sequencer.metrics_handle().shed();
    }
    admitted
}

/// `POST /v1/receipts/batch`: a CBOR array (at most [`MAX_BATCH_ITEMS`]) of
/// byte strings, each a COSE_Sign1 receipt. Every item is submitted at once
/// (so they share group commits) and answered in order with its own status
/// and acknowledgement or problem; the response is 200 when the batch
/// itself was readable.
pub(super) async fn post_receipts_batch(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let _admitted = admit(&s, &headers, s.limits.batch_body)?;
    let bytes = body_bytes(&headers, body, s.limits.batch_body, "application/cbor").await?;
    let bodies = batch_items(&bytes, &s.limits)?;
    let results = futures_util::future::join_all(bodies.into_iter().map(|b| {
        let seq = s.sequencer.clone();
        async move { seq.submit_receipt(b).await }
    }))
    .await;
    let results = results
        .into_iter()
        .map(|r| match r.map_err(ApiError::from).map(|a| ack_body(&a)) {
            Ok((status, ack)) => wire::BatchResult {
                status: status.as_u16(),
                ack: Some(ack),
                problem: None,
            },
            Err(e) => wire::BatchResult {
                status: e.status().as_u16(),
                ack: None,
                problem: Some(e.problem()),
            },
        })
        .collect();
    Ok(axum::Json(wire::BatchResponse { results }).into_response())
}

/// The receipts of a batch body (a strict CBOR array of byte strings).
fn batch_items(bytes: &[u8], limits: &Limits) -> Result<Vec<Vec<u8>>, ApiError> {
    let bad = |d: String| ApiError::new(ProblemType::BadBatch, d);
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

pub(super) async fn post_receipt(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let _admitted = admit(&s, &headers, s.limits.receipt_body)?;
    let bytes = body_bytes(&headers, body, s.limits.receipt_body, "application/cose").await?;
    Ok(ack_response(s.sequencer.submit_receipt(bytes).await?))
}

pub(super) fn check_admin(s: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let unauthorized = |why: &str| ApiError::new(ProblemType::Unauthorized, why);
    let Some(token) = &s.admin_token else {
        return Err(unauthorized(
            "this ledger has no admin credential configured: admin routes are off",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("admin routes need the admin bearer credential (Authorization: Bearer ...)"))?;
    if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        Ok(())
    } else {
        Err(unauthorized("the admin bearer credential is wrong"))
    }
}

pub(super) async fn post_key(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    check_admin(&s, &headers)?;
    let bytes = body_bytes(&headers, body, s.limits.admin_body, "application/cose").await?;
    Ok(ack_response(s.sequencer.submit_key(bytes).await?))
}

pub(super) async fn post_policy(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_admin(&s, &headers)?;
    let bytes = body_bytes(&headers, body, s.limits.admin_body, "application/cose").await?;
    Ok(ack_response(s.sequencer.submit_policy(bytes).await?))
}
