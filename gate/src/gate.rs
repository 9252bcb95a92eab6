//! The gate: decide, ask for approval when the policy wants it, sign the
//! receipt, log it durably, and only then let the action through.
//!
//! [`Gate::authorize`] returns an [`Authorization`] whose `allowed` is true
//! only when the decision is PERMIT **and** the ledger acknowledged the
//! receipt with a proof that verifies (shadow mode aside, which records but
//! never blocks). A ledger that does not answer in time, answers with an
//! error, or answers with a proof that does not hold gives SILENCE: the
//! action is refused, and a SILENCE receipt naming the cause is spooled to
//! disk and delivered when the ledger is back.

use std::sync::Arc;
use std::time::Duration;

use cairn_host::clock::ClockError;
use cairn_host::id::IdError;

use cairn_api::keys::SignerKey;
use cairn_api::merkle::{MerkleHasher, Sha256};
use cairn_api::policy::{Bundle, DecisionInput, Policy, PolicyDecision};
use cairn_api::receipt::{
    Approval, BreakGlass, Decision, Initiator, LineageLink, Mode, NdInputs, Presented, Reason, Receipt, ReceiptError,
    Request,
};
use cairn_api::timestamp::Timestamp;

use crate::approval::{ApprovalRequest, Approver};
use crate::client::{Acknowledged, Ledger, LedgerError};
use crate::record::{Stamp, sign_decision};
use crate::spool::{Spool, SpoolError};

/// The reason code a policy gives when it permits only with an approval.
pub const APPROVAL_REQUIRED: &str = "approval_required";

/// How a gate behaves.
#[derive(Debug, Clone)]
pub struct GateConfig {
    /// Enforce (block on anything but a logged PERMIT) or shadow (record, never block).
    pub mode: Mode,
    /// The longest the gate waits for the ledger's acknowledgement.
    pub submit_deadline: Duration,
    /// The longest the gate waits for a human approval.
    pub approval_deadline: Duration,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            mode: Mode::Enforce,
            submit_deadline: Duration::from_secs(2),
            approval_deadline: Duration::from_secs(60),
        }
    }
}

