//! The gate's HTTP API: the OpenID AuthZEN Authorization API 1.0.
//!
//! - `POST /access/v1/evaluation`: one decision ([`crate::authzen`]).
//! - `POST /access/v1/evaluations`: several, with AuthZEN's three
//!   evaluation semantics; `execute_all` runs them at once, so their
//!   receipts go to the ledger in one batch.
//! - `GET /.well-known/authzen-configuration`: the PDP metadata.
//! - `GET /healthz`.
//! - `/approvals`: the approval page ([`crate::approval_http`]), when the
//!   approver is `page`; its own sign-in, not the caller credential.
//!
//! Every AuthZEN call needs a caller credential ([`crate::auth`]): 401
//! otherwise. A decision is always answered `200` with `{decision,
//! context}`; `4xx`/`5xx` (RFC 9457 problem details, whose `detail` is
//! the error message AuthZEN asks for) say the request as a whole could
//! not be evaluated. Every answer carries `X-Request-ID`: the caller's, or
//! a new one.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};

use crate::approval_http;
use crate::approval_page::APPROVALS_PATH;
use crate::auth::Callers;
use crate::authzen::{
    self, Decision, EvaluationRequest, EvaluationsRequest, EvaluationsResponse, MAX_EVALUATIONS, MAX_REQUEST_BYTES,
    Metadata, PartialEvaluation, Semantic,
};
use crate::pdp::{EvalError, Pdp};
use crate::problem::{GateProblem, Refusal, problem};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The decision point.
    pub pdp: Arc<Pdp>,
    /// Who may call by bearer credential; `None` when only mutual TLS
    /// authenticates callers (the TLS handshake refused everyone else).
    pub callers: Option<Arc<Callers>>,
    /// The base URL the metadata names; `None`: `http://` and the `Host`
    /// the caller used.
    pub public_url: Option<String>,
    /// The approval page's desk, when the approver is `page`.
    pub desk: Option<Arc<crate::approval_page::Desk>>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static(authzen::REQUEST_ID_HEADER);

/// A fresh request id (UUIDv7) for a request that came without one.
#[derive(Debug, Clone, Copy, Default)]
struct NewId;

impl MakeRequestId for NewId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let now = cairn_host::clock::now().ok()?;
        let id = cairn_gate::gate::new_id(now).ok()?;
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// The service.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(authzen::EVALUATION_PATH, post(evaluation))
        .route(authzen::EVALUATIONS_PATH, post(evaluations))
        .route(authzen::METADATA_PATH, get(metadata))
        .route("/healthz", get(|| async { "ok" }))
        .route(APPROVALS_PATH, get(approval_http::list))
        .route(&format!("{APPROVALS_PATH}/login"), post(approval_http::login))
        .route(&format!("{APPROVALS_PATH}/logout"), post(approval_http::logout))
        .route(
            &format!("{APPROVALS_PATH}/{{id}}"),
            get(approval_http::show).post(approval_http::answer),
        )
        .fallback(|| async { problem(GateProblem::NotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            problem(GateProblem::MethodNotAllowed, "this route does not take that method")
        })
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, NewId))
        .with_state(state)
}

async fn metadata(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let base = match &s.public_url {
        Some(u) => u.clone(),
        None => match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
            Some(host) => format!("http://{host}"),
            None => return problem(GateProblem::BadRequest, "no Host header and no public URL configured"),
        },
    };
    axum::Json(Metadata::for_base(&base)).into_response()
}

/// The checks every AuthZEN call passes first: a credential, a JSON body.
fn admit(s: &AppState, headers: &HeaderMap) -> Result<(), Refusal> {
    if let Some(callers) = &s.callers
        && !callers.admits(headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes))
    {
        return Err(Refusal::new(
            GateProblem::Unauthenticated,
            "this call needs `Authorization: Bearer <credential>` with a credential the gate knows",
        ));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err(Refusal::new(
            GateProblem::UnsupportedMediaType,
            "send the request as application/json",
        ))
    }
}

/// The caller's idempotency key, if it sent one.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    match headers.get(authzen::IDEMPOTENCY_KEY_HEADER) {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(k) => Ok(Some(k.trim().to_owned())),
            Err(_) => Err(Refusal::new(
                GateProblem::BadRequest,
                "the Idempotency-Key header is not printable ASCII",
            )),
        },
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body)
        .map_err(|e| Refusal::new(GateProblem::BadRequest, format!("not an AuthZEN request: {e}")))
}

