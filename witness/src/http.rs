//! The witness's HTTP service: `POST /add-checkpoint` (C2SP tlog-witness),
//! `GET /logs` and `GET /forks` (what it cosigned and the forks it
//! refused, [`cairn_api::witness::wire`]), `GET /healthz`.
//!
//! A `409` answer is C2SP's `text/x.tlog.size` body; every other refusal
//! is an RFC 9457 problem (`application/problem+json`) whose type is
//! `https://cairn.dev/problems/witness/<slug>`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cairn_api::wire::PROBLEM_BASE;
use cairn_api::witness::protocol::{ADD_CHECKPOINT_PATH, MAX_ADD_CHECKPOINT_BYTES, SIZE_CONTENT_TYPE, size_body};
use cairn_api::witness::wire::{ForkEvidenceList, WitnessedLogs};

use crate::add::{Refusal, Witness};

/// The problem slugs a witness answers with, and their status codes.
pub const PROBLEMS: &[(&str, u16)] = &[
    ("malformed", 400),
    ("not-signed", 403),
    ("unknown-log", 404),
    ("inconsistent", 422),
    ("storage", 500),
    ("not-found", 404),
];

fn problem(slug: &str, status: StatusCode, detail: String) -> Response {
    let body = serde_json::json!({
        "type": format!("{PROBLEM_BASE}witness/{slug}"),
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let detail = self.to_string();
        match self {
            Refusal::Conflict { size } | Refusal::Fork { size } => (
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
                size_body(size),
            )
                .into_response(),
            Refusal::Malformed(_) | Refusal::OldTooLarge { .. } => {
                problem("malformed", StatusCode::BAD_REQUEST, detail)
            }
            Refusal::UnknownLog(_) => problem("unknown-log", StatusCode::NOT_FOUND, detail),
            Refusal::NotSigned(_) => problem("not-signed", StatusCode::FORBIDDEN, detail),
            Refusal::Inconsistent(_) => problem("inconsistent", StatusCode::UNPROCESSABLE_ENTITY, detail),
            Refusal::Storage(_) => {
                tracing::error!(error = %detail, "cannot persist: nothing cosigned");
                problem("storage", StatusCode::INTERNAL_SERVER_ERROR, detail)
            }
        }
    }
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    match tokio::task::spawn_blocking(move || w.add_checkpoint(&body)).await {
        Ok(Ok(lines)) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], lines).into_response(),
        Ok(Err(refusal)) => refusal.into_response(),
        Err(_) => problem(
            "storage",
            StatusCode::SERVICE_UNAVAILABLE,
            "the witness is shutting down".into(),
        ),
    }
}

async fn logs(State(w): State<Arc<Witness>>) -> Response {
    axum::Json(WitnessedLogs { logs: w.logs() }).into_response()
}

async fn forks(State(w): State<Arc<Witness>>) -> Response {
    match tokio::task::spawn_blocking(move || w.forks()).await {
        Ok(Ok(forks)) => axum::Json(ForkEvidenceList { forks }).into_response(),
        Ok(Err(e)) => problem("storage", StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(_) => problem(
            "storage",
            StatusCode::SERVICE_UNAVAILABLE,
            "the witness is shutting down".into(),
        ),
    }
}

/// The service.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route(ADD_CHECKPOINT_PATH, post(add_checkpoint))
        .route("/logs", get(logs))
        .route("/forks", get(forks))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async { problem("not-found", StatusCode::NOT_FOUND, "no such route".into()) })
        .layer(DefaultBodyLimit::max(MAX_ADD_CHECKPOINT_BYTES))
        .with_state(witness)
}
