//! Why a submission was refused or not acknowledged. Each variant says
//! whose fault it is; the HTTP layer maps every variant to its problem
//! type by an exhaustive match (`http/error.rs`).

use std::sync::Arc;
use std::time::Duration;

use cairn_api::cose::CoseError;
use cairn_api::entry::{EntryError, EntryKind, KeyRole};
use cairn_api::merkle::Hash;
use cairn_api::note::NoteError;
use cairn_api::policy::{BundleError, PolicyError};
use cairn_api::receipt::ReceiptError;
use cairn_api::timestamp::Timestamp;

use crate::store::{RecordError, StoreError};

/// A submission was refused or could not be made durable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The receipt is malformed, non-canonical or invalid (client's fault).
    #[error("receipt: {0}")]
    Receipt(#[from] ReceiptError),
    /// The entry body is malformed (client's fault).
    #[error("entry: {0}")]
    Entry(#[from] EntryError),
    /// An entry type this ledger does not know (client's fault).
    #[error("entry type {0:?} is not one this ledger knows")]
    UnknownEntryKind(EntryKind),
    /// A key or policy submission names a key that is not a configured
    /// authority (client's fault).
    #[error("key {0} is not a configured authority key")]
    UnknownAuthority(String),
    /// A key or policy submission names a configured authority, but its
    /// signature does not verify (client's fault).
    #[error("the authority signature does not verify: {0}")]
    AuthoritySignature(#[source] CoseError),
    /// The gate key is not registered in the log (client's fault).
    #[error("gate key {0} is not registered")]
    UnknownKey(String),
    /// The gate key was revoked (client's fault).
    #[error("gate key {0} is revoked")]
    RevokedKey(String),
    /// The key is registered for another role (client's fault).
    #[error("key {key} is registered as a{} {role} key, not a gate key", if *role == KeyRole::Operator { "n" } else { "" })]
    WrongRole {
        /// The key reference.
        key: String,
        /// The role it has.
        role: KeyRole,
    },
    /// The receipt names a policy bundle the log does not archive (client's fault).
    #[error("policy bundle {0} is not archived in this log")]
    UnarchivedPolicy(Hash),
    /// A key statement that does not follow the key's history: registered
    /// twice, re-registered after revocation, or revoking a key that is not
    /// registered (client's fault).
    #[error("key {key}: {error}")]
    KeyHistory {
        /// The key reference.
        key: String,
        /// The rule it breaks.
        error: cairn_api::key_history::KeyHistoryError,
    },
    /// The receipt's bundle id, revision or engine is not that of the
    /// archived bundle its hash names (client's fault).
    #[error("policy: {0}")]
    PolicyMismatch(#[from] cairn_api::policy::PolicyMismatch),
    /// A policy submission is not a valid bundle (client's fault).
    #[error("policy bundle: {0}")]
    Bundle(#[from] BundleError),
    /// A policy submission does not compile for an engine cairn replays
    /// exactly (client's fault).
    #[error("policy bundle does not compile: {0}")]
    Policy(#[from] PolicyError),
    /// `decided_at` is ahead of the ledger's clock by more than the skew
    /// (the gate's clock, or the ledger's, is wrong; time cures it).
    #[error("decided_at {decided_at} is more than {skew_s} s ahead of the ledger's clock {now}")]
    ClockSkew {
        /// The receipt's time.
        decided_at: Timestamp,
        /// The ledger's time.
        now: Timestamp,
        /// The configured limit.
        skew_s: u64,
    },
    /// `decided_at` is older than the lateness the ledger accepts (client's
    /// fault: evidence held longer than the operator allows).
    #[error("decided_at {decided_at} is more than {max_lateness_s} s before the ledger's clock {now}")]
    TooLate {
        /// The receipt's time.
        decided_at: Timestamp,
        /// The ledger's time.
        now: Timestamp,
        /// The configured bound.
        max_lateness_s: u64,
    },
    /// The gate is over its rate (client's fault): retry after the wait.
    #[error("rate limit: retry after {} ms", retry_after.as_millis())]
    RateLimited {
        /// How long until the gate may submit again.
        retry_after: Duration,
    },
    /// The queue is full: retry later (server's load; 503 with Retry-After).
    #[error("the ledger is busy; retry later")]
    Busy,
    /// This instance does not hold the sequencer lease: another instance of
    /// the same log writes (server's state: 503 with Retry-After and the
    /// leader's URL when known; submit there, or retry).
    #[error("this ledger instance does not write now{}", leader.as_ref().map(|l| format!(": the leader is {l}")).unwrap_or_default())]
    NotLeader {
        /// The leader's advertised URL, when known.
        leader: Option<String>,
    },
    /// The ledger is shutting down (server's state).
    #[error("the ledger is shutting down")]
    ShuttingDown,
    /// Storage could not be read before the entry was queued; nothing was
    /// written (server's fault).
    #[error("storage: {0}")]
    Storage(#[from] StoreError),
    /// The batch could not be made durable; nothing in it was acknowledged
    /// (server's fault; a retry is safe and idempotent).
    #[error("not acknowledged, storage failed: {0}")]
    NotDurable(#[source] Arc<StoreError>),
    /// Signing or reading back the ledger's own checkpoint failed (server's fault).
    #[error("checkpoint: {0}")]
    Checkpoint(#[source] NoteError),
}

impl From<RecordError> for SubmitError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Entry(e) => SubmitError::Entry(e),
            RecordError::Bundle(e) => SubmitError::Bundle(e),
            RecordError::UnknownKind(k) => SubmitError::UnknownEntryKind(k),
        }
    }
}

impl From<CoseError> for SubmitError {
    fn from(e: CoseError) -> Self {
        SubmitError::Entry(EntryError::Body(e))
    }
}
