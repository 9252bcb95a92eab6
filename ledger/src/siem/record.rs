//! A logged receipt and where it is in the log: what every SIEM record is
//! made from.

use cairn_api::merkle::Hash;
use cairn_api::receipt::{ApprovalOutcome, Mode, ReceiptParts};
use cairn_api::timestamp::Timestamp;

/// One logged receipt.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    /// Its index in the log: the deduplication key (delivery is at least
    /// once).
    pub index: u64,
    /// Its RFC 6962 leaf hash (SHA-256 of `0x00` and the entry's bytes).
    pub leaf_hash: Hash,
    /// The size of the signed checkpoint the follower verified it against:
    /// `GET /v1/proofs/inclusion?index=<index>&size=<checkpoint_size>` is
    /// its proof.
    pub checkpoint_size: u64,
    /// When the ledger integrated it.
    pub integrated_at: Timestamp,
    /// The receipt, as the gate signed it.
    pub receipt: ReceiptParts,
}

/// Milliseconds to nanoseconds since the epoch (OTLP's unit). Saturates in
/// the year 2554, far beyond any timestamp cairn accepts.
pub fn nanos(t: Timestamp) -> u64 {
    t.millis().saturating_mul(1_000_000)
}

/// `ENFORCE` or `SHADOW`, as the receipt spells it.
pub fn mode(m: Mode) -> &'static str {
    match m {
        Mode::Enforce => "ENFORCE",
        Mode::Shadow => "SHADOW",
    }
}

/// `APPROVED`, `DENIED` or `TIMED_OUT`, as the receipt spells it.
pub fn outcome(o: ApprovalOutcome) -> &'static str {
    match o {
        ApprovalOutcome::Approved => "APPROVED",
        ApprovalOutcome::Denied => "DENIED",
        ApprovalOutcome::TimedOut => "TIMED_OUT",
    }
}
