//! One step of following: read the signed checkpoint, read the entries
//! after the cursor, check them against the checkpoint, deliver the
//! receipts among them, then move the cursor.
//!
//! The check: the cursor holds the Merkle frontier of the entries before
//! it, so appending the new entries' leaf hashes gives the root of the tree
//! up to the last of them. That root must be the checkpoint's (when the
//! batch reaches its size) or be proven a prefix of it by a consistency
//! proof. Nothing of a batch is delivered before its check passes, and the
//! cursor never moves before the sink took the batch.

use std::path::PathBuf;

use cairn_api::entry::{Entry, EntryKind};
use cairn_api::keys::VerifierKey;
use cairn_api::merkle::{Hash, MerkleHasher, Sha256, verify_consistency};
use cairn_api::note::Checkpoint;

use super::SiemError;
use super::cursor::Cursor;
use super::record::Logged;
use super::sink::Sink;
use super::source::LogSource;

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Entries read and verified (receipts and others).
    pub entries: u64,
    /// Receipts delivered.
    pub delivered: u64,
    /// Records the collector said it rejected (partial success).
    pub rejected: u64,
    /// The next index after the step.
    pub next: u64,
    /// The size of the checkpoint the step verified against.
    pub checkpoint_size: u64,
}

/// A follower of one log into one sink.
#[derive(Debug)]
pub struct Follower<S, K> {
    source: S,
    sink: K,
    log_key: VerifierKey,
    cursor_path: PathBuf,
    cursor: Cursor,
}

impl<S: LogSource, K: Sink> Follower<S, K> {
    /// A follower reading `source` (whose checkpoints `log_key` signs),
    /// resuming from the cursor at `cursor_path` (the start of the log when
    /// there is none yet).
    pub fn new(source: S, sink: K, log_key: VerifierKey, cursor_path: PathBuf) -> Result<Self, SiemError> {
        let cursor = Cursor::load(&cursor_path, log_key.name())?;
        Ok(Follower {
            source,
            sink,
            log_key,
            cursor_path,
            cursor,
        })
    }

    /// The next index to deliver.
    pub fn next(&self) -> u64 {
        self.cursor.next()
    }

    /// Verify and deliver up to one entry bundle's worth of entries after
    /// the cursor. `Ok(None)` when the log has nothing new.
    pub fn step(&mut self) -> Result<Option<Progress>, SiemError> {
        let note = self.source.checkpoint()?;
        let (cp, _, _) = Checkpoint::verify(&note, &self.log_key, &[])?;
        if cp.size < self.cursor.checkpoint_size {
            return Err(SiemError::Rollback {
                was: self.cursor.checkpoint_size,
                now: cp.size,
            });
        }
        let next = self.cursor.next();
        if cp.size == next {
            if cp.size > 0 && self.cursor.frontier.root() != cp.root {
                return Err(SiemError::Tampered(format!(
                    "the checkpoint of size {} has another root than the entries delivered",
                    cp.size
                )));
            }
            return Ok(None);
        }
        let raw = self.source.entries(next, cp.size)?;
        let end = next + raw.len() as u64;
        if raw.is_empty() || end > cp.size {
            return Err(SiemError::BadAnswer {
                url: "entries".into(),
                detail: format!("{} entries from {next} for a checkpoint of {}", raw.len(), cp.size),
            });
        }
        let mut frontier = self.cursor.frontier.clone();
        let mut receipts = Vec::new();
        for (i, bytes) in (next..).zip(&raw) {
            frontier.append(Sha256::hash_leaf(bytes));
            let entry = Entry::from_cbor(bytes).map_err(|source| SiemError::Entry { index: i, source })?;
            if entry.kind() == EntryKind::Receipt {
                let signed = entry
                    .receipt()
                    .map_err(|source| SiemError::Entry { index: i, source })?;
                receipts.push(Logged {
                    index: i,
                    leaf_hash: Sha256::hash_leaf(bytes),
                    checkpoint_size: cp.size,
                    integrated_at: entry.integrated_at(),
                    receipt: signed.unverified().parts().clone(),
                });
            }
        }
        check_prefix(&self.source, end, frontier.root(), &cp)?;
        let taken = self.sink.deliver(&cp.origin, &receipts)?;
        self.cursor.frontier = frontier;
        self.cursor.checkpoint_size = cp.size;
        self.cursor.save(&self.cursor_path)?;
        Ok(Some(Progress {
            entries: raw.len() as u64,
            delivered: receipts.len() as u64,
            rejected: taken.rejected,
            next: end,
            checkpoint_size: cp.size,
        }))
    }
}

/// The tree of `size` with `root` is the checkpoint's tree or a prefix of
/// it.
fn check_prefix<S: LogSource>(source: &S, size: u64, root: Hash, cp: &Checkpoint) -> Result<(), SiemError> {
    if size == cp.size {
        return if root == cp.root {
            Ok(())
        } else {
            Err(SiemError::Tampered(format!(
                "the entries up to {size} do not hash to the checkpoint's root"
            )))
        };
    }
    let proof = source.consistency(size, cp.size)?;
    verify_consistency::<Sha256>(size, cp.size, &proof, root.as_bytes(), cp.root.as_bytes()).map_err(|e| {
        SiemError::Tampered(format!(
            "the entries up to {size} are not a prefix of the checkpoint of {}: {e}",
            cp.size
        ))
    })
}

#[cfg(test)]
#[path = "follow_tests.rs"]
mod tests;
