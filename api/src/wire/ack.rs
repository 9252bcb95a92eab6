//! The acknowledgement of a submission (`POST /v1/receipts`, `/v1/keys`,
//! `/v1/policies`), and the answer to a batch (`POST /v1/receipts/batch`).

use serde::{Deserialize, Serialize};

use super::Problem;
use crate::merkle::Hash;

/// A durable acknowledgement: the entry's index, its inclusion proof under
/// a checkpoint the log key signed, and the same as one C2SP tlog-proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The entry's index.
    pub index: u64,
    /// Its leaf hash (hex).
    pub leaf_hash: Hash,
    /// The tree size of the checkpoint.
    pub size: u64,
    /// The signed checkpoint (C2SP note text).
    pub checkpoint: String,
    /// The inclusion proof at `size` (hex hashes).
    #[serde(with = "super::proof_hashes")]
    pub inclusion_proof: Vec<Hash>,
    /// The C2SP tlog-proof text (index, proof, checkpoint).
    pub tlog_proof: String,
    /// True when this answers a resubmission (the entry was already logged).
    pub existing: bool,
    /// Present when the receipt was logged late (docs/spec.md 20.1): its
    /// entry's `integrated_at` minus its `decided_at`, in milliseconds,
    /// when that is more than the ledger's clock skew. Both times are in
    /// the log, so every auditor sees the same delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_by_ms: Option<u64>,
}

/// One item of a batch answer: its HTTP status and either its
/// acknowledgement or its problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult {
    /// The status the item would have had as a single POST.
    pub status: u16,
    /// The acknowledgement (2xx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<Ack>,
    /// The problem (4xx, 5xx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// The answer to a batch, in the order of the items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    /// One result per item.
    pub results: Vec<BatchResult>,
}
