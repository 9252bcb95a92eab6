//! Policy bundles and the deterministic decision function.
//!
//! [`Policy::compile`] turns a [`Bundle`] into an evaluator for its engine
//! (`cairn-rules/1`, [`rules`]; or Cedar, [`cedar`]); [`Policy::decide`] is
//! a pure function of the bundle and the [`DecisionInput`]: the same inputs
//! give the same [`PolicyDecision`] on every machine, forever. It reads no
//! clock: time comes from `nd_inputs.clock`. [`replay`] re-runs a recorded
//! receipt's decision and compares. docs/spec.md §9.3 and §15–17 are normative.

pub mod bundle;
pub mod cedar;
pub mod check;
pub mod engine;
pub mod glob;
pub mod names;
mod reasons;
pub mod registry;
pub mod rules;
pub mod rules_engine;
mod rules_eval;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use bundle::{Bundle, BundleError, EngineRef, MAX_BUNDLE_BYTES, Manifest};
pub use engine::{Compiled, Engine};
pub use names::{PolicyMismatch, check_policy_ref, policy_ref};

use crate::receipt::{Approval, Decision, LineageLink, NdInputs, Reason, ReceiptParts, Request};

/// A bundle could not be turned into an evaluator. The bundle author's
/// fault; the message names the file and, where there is one, the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The bundle's engine is not one this crate implements, at that exact version.
    #[error("engine {name} {version} is not supported ({})", registry::supported())]
    UnsupportedEngine {
        /// Engine name.
        name: String,
        /// Engine version.
        version: String,
    },
    /// A file the engine needs is missing, or ambiguous.
    #[error("bundle file: {0}")]
    MissingFile(String),
    /// A rule or policy file does not parse or compile.
    #[error("{file}{}: {problem}", if rule.is_empty() { String::new() } else { format!(" rule {rule}") })]
    Rule {
        /// The file.
        file: String,
        /// The rule id (empty when the problem is the file's).
        rule: String,
        /// What is wrong.
        problem: String,
    },
}

/// What a decision reads: the AuthZEN request, the human approval (if any),
/// the token lineage and the non-deterministic inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// The AuthZEN evaluation request.
    pub request: Request,
    /// Human approval, if one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// Token delegation chain, root first.
    #[serde(default)]
    pub lineage: Vec<LineageLink>,
    /// The clock and other values read.
    pub nd_inputs: NdInputs,
}

impl DecisionInput {
    /// The inputs a receipt recorded.
    pub fn from_receipt(r: &ReceiptParts) -> Self {
        DecisionInput {
            request: r.request.clone(),
            approval: r.approval.clone(),
            lineage: r.lineage.clone(),
            nd_inputs: r.nd_inputs.clone(),
        }
    }

    /// The document conditions' JSON pointers read: `{request, context,
    /// approval?, lineage, nd_inputs}` in the receipt's JSON view.
    pub fn document(&self) -> serde_json::Value {
        let mut doc = serde_json::Map::new();
        let to = |v: serde_json::Result<serde_json::Value>| v.unwrap_or(serde_json::Value::Null);
        doc.insert("request".into(), to(serde_json::to_value(&self.request)));
        doc.insert(
            "context".into(),
            serde_json::Value::Object(self.request.context.clone().unwrap_or_default()),
        );
        if let Some(a) = &self.approval {
            doc.insert("approval".into(), to(serde_json::to_value(a)));
        }
        doc.insert("lineage".into(), to(serde_json::to_value(&self.lineage)));
        doc.insert("nd_inputs".into(), to(serde_json::to_value(&self.nd_inputs)));
        serde_json::Value::Object(doc)
    }
}

/// A decision: what the gate records in its receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDecision {
    /// PERMIT, DENY or SILENCE.
    pub decision: Decision,
    /// The rules that determined it, priority descending then id.
    pub determining_rules: Vec<String>,
    /// Evaluation errors (a SILENCE's cause).
    pub errors: Vec<String>,
    /// Why, for the user and the administrator.
    pub reason: Reason,
}