/// Admit the call and read its body and idempotency key.
fn read<T: serde::de::DeserializeOwned>(
    s: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(T, Option<String>), Refusal> {
    admit(s, headers)?;
    Ok((parse(body)?, idempotency_key(headers)?))
}

/// Run one evaluation on the blocking pool (it waits on the ledger and
/// maybe on a human).
async fn run(pdp: Arc<Pdp>, req: EvaluationRequest, key: Option<String>) -> Result<Decision, EvalError> {
    tokio::task::spawn_blocking(move || pdp.evaluate(req, key))
        .await
        .unwrap_or_else(|e| Err(EvalError::Gate(format!("the evaluation stopped: {e}"))))
}

fn eval_problem(e: &EvalError) -> Response {
    match e {
        EvalError::Unrecordable(_) => problem(GateProblem::UnrecordableRequest, e.to_string()),
        EvalError::Gate(_) => problem(GateProblem::GateFailure, e.to_string()),
    }
}

/// The body, or the problem of a body that could not be read.
fn body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, Refusal> {
    b.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Refusal::new(
                GateProblem::BodyTooLarge,
                format!("the body is over {MAX_REQUEST_BYTES} bytes"),
            )
        } else {
            Refusal::new(GateProblem::BadRequest, format!("the body could not be read: {e}"))
        }
    })
}

async fn evaluation(State(s): State<AppState>, headers: HeaderMap, b: Result<Bytes, BytesRejection>) -> Response {
    let (req, key) = match body(b).and_then(|b| read::<EvaluationRequest>(&s, &headers, &b)) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    match run(s.pdp.clone(), req, key).await {
        Ok(d) => (StatusCode::OK, axum::Json(d)).into_response(),
        Err(e) => eval_problem(&e),
    }
}

async fn evaluations(State(s): State<AppState>, headers: HeaderMap, b: Result<Bytes, BytesRejection>) -> Response {
    let (req, key) = match body(b).and_then(|b| read::<EvaluationsRequest>(&s, &headers, &b)) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let EvaluationsRequest {
        defaults,
        evaluations,
        options,
    } = req;
    // Without `evaluations`, an Access Evaluation request.
    let Some(items) = evaluations else {
        return match defaults.with_defaults(&PartialEvaluation::default()) {
            Ok(one) => match run(s.pdp.clone(), one, key).await {
                Ok(d) => axum::Json(d).into_response(),
                Err(e) => eval_problem(&e),
            },
            Err(missing) => problem(
                GateProblem::BadRequest,
                format!("without `evaluations`, the request needs a `{missing}`"),
            ),
        };
    };
    if items.len() > MAX_EVALUATIONS {
        return problem(
            GateProblem::BadRequest,
            format!("{} evaluations; at most {MAX_EVALUATIONS} in one request", items.len()),
        );
    }
    let semantic = options.map(|o| o.evaluations_semantic).unwrap_or_default();
    // Each evaluation's idempotency key is the request's and its position.
    let keyed: Vec<_> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| (item.with_defaults(&defaults), key.as_ref().map(|k| format!("{k}.{i}"))))
        .collect();
    let decide = |item: Result<EvaluationRequest, &'static str>, key| {
        let pdp = s.pdp.clone();
        async move {
            match item {
                Ok(req) => run(pdp, req, key).await.unwrap_or_else(|e| e.as_decision()),
                Err(missing) => EvalError::Unrecordable(format!(
                    "the evaluation has no `{missing}`, and the request gives no default"
                ))
                .as_decision(),
            }
        }
    };
    let mut out = Vec::with_capacity(keyed.len());
    match semantic {
        Semantic::ExecuteAll => {
            let tasks: Vec<_> = keyed
                .into_iter()
                .map(|(item, key)| tokio::spawn(decide(item, key)))
                .collect();
            for t in tasks {
                out.push(
                    t.await
                        .unwrap_or_else(|e| EvalError::Gate(format!("the evaluation stopped: {e}")).as_decision()),
                );
            }
        }
        Semantic::DenyOnFirstDeny | Semantic::PermitOnFirstPermit => {
            let stop_on = semantic == Semantic::PermitOnFirstPermit;
            for (item, key) in keyed {
                let d = decide(item, key).await;
                let stop = d.decision == stop_on;
                out.push(d);
                if stop {
                    break;
                }
            }
        }
    }
    axum::Json(EvaluationsResponse { evaluations: out }).into_response()
}