/// The gate could not make or keep a receipt. The action is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// The call does not make a valid receipt (the caller's fault: a field
    /// out of range, such as an idempotency key with spaces).
    #[error("receipt: {0}")]
    Receipt(#[from] ReceiptError),
    /// The gate host's clock is unreadable or out of range.
    #[error("clock: {0}")]
    Clock(#[from] ClockError),
    /// The gate host has no randomness for a receipt id.
    #[error("{0}")]
    Id(#[from] IdError),
    /// The SILENCE receipt could not be spooled (the gate host's disk).
    #[error("spool: {0}")]
    Spool(#[from] SpoolError),
}

/// One tool call to authorize.
#[derive(Debug, Clone)]
pub struct ToolCall {
    /// The AuthZEN request (subject, action with its arguments, resource, context).
    pub request: Request,
    /// The token delegation chain, root first.
    pub lineage: Vec<LineageLink>,
    /// Who started the chain, if known.
    pub initiator: Option<Initiator>,
    /// The idempotency key: the same for every retry of the same call.
    pub idempotency_key: String,
}

/// A break-glass override: an operator's counter-signature on one call.
#[derive(Debug)]
pub struct Override<'a> {
    /// The operator's key (registered in the log with the operator role).
    pub operator: &'a SignerKey,
    /// Why.
    pub justification: String,
    /// How long the override holds.
    pub ttl: Duration,
}

/// What became of the receipt.
#[derive(Debug, Clone)]
pub enum Logged {
    /// Durably in the log, proven.
    Durable(Acknowledged),
    /// The ledger did not acknowledge it: a SILENCE receipt was spooled.
    Spooled {
        /// The SILENCE receipt that will be delivered.
        silence: Box<Receipt>,
        /// Its file in the spool.
        spooled_to: std::path::PathBuf,
        /// Why the original was not acknowledged.
        cause: LedgerError,
    },
    /// The ledger refused it for good (unknown key, policy not archived...).
    Refused(LedgerError),
}

/// The gate's answer for one call.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// Whether the action may go ahead.
    pub allowed: bool,
    /// The policy's decision (before the ledger had its say).
    pub decided: Decision,
    /// Why, for the agent and for the administrator.
    pub reason: Reason,
    /// The receipt the gate signed for the decision (for a retry answered
    /// with the first receipt, that one).
    pub receipt: Box<Receipt>,
    /// Its COSE_Sign1 bytes, as logged.
    pub body: Vec<u8>,
    /// What the ledger did with it.
    pub logged: Logged,
}

/// A gate: its key, one policy bundle, a ledger, a spool, an approver.
pub struct Gate {
    key: SignerKey,
    bundle: Bundle,
    policy: Policy,
    ledger: Arc<dyn Ledger>,
    spool: Spool,
    approver: Option<Arc<dyn Approver>>,
    config: GateConfig,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("key", &self.key.verifier().key_ref())
            .field("bundle", &self.bundle.hash())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn now() -> Result<Timestamp, GateError> {
    Ok(cairn_host::clock::now()?)
}

fn later(t: Timestamp, d: Duration) -> Result<Timestamp, GateError> {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Timestamp::from_millis(t.millis().saturating_add(ms))
        .map_err(|e| GateError::Clock(ClockError::OutOfRange(e.to_string())))
}

/// A fresh UUIDv7 for a receipt or an approval request.
pub fn new_id(t: Timestamp) -> Result<String, GateError> {
    Ok(cairn_host::id::uuid_v7(t)?)
}

impl Gate {
    /// A gate signing with `key`, deciding with `bundle` (which must be
    /// archived in the ledger), logging to `ledger`, spooling to `spool`.
    pub fn new(
        key: SignerKey,
        bundle: Bundle,
        ledger: Arc<dyn Ledger>,
        spool: Spool,
        approver: Option<Arc<dyn Approver>>,
        config: GateConfig,
    ) -> Result<Self, cairn_api::policy::PolicyError> {
        let policy = Policy::compile(&bundle)?;
        Ok(Gate {
            key,
            bundle,
            policy,
            ledger,
            spool,
            approver,
            config,
        })
    }

    /// Change how long approvals may take.
    pub fn set_approval_deadline(&mut self, d: Duration) {
        self.config.approval_deadline = d;
    }

    /// The spool (to deliver what waits in it).
    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Deliver spooled receipts now.
    pub fn deliver_spool(&self) -> Result<crate::spool::Delivered, SpoolError> {
        self.spool.deliver(self.ledger.as_ref(), self.config.submit_deadline)
    }

    /// Decide, approve, sign, log: see the module documentation.
    pub fn authorize(&self, call: &ToolCall) -> Result<Authorization, GateError> {
        self.run(call, None)
    }

    /// The same, with an operator's break-glass override: the receipt is a
    /// PERMIT carrying the operator's counter-signature, whatever the policy
    /// says (the policy's own decision is in its reason), and is logged
    /// like any other.
    pub fn break_glass(&self, call: &ToolCall, o: &Override<'_>) -> Result<Authorization, GateError> {
        self.run(call, Some(o))
    }

    fn run(&self, call: &ToolCall, o: Option<&Override<'_>>) -> Result<Authorization, GateError> {
        // A request no receipt can record is refused before the policy runs
        // or anyone is asked to approve it.
        cairn_api::receipt::check_request(&call.request).map_err(GateError::Receipt)?;
        let t = now()?;
        let mut input = DecisionInput {
            request: call.request.clone(),
            approval: None,
            lineage: call.lineage.clone(),
            nd_inputs: NdInputs {
                clock: t,
                other: serde_json::Map::new(),
            },
        };
        let mut d = self.policy.decide(&input);
        if d.reason.code == APPROVAL_REQUIRED
            && o.is_none()
            && let Some(approver) = &self.approver
        {
            input.approval = Some(self.ask(approver.as_ref(), &call.request, t)?);
            // The clock the final decision read.
            input.nd_inputs.clock = now()?;
            d = self.policy.decide(&input);
        }
        let receipt_id = new_id(input.nd_inputs.clock)?;
        let mut stamp = Stamp::new(
            receipt_id.clone(),
            call.idempotency_key.clone(),
            self.config.mode,
            &self.key,
        );
        stamp.initiator = call.initiator.clone();
        let decided = d.decision;
        let (receipt, body) = match o {
            None => sign_decision(&self.bundle, &input, d, stamp)?,
            Some(o) => self.sign_override(&input, d, stamp, o)?,
        };
        let decided = if o.is_some() { Decision::Permit } else { decided };
        let shadow = self.config.mode == Mode::Shadow;
        let (mut receipt, mut decided, mut logged_body) = (receipt, decided, body.clone());
        let logged = match self.ledger.submit(&body, self.config.submit_deadline) {
            Ok(ack) => {
                // A retry answered with the first receipt for this
                // idempotency key: that decision is the one on record.
                if let Some(original) = &ack.original {
                    let first = cairn_api::receipt::SignedReceipt::parse(original)?;
                    receipt = first.unverified().clone();
                    decided = receipt.parts().decision;
                    logged_body = original.clone();
                }
                Logged::Durable(ack)
            }
            Err(e @ LedgerError::Refused { .. }) => Logged::Refused(e),
            Err(cause) => {
                let (silence, spooled_to) = self.silence(call, &input, &receipt_id, &cause)?;
                Logged::Spooled {
                    silence: Box::new(silence),
                    spooled_to,
                    cause,
                }
            }
        };
        let durable_permit = decided == Decision::Permit && matches!(logged, Logged::Durable(_));
        // What the agent is told is what the receipt on record says.
        let reason = receipt.parts().reason.clone();
        match &logged {
            Logged::Durable(ack) => tracing::info!(
                receipt_id = %receipt.parts().receipt_id,
                decision = %decided,
                allowed = shadow || durable_permit,
                index = ack.index,
                existing = ack.existing,
                "decision logged"
            ),
            Logged::Spooled { cause, .. } => tracing::warn!(
                receipt_id = %receipt_id,
                decision = %decided,
                cause = %cause,
                "not acknowledged: failed closed, SILENCE spooled"
            ),
            Logged::Refused(e) => tracing::warn!(
                receipt_id = %receipt_id,
                decision = %decided,
                error = %e,
                "the ledger refused the receipt"
            ),
        }
        Ok(Authorization {
            allowed: shadow || durable_permit,
            decided,
            reason,
            receipt: Box::new(receipt),
            body: logged_body,
            logged,
        })
    }

    fn ask(&self, approver: &dyn Approver, request: &Request, t: Timestamp) -> Result<Approval, GateError> {
        let arguments = request
            .action
            .properties
            .clone()
            .map(serde_json::Value::Object)
            .unwrap_or_default();
        let binding_message = format!(
            "Approve {} by {} on {}:{}?",
            request.action.name, request.subject.id, request.resource.kind, request.resource.id
        );
        let args_bytes = serde_json::to_vec(&arguments).unwrap_or_default();
        let shown = format!("{binding_message}\n{arguments}");
        let req = ApprovalRequest {
            request_id: new_id(t)?,
            binding_message: binding_message.clone(),
            arguments,
            requested_at: t,
            expires_at: later(t, self.config.approval_deadline)?,
        };
        let answer = approver.ask(&req, self.config.approval_deadline);
        let responded = now()?;
        Ok(Approval {
            required: true,
            channel: approver.channel().to_owned(),
            request_id: req.request_id,
            approver: answer.approver,
            presented: Some(Presented {
                binding_message,
                shown_digest: Sha256::digest(&[shown.as_bytes()]),
                arguments_digest: Sha256::digest(&[&args_bytes]),
            }),
            outcome: Some(answer.outcome),
            requested_at: t,
            responded_at: matches!(
                answer.outcome,
                cairn_api::receipt::ApprovalOutcome::Approved | cairn_api::receipt::ApprovalOutcome::Denied
            )
            .then_some(responded),
            expires_at: req.expires_at,
        })
    }

    fn sign_override(
        &self,
        input: &DecisionInput,
        policy_said: PolicyDecision,
        stamp: Stamp<'_>,
        o: &Override<'_>,
    ) -> Result<(Receipt, Vec<u8>), GateError> {
        let bg = BreakGlass::sign(
            o.operator,
            &o.justification,
            later(input.nd_inputs.clock, o.ttl)?,
            &stamp.receipt_id,
            self.key.name(),
            &input.request,
        );
        let d = PolicyDecision {
            decision: Decision::Permit,
            determining_rules: Vec::new(),
            errors: Vec::new(),
            reason: Reason {
                code: "break_glass".into(),
                user_message: format!("Allowed by a break-glass override: {}", o.justification),
                admin_message: format!(
                    "break-glass by {} ({}); the policy said {} ({})",
                    bg.operator,
                    o.justification,
                    policy_said.decision.as_str(),
                    policy_said.reason.code
                ),
            },
        };
        let mut stamp = stamp;
        stamp.break_glass = Some(bg);
        Ok(sign_decision(&self.bundle, input, d, stamp)?)
    }

    /// The SILENCE receipt for a call whose receipt the ledger did not
    /// acknowledge, spooled for later delivery.
    fn silence(
        &self,
        call: &ToolCall,
        input: &DecisionInput,
        original: &str,
        cause: &LedgerError,
    ) -> Result<(Receipt, std::path::PathBuf), GateError> {
        let t = now()?;
        let mut input = input.clone();
        input.nd_inputs.clock = t;
        let d = PolicyDecision {
            decision: Decision::Silence,
            determining_rules: Vec::new(),
            errors: vec![format!("receipt {original} not acknowledged: {cause}")],
            reason: Reason {
                code: cairn_api::policy::LEDGER_UNAVAILABLE.into(),
                user_message: "Action blocked: the audit ledger did not confirm the decision in time".into(),
                admin_message: format!("receipt {original} was not durably acknowledged: {cause}"),
            },
        };
        let id = new_id(t)?;
        let mut stamp = Stamp::new(
            id.clone(),
            silence_key(&call.idempotency_key),
            self.config.mode,
            &self.key,
        );
        stamp.initiator = call.initiator.clone();
        let (receipt, body) = sign_decision(&self.bundle, &input, d, stamp)?;
        let path = self.spool.put(&id, &body)?;
        Ok((receipt, path))
    }
}

/// The idempotency key of the SILENCE receipt for a call (at most 128
/// printable characters, like any idempotency key).
fn silence_key(key: &str) -> String {
    let suffix = ":silence";
    let keep = 128 - suffix.len();
    let head: String = key.chars().take(keep).collect();
    format!("{head}{suffix}")
}
