//! The witness side of C2SP `tlog-witness` `add-checkpoint`, in the order
//! the text gives its checks:
//!
//! 1. the body parses (else 400);
//! 2. the origin is a log this witness knows (else 404);
//! 3. a known log key signed it (signatures of unknown keys are ignored;
//!    else 403);
//! 4. `old` is at most the checkpoint's size (else 400);
//! 5. `old` is the size this witness last cosigned, 0 if none (else 409
//!    with that size);
//! 6. at equal sizes the roots are equal (else 409: a fork, kept as
//!    evidence);
//! 7. the consistency proof from the cosigned tree verifies, and is empty
//!    from 0 (else 422; a validly signed checkpoint that fails it is kept
//!    as evidence of a fork);
//! 8. the new record is persisted (fsync) and only then the cosignature is
//!    returned.
//!
//! Steps 5 to 8 run under one lock, so that two requests cannot roll the
//! witness back (the race the text describes).

use std::sync::Mutex;

use cairn_api::keys::{SignerKey, VerifierKey};
use cairn_api::merkle::{Sha256, verify_consistency};
use cairn_api::note::{Checkpoint, NoteSignature, SignedNote, cosign};
use cairn_api::witness::AddCheckpoint;
use cairn_api::witness::wire::{ForkEvidence, WitnessedLog};

use crate::state::{Record, State, StateError};

/// Why a checkpoint was not cosigned: each maps to the status code the
/// C2SP text gives it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The body is not an add-checkpoint request (400; the client's).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// `old` is larger than the checkpoint's size (400; the client's).
    #[error("old size {old} is larger than the checkpoint's size {size}")]
    OldTooLarge {
        /// The old size sent.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// No known log has this origin (404; the client's).
    #[error("unknown log {0:?}")]
    UnknownLog(String),
    /// No signature by a known key of the log verifies (403; the client's).
    #[error("the checkpoint is not signed by a known key of its log: {0}")]
    NotSigned(String),
    /// `old` is not the size this witness last cosigned (409; resend from
    /// `size`).
    #[error("this witness last cosigned size {size}")]
    Conflict {
        /// The size this witness last cosigned.
        size: u64,
    },
    /// The same size with another root: a fork (409).
    #[error("size {size} was cosigned with another root: a fork (evidence kept)")]
    Fork {
        /// The size this witness last cosigned.
        size: u64,
    },
    /// The consistency proof does not verify (422).
    #[error("the consistency proof does not verify: {0}")]
    Inconsistent(String),
    /// The state could not be persisted: nothing was cosigned (500; the
    /// witness's).
    #[error("storage: {0}")]
    Storage(#[from] StateError),
}

/// A witness: its key, the logs it follows, its state.
#[derive(Debug)]
pub struct Witness {
    key: SignerKey,
    logs: Vec<VerifierKey>,
    state: Mutex<State>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl Witness {
    /// A witness signing with `key` (a type 0x04 key) for the logs whose
    /// keys are `logs`, over `state`.
    pub fn new(key: SignerKey, logs: Vec<VerifierKey>, state: State) -> Self {
        Witness {
            key,
            logs,
            state: Mutex::new(state),
        }
    }

    /// The witness's verifier key.
    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written
        // record (writes are atomic renames): keep serving.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Handle one request body; `Ok` holds the cosignature line(s).
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String, Refusal> {
        let req = AddCheckpoint::parse(body).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let note = SignedNote::parse(req.checkpoint.as_bytes()).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let cp = Checkpoint::parse(note.text()).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let keys: Vec<VerifierKey> = self.logs.iter().filter(|k| k.name() == cp.origin).cloned().collect();
        if keys.is_empty() {
            return Err(Refusal::UnknownLog(cp.origin));
        }
        note.verify(&keys).map_err(|e| Refusal::NotSigned(e.to_string()))?;
        if req.old_size > cp.size {
            return Err(Refusal::OldTooLarge {
                old: req.old_size,
                size: cp.size,
            });
        }
        let mut state = self.state();
        let latest = state.get(&cp.origin).cloned();
        let current = latest.as_ref().map_or(0, |r| r.size);
        if req.old_size != current {
            return Err(Refusal::Conflict { size: current });
        }
        let evidence = |reason: &str, cosigned: &Record| ForkEvidence {
            origin: cp.origin.clone(),
            detected_at: cairn_host::clock::now_saturating().to_rfc3339(),
            reason: reason.to_owned(),
            cosigned: cosigned.note.clone(),
            refused: req.checkpoint.clone(),
            proof: req.proof.iter().map(|h| h.to_base64()).collect(),
        };
        match &latest {
            Some(r) if r.size == cp.size && r.root != cp.root => {
                state.record_fork(&evidence("same size, different root", r))?;
                tracing::warn!(origin = %cp.origin, size = cp.size, "fork: same size, different root");
                return Err(Refusal::Fork { size: r.size });
            }
            Some(r) if r.size > 0 => {
                if let Err(e) =
                    verify_consistency::<Sha256>(r.size, cp.size, &req.proof, r.root.as_bytes(), cp.root.as_bytes())
                {
                    state.record_fork(&evidence("consistency proof does not verify", r))?;
                    tracing::warn!(origin = %cp.origin, old = r.size, new = cp.size, error = %e, "refused: inconsistent");
                    return Err(Refusal::Inconsistent(e.to_string()));
                }
            }
            _ if !req.proof.is_empty() => {
                return Err(Refusal::Inconsistent("the proof from size 0 must be empty".into()));
            }
            _ => {}
        }
        // Keep the log's verified signature lines and add ours.
        let log_sigs: Vec<&NoteSignature> = note
            .signatures()
            .iter()
            .filter(|s| keys.iter().any(|k| k.name() == s.name && k.id() == s.key_id))
            .collect();
        let ours = cosign(&self.key, note.text(), now()).map_err(|e| Refusal::Malformed(e.to_string()))?;
        let mut stored = note.text().to_owned();
        stored.push('\n');
        for s in log_sigs {
            stored.push_str(&s.line());
        }
        stored.push_str(&ours.line());
        state.put(
            &cp.origin,
            Record {
                size: cp.size,
                root: cp.root,
                note: stored,
            },
        )?;
        tracing::debug!(origin = %cp.origin, size = cp.size, "cosigned");
        Ok(ours.line())
    }

    /// What this witness last cosigned, per log (sorted by origin).
    pub fn logs(&self) -> Vec<WitnessedLog> {
        let state = self.state();
        let mut out: Vec<WitnessedLog> = state
            .all()
            .map(|(origin, r)| WitnessedLog {
                origin: origin.clone(),
                size: r.size,
                root: r.root.to_hex(),
                checkpoint: r.note.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.origin.cmp(&b.origin));
        out
    }

    /// The fork evidence kept.
    pub fn forks(&self) -> Result<Vec<ForkEvidence>, StateError> {
        self.state().forks()
    }
}

#[cfg(test)]
mod tests;
