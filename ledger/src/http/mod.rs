//! The HTTP API (axum). [`router`] is the whole service; tests drive it
//! with `oneshot`. `schemas/openapi.yaml` documents every route of
//! [`ROUTES`], and the bodies are [`cairn_api::wire`] types.
//!
//! - [`submit`]: `POST /v1/receipts`, `/v1/receipts/batch`, admin
//!   `POST /v1/keys`, `/v1/policies`;
//! - [`read`]: admin `GET /v1/keys`, `/v1/policies/{hash}`;
//!   `GET /v1/checkpoint`, `/v1/checkpoints`, `/v1/entries/{index}`,
//!   `/v1/entries`, `/v1/proofs/inclusion`, `/v1/proofs/consistency`,
//!   `/v1/proofs/tlog-proof` ([`tlog_proof`]),
//!   `/v1/export`, `/metrics`, `/healthz`, `/readyz`;
//! - [`tiles`]: C2SP tlog-tiles, `GET /checkpoint`, `/tile/...`;
//! - [`query`]: `GET /v1/receipts` (incident review);
//! - [`error`]: RFC 9457 problem details for every failure;
//! - [`trace`]: request ids and a span per request.

pub mod error;
pub mod in_flight;
pub mod query;
mod read;
mod submit;
pub mod tiles;
mod tlog_proof;
pub mod trace;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use cairn_api::wire::ProblemType;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use error::{ApiError, Query};

use crate::sequencer::Sequencer;
use crate::store::{Store, StoreError};

/// Largest receipt submission body, in bytes: the largest entry body
/// (every entry fits a C2SP entry bundle, spec section 12).
pub const MAX_RECEIPT_BODY: usize = cairn_api::entry::MAX_ENTRY_BODY_BYTES;
/// Largest admin submission body (a key statement or a policy bundle), in
/// bytes: the largest entry body too.
pub const MAX_ADMIN_BODY: usize = cairn_api::entry::MAX_ENTRY_BODY_BYTES;
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
    /// The incident-query index.
    pub index: Arc<crate::query_index::QueryIndex>,
    /// The admin bearer credential; `None` disables admin routes.
    pub admin_token: Option<Arc<str>>,
    /// The longest a client may take to send a request body: a client
    /// trickling bytes is cut off with 408, whatever its pace.
    pub body_deadline: std::time::Duration,
    /// Request limits.
    pub limits: Limits,
    /// The newest cosigned checkpoint (none when the ledger has no
    /// witnesses, or none reached the quorum yet).
    pub published: Arc<crate::witnessing::Published>,
    /// The in-flight budget of the submission routes.
    pub in_flight: in_flight::InFlight,
}

/// The default [`AppState::body_deadline`].
pub const DEFAULT_BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// Every route the router serves: (path, methods). The OpenAPI file
/// documents exactly these (a test checks it).
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/v1/receipts", &["get", "post"]),
    ("/v1/receipts/batch", &["post"]),
    ("/v1/keys", &["get", "post"]),
    ("/v1/policies", &["post"]),
    ("/v1/policies/{hash}", &["get"]),
    ("/v1/checkpoint", &["get"]),
    ("/v1/checkpoints", &["get"]),
    ("/v1/entries/{index}", &["get"]),
    ("/v1/entries", &["get"]),
    ("/v1/proofs/inclusion", &["get"]),
    ("/v1/proofs/consistency", &["get"]),
    ("/v1/proofs/tlog-proof", &["get"]),
    ("/v1/export", &["get"]),
    ("/checkpoint", &["get"]),
    ("/tile/{*path}", &["get"]),
    ("/metrics", &["get"]),
    ("/healthz", &["get"]),
    ("/readyz", &["get"]),
];

/// The service: every route of [`ROUTES`], problem details for unknown
/// routes and methods, a request-body deadline, a request id on every
/// request and response (`x-request-id`), and a trace span per request.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/receipts", post(submit::post_receipt).get(query::get_receipts))
        .route("/v1/receipts/batch", post(submit::post_receipts_batch))
        .route("/v1/keys", post(submit::post_key).get(read::get_keys))
        .route("/v1/policies", post(submit::post_policy))
        .route("/v1/policies/{hash}", get(read::get_policy))
        .route("/v1/checkpoint", get(read::get_checkpoint))
        .route("/v1/checkpoints", get(read::get_checkpoints))
        .route("/v1/entries/{index}", get(read::get_entry))
        .route("/v1/entries", get(read::get_entries))
        .route("/v1/proofs/inclusion", get(read::get_inclusion))
        .route("/v1/proofs/consistency", get(read::get_consistency))
        .route("/v1/proofs/tlog-proof", get(tlog_proof::get_tlog_proof))
        .route("/v1/export", get(read::get_export))
        .route("/checkpoint", get(tiles::get_checkpoint))
        .route("/tile/{*path}", get(tiles::get_tile))
        .route("/metrics", get(read::metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(read::readyz))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(ProblemType::MethodNotAllowed, "this route does not take that method")
        })
        .layer(tower_http::timeout::RequestBodyDeadlineLayer::new(state.body_deadline))
        .layer(PropagateRequestIdLayer::new(trace::REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(trace::span::<axum::body::Body> as fn(&_) -> _)
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(tracing::Level::DEBUG)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                ),
        )
        .layer(SetRequestIdLayer::new(trace::REQUEST_ID, trace::Counter::default()))
        .with_state(state)
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::new(ProblemType::ShuttingDown, "the ledger is shutting down"))?
        .map_err(ApiError::from)
}
