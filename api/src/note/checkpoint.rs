//! C2SP tlog-checkpoint note bodies.

use super::{NoteError, SignedNote, VerifiedSignature};
use crate::keys::{SignerKey, VerifierKey};
use crate::merkle::Hash;

/// Longest origin line accepted, in bytes.
pub const MAX_ORIGIN_BYTES: usize = 256;
/// Most extension lines accepted after the root line.
pub const MAX_CHECKPOINT_EXTENSIONS: usize = 16;

/// A log's signed tree head: origin, tree size, root hash, and optional
/// extension lines (opaque, non-empty; cairn's own checkpoints have none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's unique identity; equal to the log key's name.
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The RFC 9162 root of those leaves.
    pub root: Hash,
    /// Extension lines, without newlines.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Self {
        Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text: `origin\nsize\nbase64(root)\n[ext\n]*`.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n{}\n{}\n", self.origin, self.size, self.root.to_base64());
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        out
    }

    /// Parse a note text as a checkpoint.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::Checkpoint("text must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() || origin.len() > MAX_ORIGIN_BYTES {
            return Err(NoteError::Checkpoint("origin line must be 1 to 256 bytes"));
        }
        let size = lines.next().ok_or(NoteError::Checkpoint("missing size line"))?;
        let size_ok =
            !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit()) && (size == "0" || !size.starts_with('0'));
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|_| size_ok)
            .ok_or(NoteError::Checkpoint("size must be decimal without leading zeros"))?;
        let root = lines.next().ok_or(NoteError::Checkpoint("missing root hash line"))?;
        let root = Hash::from_base64(root).map_err(|_| NoteError::Checkpoint("root must be base64 of 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.len() > MAX_CHECKPOINT_EXTENSIONS {
            return Err(NoteError::Checkpoint("too many extension lines"));
        }
        if extensions.iter().any(String::is_empty) {
            return Err(NoteError::Checkpoint("extension lines must be non-empty"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Sign as the log: the signer's name must be the origin.
    pub fn sign(&self, log_key: &SignerKey) -> Result<SignedNote, NoteError> {
        if log_key.name() != self.origin {
            return Err(NoteError::OriginMismatch {
                origin: self.origin.clone(),
                key: log_key.name().to_owned(),
            });
        }
        SignedNote::sign(&self.to_text(), &[log_key])
    }

    /// Parse a signed checkpoint and verify it: the log key must have signed
    /// it and its origin must be the log key's name. Witness keys in
    /// `witnesses` are checked too (unknown ones ignored); the verified
    /// cosignatures are returned for a quorum decision by the caller.
    pub fn verify(
        note: &[u8],
        log_key: &VerifierKey,
        witnesses: &[VerifierKey],
    ) -> Result<(Checkpoint, SignedNote, Vec<VerifiedSignature>), NoteError> {
        let signed = SignedNote::parse(note)?;
        let mut known = Vec::with_capacity(witnesses.len() + 1);
        known.push(log_key.clone());
        known.extend(witnesses.iter().cloned());
        let verified = signed.verify(&known)?;
        if !verified.iter().any(|v| v.key == *log_key) {
            return Err(NoteError::NoKnownSignature);
        }
        let checkpoint = Checkpoint::parse(signed.text())?;
        if checkpoint.origin != log_key.name() {
            return Err(NoteError::OriginMismatch {
                origin: checkpoint.origin,
                key: log_key.name().to_owned(),
            });
        }
        let cosigs = verified.into_iter().filter(|v| v.key != *log_key).collect();
        Ok((checkpoint, signed, cosigs))
    }
}
