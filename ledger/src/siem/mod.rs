//! Logged receipts for the SIEM: `cairn-ledger siem` follows a ledger and
//! delivers every logged receipt, once it is durably in the log, as an
//! OpenTelemetry log record over OTLP/HTTP ([`otlp`], JSON or protobuf) or
//! as an OCSF event on a JSON line ([`ocsf`]).
//!
//! - **Only what the log holds, verified.** The follower reads the log over
//!   HTTP (any instance, any copy): the signed checkpoint (the log's key
//!   must have signed it), then the entries after its cursor. It recomputes
//!   the tree from the leaf hashes (the cursor keeps the Merkle frontier)
//!   and checks the result against the checkpoint, directly or by a
//!   consistency proof, *before* it delivers anything ([`follow`]). A ledger
//!   that serves entries its checkpoint does not commit to, or a checkpoint
//!   smaller than one it already showed, stops the follower with an error.
//! - **At least once, resumable.** The cursor file moves only after the
//!   sink accepted a batch (an OTLP `2xx`, or the JSON lines written and
//!   synced), and is replaced atomically. A crash in between delivers the
//!   batch again: the log index is the deduplication key.
//! - **Nothing dropped.** A sink that refuses a batch stops the follower
//!   (exit 1, cursor unmoved) rather than skipping it; transient failures
//!   are retried with backoff.
//!
//! The field mapping is in `docs/operations.md` ("Receipts in the SIEM").

pub mod cli;
pub mod cursor;
pub mod follow;
pub mod ocsf;
pub mod otlp;
pub mod otlp_proto;
pub mod record;
pub mod sink;
pub mod source;

use std::path::PathBuf;

pub use record::Logged;

/// Why following stopped or a step failed; each variant says whose fault it
/// was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SiemError {
    /// The ledger could not be reached or answered with a server error:
    /// transient, retried.
    #[error("the ledger at {url}: {detail}")]
    Unreachable {
        /// What was asked for.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The ledger answered something that is not what its API defines (the
    /// ledger's fault).
    #[error("the ledger at {url} answered what cairn's API does not define: {detail}")]
    BadAnswer {
        /// What was asked for.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// The checkpoint is not signed by the log's key (the ledger's fault, or
    /// the wrong `--log-key`).
    #[error("the checkpoint does not verify under the log's key: {0}")]
    Checkpoint(#[from] cairn_api::note::NoteError),
    /// The entries are not the ones the signed checkpoint commits to:
    /// evidence of tampering, nothing delivered.
    #[error("the log contradicts its signed checkpoint: {0}")]
    Tampered(String),
    /// The log's signed size went backwards: evidence of a rollback or a
    /// fork, nothing delivered.
    #[error("the log's signed size went back from {was} to {now}")]
    Rollback {
        /// The size of the checkpoint the cursor was verified against.
        was: u64,
        /// The size of the checkpoint served now.
        now: u64,
    },
    /// A logged entry does not decode (the ledger's fault: it admitted it).
    #[error("entry {index} does not decode: {source}")]
    Entry {
        /// The entry's index.
        index: u64,
        /// Why.
        source: cairn_api::entry::EntryError,
    },
    /// The cursor file cannot be read, parsed or written (the operator's
    /// environment).
    #[error("the cursor {}: {detail}", path.display())]
    Cursor {
        /// The cursor file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The sink did not take the batch.
    #[error(transparent)]
    Sink(#[from] sink::SinkError),
}

impl SiemError {
    /// Whether trying again later may succeed (a network failure, a server
    /// busy or down), as opposed to a contradiction or a refusal that needs
    /// a person.
    pub fn is_transient(&self) -> bool {
        match self {
            SiemError::Unreachable { .. } => true,
            SiemError::Sink(e) => e.is_transient(),
            _ => false,
        }
    }
}
