//! The HTTP contract as types: every JSON body the ledger's API sends or
//! reads, shared by the server (which writes them) and its clients (the
//! gate and the verifier, which read them), so that a field cannot be
//! renamed on one side only. `schemas/openapi.yaml` describes the same
//! bodies; tests check that the two and the router agree.
//!
//! - [`ack`]: the acknowledgement of a submission, and batch results;
//! - [`problem`]: RFC 9457 problem details and the one list of problem types;
//! - [`log`]: checkpoints, proofs and key events;
//! - [`query`]: the incident-review query (the one list of receipt filters)
//!   and its pages.
//!
//! The export stream's header is CBOR and lives in [`crate::export`].
//!
//! Hashes are written as the spec says (docs/spec.md section 1): a leaf
//! hash as lowercase hex, proof hashes as standard base64.

pub mod ack;
pub mod log;
pub mod problem;
pub mod query;

pub use ack::{Ack, BatchResponse, BatchResult};
pub use log::{CheckpointItem, CheckpointList, ConsistencyProof, InclusionProof, KeyEventItem, KeyEventList};
pub use problem::{PROBLEM_BASE, Problem, ProblemType};
pub use query::{QueryError, QueryHit, QueryPage, ReceiptFilters, ReceiptQuery};

/// Serde for a list of proof hashes: lowercase hex strings, like every
/// digest in JSON (spec §1), at most [`crate::merkle::MAX_PROOF_HASHES`] of
/// them.
pub mod proof_hashes {
    use serde::de::Error as _;
    use serde::{Deserialize as _, Deserializer, Serializer};

    use crate::merkle::{Hash, MAX_PROOF_HASHES};

    /// Serialize.
    pub fn serialize<S: Serializer>(hashes: &[Hash], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(hashes.iter().map(Hash::to_hex))
    }

    /// Deserialize, refusing more than [`MAX_PROOF_HASHES`] and anything
    /// that is not 64 lowercase hex characters.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
        let list = Vec::<String>::deserialize(d)?;
        if list.len() > MAX_PROOF_HASHES {
            return Err(D::Error::custom(format!("more than {MAX_PROOF_HASHES} proof hashes")));
        }
        list.iter()
            .map(|h| Hash::from_hex(h).map_err(D::Error::custom))
            .collect()
    }
}
