//! The ledger as a C2SP tlog-witness client.
//!
//! At most once per interval, when the newest checkpoint is not yet
//! cosigned, a round sends it to every witness at once with a consistency
//! proof from the size that witness last cosigned ([`round`]), collects
//! the cosignatures that verify, and, when they satisfy the witness
//! policy's quorum, publishes the cosigned checkpoint ([`Published`]):
//! `GET /checkpoint`, `GET /v1/checkpoint` and the tlog-proof route serve
//! it. Rounds run beside the sequencer and never delay an
//! acknowledgement: an acknowledgement carries the log-signed checkpoint
//! of its batch, and a gate upgrades its proof later.
//!
//! A witness that is down, slow, refusing or answering garbage costs one
//! bounded call per round and a metric; nothing is retried in a loop (a
//! `409` with the witness's size is resent once, from that size).

pub mod client;
pub mod round;

use std::sync::RwLock;
use std::time::{Duration, Instant};

use cairn_api::witness::WitnessPolicy;

pub use client::{Answer, WitnessClient};

/// The default round interval: witnesses see few distinct checkpoints.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// The default bound on one witness call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a ledger needs to be witnessed.
#[derive(Debug, Clone)]
pub struct WitnessingConfig {
    /// The witnesses (each with a URL) and the quorum.
    pub policy: WitnessPolicy,
    /// At most one round per interval.
    pub interval: Duration,
    /// The bound on one witness call.
    pub timeout: Duration,
}

/// The witness file is unusable: the operator's fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessingError {
    /// The file cannot be read.
    #[error("{0}")]
    Read(String),
    /// A statement is wrong.
    #[error("{0}")]
    Policy(#[from] cairn_api::witness::PolicyError),
    /// A witness without a URL: the ledger cannot reach it.
    #[error("witness {0} has no URL: the ledger's witness file gives `witness NAME KEY URL`")]
    NoUrl(String),
    /// No witness.
    #[error("the witness file names no witness")]
    Empty,
}

impl WitnessingConfig {
    /// Read the witness file (the statements of the trust file's witness
    /// lines, every witness with its URL).
    pub fn load(path: &std::path::Path, interval: Duration, timeout: Duration) -> Result<Self, WitnessingError> {
        let text = cairn_host::file::read_text(path, 64 * 1024).map_err(|e| WitnessingError::Read(e.to_string()))?;
        let policy = WitnessPolicy::parse(&text)?;
        if policy.is_empty() {
            return Err(WitnessingError::Empty);
        }
        if let Some(w) = policy.witnesses().iter().find(|w| w.url.is_none()) {
            return Err(WitnessingError::NoUrl(w.name.clone()));
        }
        Ok(WitnessingConfig {
            policy,
            interval,
            timeout,
        })
    }
}

/// A checkpoint whose cosignatures satisfy the quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// Its tree size.
    pub size: u64,
    /// The note: the log's signature and the witnesses' cosignatures.
    pub note: String,
    /// The names of the witnesses that cosigned it.
    pub witnesses: Vec<String>,
}

/// The newest cosigned checkpoint, shared by the rounds and the routes.
#[derive(Debug, Default)]
pub struct Published {
    inner: RwLock<Option<(Cosigned, Instant)>>,
}

impl Published {
    /// The newest cosigned checkpoint, if a round published one.
    pub fn get(&self) -> Option<Cosigned> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|(c, _)| c.clone())
    }

    /// How long ago the published checkpoint was published.
    pub fn age(&self) -> Option<std::time::Duration> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|(_, at)| at.elapsed())
    }

    /// Publish `c` if it is newer than what is published.
    pub fn publish(&self, c: Cosigned) {
        let mut g = self.inner.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if g.as_ref().is_none_or(|(old, _)| old.size <= c.size) {
            *g = Some((c, Instant::now()));
        }
    }

    /// The newest checkpoint `note` of `size`, or the cosigned one when it
    /// covers `index` (`None`: any size).
    pub fn note_for(&self, index: Option<u64>, head: (u64, Option<String>)) -> (u64, Option<String>) {
        match self.get() {
            Some(c) if index.is_none_or(|i| i < c.size) => (c.size, Some(c.note)),
            _ => head,
        }
    }
}

pub use round::spawn;
