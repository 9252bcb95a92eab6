//! The receipt's fields. Plain data: [`super::Receipt::new`] validates.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::merkle::Hash;
use crate::timestamp::Timestamp;

/// A free-form JSON object (AuthZEN `properties`, `context`, extra
/// non-deterministic inputs): text keys; values null, booleans, integers,
/// strings, arrays and objects. Bounded by the limits of [`super::validate`].
pub type Object = Map<String, Value>;

/// Every field of a receipt payload. Field names are the CBOR map keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptParts {
    /// Format version, [`super::RECEIPT_VERSION`].
    pub v: u64,
    /// UUIDv7, lowercase hyphenated.
    pub receipt_id: String,
    /// The gate's key name (its key signs the receipt).
    pub gate: String,
    /// When the decision was made.
    pub decided_at: Timestamp,
    /// Enforced or only recorded.
    pub mode: Mode,
    /// The decision.
    pub decision: Decision,
    /// The AuthZEN evaluation request.
    pub request: Request,
    /// Why, for the user and for the administrator.
    pub reason: Reason,
    /// Ids of the rules that determined the decision, in policy order.
    pub determining_rules: Vec<String>,
    /// Evaluation errors (a SILENCE names its cause here).
    pub errors: Vec<String>,
    /// The policy bundle the decision was made under.
    pub policy: PolicyRef,
    /// The gate's key for retries: one receipt per (gate, key).
    pub idempotency_key: String,
    /// Every value the decision read that is not in the request.
    pub nd_inputs: NdInputs,
    /// Who started the task, and a digest of what they asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<Initiator>,
    /// Human approval (CIBA vocabulary), when the policy required one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// Token delegation chain, root first, current actor last.
    pub lineage: Vec<LineageLink>,
    /// An operator's counter-signed override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlass>,
    /// W3C trace context ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
}

/// ENFORCE blocks on the decision; SHADOW records it and never blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mode {
    /// The decision is enforced.
    Enforce,
    /// The decision is recorded only.
    Shadow,
}

/// A gate's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// The action may proceed.
    Permit,
    /// The action is refused by policy.
    Deny,
    /// No decision could be reached (error, timeout): refused, fail closed.
    Silence,
}

impl Decision {
    /// `PERMIT`, `DENY` or `SILENCE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Permit => "PERMIT",
            Decision::Deny => "DENY",
            Decision::Silence => "SILENCE",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// OpenID AuthZEN 1.0 access evaluation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Who acts.
    pub subject: Subject,
    /// What they do.
    pub action: Action,
    /// On what: `type` is the *surface*, `id` the *target*.
    pub resource: Resource,
    /// Anything else about the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Object>,
}

/// AuthZEN subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// Kind of subject (`agent`, `user`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its identifier.
    pub id: String,
    /// Attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Object>,
}

/// AuthZEN action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// The action's name (`delete`, `tool:kubectl.apply`, ...).
    pub name: String,
    /// Attributes (the tool arguments, for example).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Object>,
}

/// AuthZEN resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// The surface (`eks`, `github`, `db`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The target (`production`, `org/repo`, ...).
    pub id: String,
    /// Attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Object>,
}

/// Why a decision was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Machine-readable code (`[A-Za-z0-9_.:-]+`).
    pub code: String,
    /// For the person or agent whose action it was.
    pub user_message: String,
    /// For the administrator.
    pub admin_message: String,
}

/// The policy bundle a decision was made under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    /// SHA-256 of the bundle's canonical encoding.
    pub bundle_hash: Hash,
    /// The bundle's id.
    pub bundle_id: String,
    /// The bundle's revision.
    pub revision: u64,
    /// The engine that evaluated it, pinned exactly.
    pub engine: Engine,
}

/// A policy engine and its exact version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Engine {
    /// `cairn-rules` or `cedar`.
    pub name: String,
    /// Exact version.
    pub version: String,
}

/// Non-deterministic inputs: the clock, and any other value read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NdInputs {
    /// The time the decision read.
    pub clock: Timestamp,
    /// Other inputs, by name.
    #[serde(flatten)]
    pub other: Object,
}

/// Who started the original task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Initiator {
    /// The principal (a person or service).
    pub principal: String,
    /// SHA-256 of what was asked.
    pub request_digest: Hash,
}

/// Human approval, CIBA vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Whether the policy required approval.
    pub required: bool,
    /// How the approver was asked (`terminal`, `webhook`, ...).
    pub channel: String,
    /// The approval request's id.
    pub request_id: String,
    /// Who answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<Approver>,
    /// What the approver was shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presented: Option<Presented>,
    /// The answer; absent while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ApprovalOutcome>,
    /// When approval was requested.
    pub requested_at: Timestamp,
    /// When the approver answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responded_at: Option<Timestamp>,
    /// When the request expires.
    pub expires_at: Timestamp,
}

/// The approver's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approver {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
}

/// What was put in front of the approver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Presented {
    /// The CIBA binding message.
    pub binding_message: String,
    /// SHA-256 of what the approver saw.
    pub shown_digest: Hash,
    /// SHA-256 of the exact tool arguments.
    pub arguments_digest: Hash,
}

/// The approver's answer. TIMED_OUT is a denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApprovalOutcome {
    /// Approved.
    Approved,
    /// Denied.
    Denied,
    /// No answer in time: a denial.
    TimedOut,
}

/// One token in the delegation chain (RFC 8693 `act` semantics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineageLink {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// What the subject is.
    pub sub_profile: SubProfile,
    /// OAuth client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<Timestamp>,
    /// Expires at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<Timestamp>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// SHA-256 of the token; raw tokens are never stored.
    pub token_hash: Hash,
}

/// What kind of principal a lineage link's subject is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubProfile {
    /// A person.
    Human,
    /// An AI agent.
    AiAgent,
    /// A non-AI workload.
    Workload,
}

/// An operator's override, counter-signed by a registered operator key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakGlass {
    /// The operator key's reference `name+hexid`.
    pub operator: String,
    /// Why.
    pub justification: String,
    /// Until when the override holds.
    pub expires_at: Timestamp,
    /// Ed25519 signature over [`super::break_glass_message`].
    pub signature: Signature64,
}

/// A 64-byte Ed25519 signature; lowercase hex in JSON.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature64(pub [u8; 64]);

impl fmt::Debug for Signature64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature64({})", hex::encode(self.0))
    }
}

impl Serialize for Signature64 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Signature64 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes = hex::decode(text.as_ref()).map_err(serde::de::Error::custom)?;
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom("signature must be lowercase hex"));
        }
        <[u8; 64]>::try_from(bytes.as_slice())
            .map(Signature64)
            .map_err(|_| serde::de::Error::custom("signature must be 64 bytes"))
    }
}

/// W3C trace context ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    /// 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// 16 lowercase hex digits, not all zero.
    pub span_id: String,
}
