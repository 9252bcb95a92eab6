//! The OpenID AuthZEN Authorization API 1.0, as HTTP bodies: what the
//! gate's clients send and what it answers (shared by the server, its
//! tests, the benchmark and the MCP proxy).
//!
//! Requests ignore members they do not know, at every level, as AuthZEN
//! requires of receivers; such members are not recorded in the receipt
//! (docs/spec.md, "The gate's AuthZEN API"). `properties` and `context`
//! are free-form and recorded as given, within the receipt's rules.

use std::collections::BTreeMap;

use cairn_api::receipt::{ReceiptError, Request, check_request};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /access/v1/evaluation`.
pub const EVALUATION_PATH: &str = "/access/v1/evaluation";
/// `POST /access/v1/evaluations`.
pub const EVALUATIONS_PATH: &str = "/access/v1/evaluations";
/// `GET /.well-known/authzen-configuration`.
pub const METADATA_PATH: &str = "/.well-known/authzen-configuration";
/// The request identifier header, echoed in every answer.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The idempotency key header: the same for every retry of one call, so
/// that a retry gets the first decision (docs/spec.md).
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Most evaluations in one `POST /access/v1/evaluations`.
pub const MAX_EVALUATIONS: usize = 64;
/// Largest request body, in bytes.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// A subject or a resource: `type`, `id`, optional `properties`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    /// Its type (for a resource: the gate's *surface*).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its identifier, scoped to the type.
    pub id: String,
    /// Attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
}

/// An action: `name`, optional `properties` (a tool call's arguments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// The action's name.
    pub name: String,
    /// Attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
}

/// An Access Evaluation request: the 4-tuple.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationRequest {
    /// Who.
    pub subject: Entity,
    /// Does what.
    pub action: Action,
    /// To what.
    pub resource: Entity,
    /// In what circumstances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
}

/// The receipt's request for an AuthZEN request read from JSON, as
/// `decide` and `policy eval` read their input's request: through the
/// same wire type `serve` reads ([`EvaluationRequest`]: members AuthZEN
/// lets a receiver ignore are dropped), and refused here, before any
/// policy runs, when no receipt could record it (`receipt::check_request`,
/// the check `Gate::run` makes for `serve` and `mcp`), so that all of them
/// accept and refuse the same requests (docs/spec.md, "The gate's AuthZEN
/// API").
pub fn recordable_request(v: Value) -> Result<Request, RequestError> {
    let r: EvaluationRequest = serde_json::from_value(v).map_err(|e| RequestError::NotAuthzen(e.to_string()))?;
    let r = crate::pdp::to_request(r);
    check_request(&r)?;
    Ok(r)
}

/// A request that is not one, or that no receipt can record. The caller's
/// fault, always.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Not an AuthZEN access evaluation request.
    #[error("not an AuthZEN access evaluation request: {0}")]
    NotAuthzen(String),
    /// Valid AuthZEN, outside the receipt's rules (a limit, text not in NFC).
    #[error("the request cannot be recorded: {0}")]
    Unrecordable(#[from] ReceiptError),
}

/// One item of an Access Evaluations request: any member missing is
/// taken from the request's top level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialEvaluation {
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Entity>,
    /// Does what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// To what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Entity>,
    /// In what circumstances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Map<String, Value>>,
}

impl PartialEvaluation {
    /// This item with the defaults filled in; `Err` names what neither
    /// gives.
    pub fn with_defaults(self, d: &PartialEvaluation) -> Result<EvaluationRequest, &'static str> {
        Ok(EvaluationRequest {
            subject: self.subject.or_else(|| d.subject.clone()).ok_or("subject")?,
            action: self.action.or_else(|| d.action.clone()).ok_or("action")?,
            resource: self.resource.or_else(|| d.resource.clone()).ok_or("resource")?,
            context: self.context.or_else(|| d.context.clone()),
        })
    }
}

/// How an Access Evaluations request is evaluated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Semantic {
    /// Every evaluation, each answered (the default).
    #[default]
    ExecuteAll,
    /// In order; stop after the first `false`.
    DenyOnFirstDeny,
    /// In order; stop after the first `true`.
    PermitOnFirstPermit,
}

/// `options` of an Access Evaluations request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// The evaluation semantic.
    #[serde(default)]
    pub evaluations_semantic: Semantic,
}

/// An Access Evaluations request: defaults, the evaluations, options.
/// Without `evaluations` it is an Access Evaluation request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvaluationsRequest {
    /// Defaults for every evaluation.
    #[serde(flatten)]
    pub defaults: PartialEvaluation,
    /// The evaluations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluations: Option<Vec<PartialEvaluation>>,
    /// How to evaluate them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
}

/// A reason in several languages (`{"en": "..."}`).
pub type ReasonField = BTreeMap<String, String>;

/// An error in one evaluation of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationError {
    /// The HTTP status the evaluation alone would have had.
    pub status: u16,
    /// What went wrong.
    pub message: String,
}

/// What cairn adds to a decision's context: where its evidence is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The receipt's id (for SILENCE: the SILENCE receipt's).
    pub receipt_id: String,
    /// PERMIT, DENY or SILENCE: the decision on record.
    pub decision: String,
    /// True when the ledger durably acknowledged the receipt with a proof
    /// the gate verified.
    pub durable: bool,
    /// The receipt's index in the log, when durable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    /// The receipt whose decision the ledger did not acknowledge, for a
    /// SILENCE that replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unacknowledged_receipt_id: Option<String>,
}

/// A decision's `context`: AuthZEN's reason object, an error (for one
/// evaluation of a batch), and cairn's evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionContext {
    /// The reason's code (a policy's reason code, `ledger_unavailable`...).
    pub id: String,
    /// For administrators, never shown to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_admin: Option<ReasonField>,
    /// For the user (the agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_user: Option<ReasonField>,
    /// Why this evaluation could not be decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<EvaluationError>,
    /// Where the decision's receipt is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cairn: Option<Evidence>,
}

/// An Access Evaluation response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// True only for a PERMIT durably logged (or any decision in shadow mode).
    pub decision: bool,
    /// Why, and where the evidence is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<DecisionContext>,
}

/// An Access Evaluations response: one decision per evaluation made, in
/// order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationsResponse {
    /// The decisions.
    pub evaluations: Vec<Decision>,
}

/// The Policy Decision Point metadata (`/.well-known/authzen-configuration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The PDP's identifier: its base URL.
    pub policy_decision_point: String,
    /// The Access Evaluation endpoint.
    pub access_evaluation_endpoint: String,
    /// The Access Evaluations endpoint.
    pub access_evaluations_endpoint: String,
}

