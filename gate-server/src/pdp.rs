//! The decision point behind the AuthZEN routes: an AuthZEN request in, a
//! gate's authorization out, and the AuthZEN decision that reports it.
//!
//! One [`Gate`] per policy bundle, chosen by the request's surface (the
//! resource's `type`), with a default bundle for the surfaces not named.
//! All of them sign with the gate's key, submit through one batching
//! submitter and spool to one directory. A surface no bundle covers is
//! denied without a receipt: there is no policy to record.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_api::receipt::{Action, Decision as Recorded, LineageLink, Request, Resource, Subject};
use cairn_gate::gate::{Authorization, Gate, GateError, Logged, ToolCall, new_id};

use crate::authzen::{Decision, DecisionContext, EvaluationError, EvaluationRequest, Evidence, ReasonField};

/// The reason code of a surface that no bundle covers.
pub const NO_POLICY: &str = "no_policy_for_surface";
/// The reason code of a receipt the ledger refused for good.
pub const LEDGER_REFUSED: &str = "ledger_refused";

/// Why an evaluation has no decision.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The request cannot be recorded in a receipt (the caller's: a value
    /// outside the receipt's rules, an idempotency key with spaces).
    #[error("the request cannot be recorded: {0}")]
    Unrecordable(String),
    /// The gate could not decide or keep the receipt (its clock, its
    /// randomness, its spool's disk).
    #[error("the gate failed: {0}")]
    Gate(String),
}

impl EvalError {
    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        match self {
            EvalError::Unrecordable(_) => 400,
            EvalError::Gate(_) => 500,
        }
    }

    /// This error as one evaluation's decision in a batch: `false`, with
    /// the error in its context.
    pub fn as_decision(&self) -> Decision {
        Decision {
            decision: false,
            context: Some(DecisionContext {
                id: match self {
                    EvalError::Unrecordable(_) => "unrecordable_request".into(),
                    EvalError::Gate(_) => "gate_failure".into(),
                },
                error: Some(EvaluationError {
                    status: self.status(),
                    message: self.to_string(),
                }),
                ..DecisionContext::default()
            }),
        }
    }
}

impl From<GateError> for EvalError {
    fn from(e: GateError) -> Self {
        match e {
            GateError::Receipt(r) => EvalError::Unrecordable(r.to_string()),
            other => EvalError::Gate(other.to_string()),
        }
    }
}

/// The gates, by surface.
pub struct Pdp {
    by_surface: BTreeMap<String, Arc<Gate>>,
    default: Option<Arc<Gate>>,
}

impl std::fmt::Debug for Pdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pdp")
            .field("surfaces", &self.by_surface.keys().collect::<Vec<_>>())
            .field("default", &self.default.is_some())
            .finish()
    }
}

fn en(s: &str) -> Option<ReasonField> {
    (!s.is_empty()).then(|| BTreeMap::from([("en".to_owned(), s.to_owned())]))
}

impl Pdp {
    /// A decision point with `default` for every surface not in `by_surface`.
    pub fn new(default: Option<Arc<Gate>>, by_surface: BTreeMap<String, Arc<Gate>>) -> Self {
        Pdp { by_surface, default }
    }

    /// Every gate (to deliver their spools).
    pub fn gates(&self) -> impl Iterator<Item = &Arc<Gate>> {
        self.default.iter().chain(self.by_surface.values())
    }

    /// The gate for `surface`.
    pub fn gate_for(&self, surface: &str) -> Option<&Arc<Gate>> {
        self.by_surface.get(surface).or(self.default.as_ref())
    }

    /// Decide `req`, log the receipt, answer. `idempotency_key` is the
    /// caller's (the same for every retry of the call), else a fresh one.
    /// Blocks: on the ledger's acknowledgement and on a human approval.
    pub fn evaluate(&self, req: EvaluationRequest, idempotency_key: Option<String>) -> Result<Decision, EvalError> {
        self.evaluate_with_lineage(req, idempotency_key, Vec::new())
    }

    /// [`Pdp::evaluate`] with the token delegation chain the transport
    /// carried (verified by the caller), recorded as the receipt's
    /// `lineage`.
    pub fn evaluate_with_lineage(
        &self,
        req: EvaluationRequest,
        idempotency_key: Option<String>,
        lineage: Vec<LineageLink>,
    ) -> Result<Decision, EvalError> {
        let Some(gate) = self.gate_for(&req.resource.kind) else {
            let msg = format!("no policy bundle covers the surface {:?}", req.resource.kind);
            tracing::warn!(surface = %req.resource.kind, "denied: {msg}");
            return Ok(Decision {
                decision: false,
                context: Some(DecisionContext {
                    id: NO_POLICY.into(),
                    reason_user: en("Action blocked by policy: this gate has no policy for it"),
                    reason_admin: en(&msg),
                    ..DecisionContext::default()
                }),
            });
        };
        let idempotency_key = match idempotency_key {
            Some(k) => k,
            None => new_id(cairn_host::clock::now().map_err(|e| EvalError::Gate(e.to_string()))?)?,
        };
        let call = ToolCall {
            request: to_request(req),
            lineage,
            initiator: None,
            idempotency_key,
        };
        Ok(report(&gate.authorize(&call)?))
    }
}

/// The receipt's request: the AuthZEN request as given, without the
/// members AuthZEN lets a receiver ignore.
pub fn to_request(r: EvaluationRequest) -> Request {
    Request {
        subject: Subject {
            kind: r.subject.kind,
            id: r.subject.id,
            properties: r.subject.properties,
        },
        action: Action {
            name: r.action.name,
            properties: r.action.properties,
        },
        resource: Resource {
            kind: r.resource.kind,
            id: r.resource.id,
            properties: r.resource.properties,
        },
        context: r.context,
    }
}

/// The AuthZEN decision reporting a gate's authorization: `true` only
/// when the action may go ahead; the reason on record and where the
/// receipt is in `context`.
pub fn report(a: &Authorization) -> Decision {
    let receipt_id = a.receipt.parts().receipt_id.clone();
    let (reason, evidence) = match &a.logged {
        Logged::Durable(ack) => (
            a.reason.clone(),
            Evidence {
                receipt_id,
                decision: a.decided.as_str().into(),
                durable: true,
                log_index: Some(ack.index),
                unacknowledged_receipt_id: None,
            },
        ),
        Logged::Spooled { silence, .. } => (
            silence.parts().reason.clone(),
            Evidence {
                receipt_id: silence.parts().receipt_id.clone(),
                decision: Recorded::Silence.as_str().into(),
                durable: false,
                log_index: None,
                unacknowledged_receipt_id: Some(receipt_id),
            },
        ),
        Logged::Refused(e) => (
            cairn_api::receipt::Reason {
                code: LEDGER_REFUSED.into(),
                user_message: "Action blocked: the audit ledger refused to record the decision".into(),
                admin_message: format!("receipt {receipt_id}: {e}"),
            },
            Evidence {
                receipt_id,
                decision: a.decided.as_str().into(),
                durable: false,
                log_index: None,
                unacknowledged_receipt_id: None,
            },
        ),
    };
    Decision {
        decision: a.allowed,
        context: Some(DecisionContext {
            id: reason.code.clone(),
            reason_admin: en(&reason.admin_message),
            reason_user: en(&reason.user_message),
            error: None,
            cairn: Some(evidence),
        }),
    }
}