/// A compiled bundle, and the engine that compiled it.
#[derive(Debug)]
pub struct Policy {
    engine: &'static dyn Engine,
    compiled: Box<dyn Compiled>,
}

impl Policy {
    /// Compile a bundle for its engine. The engine name and version must be
    /// exactly ones [`registry::ENGINES`] lists.
    pub fn compile(bundle: &Bundle) -> Result<Self, PolicyError> {
        let e = &bundle.manifest().engine;
        let engine = registry::engine(&e.name, &e.version).ok_or_else(|| PolicyError::UnsupportedEngine {
            name: e.name.clone(),
            version: e.version.clone(),
        })?;
        Ok(Policy {
            engine,
            compiled: engine.compile(bundle)?,
        })
    }

    /// A policy from an engine's compiled form (tests, tools).
    pub fn from_compiled(engine: &'static dyn Engine, compiled: Box<dyn Compiled>) -> Self {
        Policy { engine, compiled }
    }

    /// The engine that compiled it.
    pub fn engine(&self) -> &'static dyn Engine {
        self.engine
    }

    /// Decide. Total: evaluation errors give SILENCE, never a panic.
    pub fn decide(&self, input: &DecisionInput) -> PolicyDecision {
        self.compiled.decide(input)
    }

    /// Static findings for policy authors.
    pub fn check(&self) -> Vec<check::Finding> {
        self.compiled.check()
    }

    /// What `policy check` adds about checks made elsewhere.
    pub fn check_note(&self) -> Option<&'static str> {
        self.compiled.check_note()
    }
}

/// Compile and decide in one step. A bundle that does not compile gives
/// SILENCE (fail closed) with the compile error in `errors`.
pub fn decide(bundle: &Bundle, input: &DecisionInput) -> PolicyDecision {
    match Policy::compile(bundle) {
        Ok(p) => p.decide(input),
        Err(e) => reasons::silence(vec![format!("policy bundle: {e}")]),
    }
}

/// The reason code of a SILENCE a gate records when the ledger did not
/// acknowledge its receipt in time: the gate failed closed; no policy
/// decided it.
pub const LEDGER_UNAVAILABLE: &str = "ledger_unavailable";

/// What a receipt records (docs/spec.md section 15): a policy's decision,
/// which replay compares, or something replay must not compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recorded {
    /// The decision of the bundle the receipt names.
    PolicyDecision,
    /// A break-glass override: an operator's PERMIT over the policy.
    Override,
    /// A gate's fail-closed SILENCE (reason [`LEDGER_UNAVAILABLE`]).
    FailClosed,
}

/// What `receipt` records.
pub fn recorded(receipt: &ReceiptParts) -> Recorded {
    if receipt.break_glass.is_some() {
        Recorded::Override
    } else if receipt.decision == Decision::Silence && receipt.reason.code == LEDGER_UNAVAILABLE {
        Recorded::FailClosed
    } else {
        Recorded::PolicyDecision
    }
}

/// A recorded decision re-run on a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// The decision and determining rules are the recorded ones.
    pub matches: bool,
    /// Recorded decision.
    pub recorded: Decision,
    /// Recorded determining rules.
    pub recorded_rules: Vec<String>,
    /// The decision the policy makes now.
    pub replayed: PolicyDecision,
}

/// Re-run a receipt's decision on `policy` and compare decision and
/// determining rules (reasons and messages are not compared).
pub fn replay(policy: &Policy, receipt: &ReceiptParts) -> Replay {
    let replayed = policy.decide(&DecisionInput::from_receipt(receipt));
    Replay {
        matches: replayed.decision == receipt.decision && replayed.determining_rules == receipt.determining_rules,
        recorded: receipt.decision,
        recorded_rules: receipt.determining_rules.clone(),
        replayed,
    }
}