impl Metadata {
    /// The metadata of a PDP at `base` (no trailing slash).
    pub fn for_base(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Metadata {
            policy_decision_point: base.to_owned(),
            access_evaluation_endpoint: format!("{base}{EVALUATION_PATH}"),
            access_evaluations_endpoint: format!("{base}{EVALUATIONS_PATH}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_members_are_ignored_at_every_level() {
        let r: EvaluationRequest = serde_json::from_value(json!({
            "subject": {"type": "agent", "id": "a", "extra": 1},
            "action": {"name": "read", "extra": [1]},
            "resource": {"type": "eks", "id": "x", "extra": {}},
            "context": {"k": "v"},
            "page": {"next_token": ""}
        }))
        .unwrap();
        assert_eq!(r.subject.id, "a");
        assert_eq!(r.context.unwrap()["k"], "v");
    }

    #[test]
    fn defaults_fill_what_an_evaluation_leaves_out() {
        let req: EvaluationsRequest = serde_json::from_value(json!({
            "subject": {"type": "user", "id": "alice"},
            "action": {"name": "read"},
            "options": {"evaluations_semantic": "deny_on_first_deny"},
            "evaluations": [
                {"resource": {"type": "doc", "id": "1"}},
                {"action": {"name": "edit"}, "resource": {"type": "doc", "id": "2"}},
                {"subject": {"type": "user", "id": "bob"}}
            ]
        }))
        .unwrap();
        assert_eq!(req.options.unwrap().evaluations_semantic, Semantic::DenyOnFirstDeny);
        let evs = req.evaluations.unwrap();
        let first = evs[0].clone().with_defaults(&req.defaults).unwrap();
        assert_eq!(
            (first.subject.id.as_str(), first.action.name.as_str()),
            ("alice", "read")
        );
        let second = evs[1].clone().with_defaults(&req.defaults).unwrap();
        assert_eq!(second.action.name, "edit");
        assert_eq!(evs[2].clone().with_defaults(&req.defaults), Err("resource"));
    }

    #[test]
    fn an_unknown_semantic_is_refused() {
        let r: Result<EvaluationsRequest, _> =
            serde_json::from_value(json!({"evaluations": [], "options": {"evaluations_semantic": "any"}}));
        assert!(r.is_err());
    }

    #[test]
    fn metadata_names_both_endpoints() {
        let m = Metadata::for_base("https://pdp.example/");
        assert_eq!(m.policy_decision_point, "https://pdp.example");
        assert_eq!(
            m.access_evaluations_endpoint,
            "https://pdp.example/access/v1/evaluations"
        );
    }
}
