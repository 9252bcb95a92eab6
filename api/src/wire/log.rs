//! Read-side bodies: checkpoints, proofs, key events.

use serde::{Deserialize, Serialize};

use crate::entry::KeyRole;
use crate::merkle::Hash;

/// One stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointItem {
    /// Its tree size.
    pub size: u64,
    /// The signed note text.
    pub note: String,
}

/// `GET /v1/checkpoints`: stored checkpoints in a size range, ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointList {
    /// The checkpoints.
    pub checkpoints: Vec<CheckpointItem>,
}

/// `GET /v1/proofs/inclusion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The entry's index.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The proof (hex hashes).
    #[serde(with = "super::proof_hashes")]
    pub proof: Vec<Hash>,
}

/// `GET /v1/proofs/consistency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older size.
    pub from: u64,
    /// The newer size.
    pub to: u64,
    /// The proof (hex hashes).
    #[serde(with = "super::proof_hashes")]
    pub proof: Vec<Hash>,
}

/// One key registration or revocation, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEventItem {
    /// The key entry's index.
    pub index: u64,
    /// The verifier key (C2SP vkey string).
    pub key: String,
    /// Its key reference `name+hexid`.
    pub key_ref: String,
    /// What it may sign.
    pub role: KeyRole,
    /// True for a registration, false for a revocation.
    pub registered: bool,
}

/// `GET /v1/keys` (admin): every key event in log order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEventList {
    /// The events.
    pub key_events: Vec<KeyEventItem>,
}
