//! The gate's problem types (RFC 9457 problem details), listed in
//! docs/spec.md section 21. Types that mean what a ledger problem means
//! share its slug.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_api::wire::{PROBLEM_BASE, Problem};

/// A problem the gate answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GateProblem {
    /// The body is not an AuthZEN request, or a header is malformed (400).
    BadRequest,
    /// The request is AuthZEN-valid but breaks a rule of the receipt it
    /// must be recorded in (400).
    UnrecordableRequest,
    /// No caller credential, or one the gate does not know (401).
    Unauthenticated,
    /// No such route (404).
    NotFound,
    /// The route does not take the method (405).
    MethodNotAllowed,
    /// The body is over the limit (413).
    BodyTooLarge,
    /// The body is not `application/json` (415).
    UnsupportedMediaType,
    /// The gate could not decide or keep a receipt: its clock, its
    /// randomness, its spool (500). The action is not allowed.
    GateFailure,
}

impl GateProblem {
    /// Every type, in the order of the spec's list.
    pub const ALL: &'static [GateProblem] = &[
        GateProblem::BadRequest,
        GateProblem::UnrecordableRequest,
        GateProblem::Unauthenticated,
        GateProblem::NotFound,
        GateProblem::MethodNotAllowed,
        GateProblem::BodyTooLarge,
        GateProblem::UnsupportedMediaType,
        GateProblem::GateFailure,
    ];

    /// The slug, the status and the title.
    pub fn parts(self) -> (&'static str, u16, &'static str) {
        match self {
            GateProblem::BadRequest => (
                "bad-request",
                400,
                "The request is not an AuthZEN request the gate can read",
            ),
            GateProblem::UnrecordableRequest => (
                "unrecordable-request",
                400,
                "The request cannot be recorded in a decision receipt",
            ),
            GateProblem::Unauthenticated => (
                "unauthenticated",
                401,
                "The call needs a caller credential the gate knows",
            ),
            GateProblem::NotFound => ("not-found", 404, "No such resource"),
            GateProblem::MethodNotAllowed => ("method-not-allowed", 405, "The route does not take this method"),
            GateProblem::BodyTooLarge => ("body-too-large", 413, "The request body is over the limit"),
            GateProblem::UnsupportedMediaType => (
                "unsupported-media-type",
                415,
                "The content type is not the one the route takes",
            ),
            GateProblem::GateFailure => ("gate-failure", 500, "The gate could not decide or keep the receipt"),
        }
    }
}

/// The problem details answer.
pub fn problem(t: GateProblem, detail: impl Into<String>) -> Response {
    let (slug, status, title) = t.parts();
    let body = Problem {
        kind: format!("{PROBLEM_BASE}{slug}"),
        title: title.to_owned(),
        status,
        detail: detail.into(),
    };
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

/// A request refused before it was evaluated: small enough to pass
/// around as an `Err`, a problem details answer when it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The problem type.
    pub kind: GateProblem,
    /// What exactly was wrong.
    pub detail: String,
}

impl Refusal {
    /// A refusal of type `kind`.
    pub fn new(kind: GateProblem, detail: impl Into<String>) -> Self {
        Refusal {
            kind,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut r = problem(self.kind, self.detail);
        if self.kind == GateProblem::Unauthenticated {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}
