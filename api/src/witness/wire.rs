//! The JSON bodies of a cairn witness's monitoring routes (`GET /logs`,
//! `GET /forks`), shared by `cairn-witness` and the verifier that reads
//! them. The add-checkpoint exchange itself is C2SP text
//! ([`super::protocol`]).

use serde::{Deserialize, Serialize};

/// `GET /logs`: what the witness last cosigned, per log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessedLogs {
    /// One per log the witness has cosigned for.
    pub logs: Vec<WitnessedLog>,
}

/// The latest checkpoint a witness cosigned for one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessedLog {
    /// The log's origin.
    pub origin: String,
    /// The cosigned tree size.
    pub size: u64,
    /// The cosigned root hash, hex.
    pub root: String,
    /// The checkpoint note: the log's signature and the witness's
    /// cosignature, so that a reader can check both.
    pub checkpoint: String,
}

/// `GET /forks`: the evidence the witness kept of refused checkpoints that
/// carried a valid log signature but contradict what it cosigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForkEvidenceList {
    /// Oldest first.
    pub forks: Vec<ForkEvidence>,
}

/// Two checkpoints signed by one log key that cannot both be true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForkEvidence {
    /// The log's origin.
    pub origin: String,
    /// When the witness refused it (RFC 3339).
    pub detected_at: String,
    /// Why: `same size, different root` or `consistency proof does not verify`.
    pub reason: String,
    /// The checkpoint the witness had cosigned (with its cosignature).
    pub cosigned: String,
    /// The refused checkpoint, as submitted.
    pub refused: String,
    /// The consistency proof submitted with it (base64 hashes).
    pub proof: Vec<String>,
}
