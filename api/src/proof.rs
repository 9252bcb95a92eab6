//! C2SP tlog-proof bundles (`c2sp.org/tlog-proof@v1`).
//!
//! One text file that lets anyone check, offline, that an entry is in the
//! log: the entry's index, its inclusion proof, and the log's signed
//! checkpoint (with any witness cosignatures):
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>          (cairn: the entry header, see below)
//! index <decimal>
//! <base64 proof hash>     (zero or more, leaf's sibling first)
//!
//! <checkpoint note, verbatim>
//! ```
//!
//! The proof hashes are RFC 6962 SHA-256 node hashes, as C2SP says. The
//! `extra` line carries the deterministic CBOR `[type, integrated_at]` of the
//! entry, so that a holder of the COSE body alone can rebuild the entry
//! `[type, integrated_at, body]` and its leaf hash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::cbor::{self, CBOR};
use crate::entry::{Entry, EntryError, EntryKind};
use crate::keys::VerifierKey;
use crate::merkle::{Hash, MAX_PROOF_HASHES, MerkleError, Sha256, verify_inclusion};
use crate::note::{Checkpoint, MAX_NOTE_BYTES, NoteError, SignedNote, VerifiedSignature};
use crate::timestamp::Timestamp;

/// The first line.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Largest proof file accepted, in bytes.
pub const MAX_TLOG_PROOF_BYTES: usize = MAX_NOTE_BYTES + 8 * 1024;
/// Largest `extra` data accepted, in bytes.
pub const MAX_EXTRA_BYTES: usize = 1024;

/// A proof bundle could not be parsed or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Over [`MAX_TLOG_PROOF_BYTES`].
    #[error("proof is {0} bytes, the limit is {MAX_TLOG_PROOF_BYTES}")]
    TooLarge(usize),
    /// Not the tlog-proof format (the reason says where).
    #[error("malformed tlog-proof: {0}")]
    Malformed(&'static str),
    /// The checkpoint does not parse or verify under the log key.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    /// The inclusion proof does not lead to the checkpoint's root.
    #[error("inclusion: {0}")]
    Inclusion(#[from] MerkleError),
    /// The entry rebuilt from `extra` and the body is invalid.
    #[error("entry: {0}")]
    Entry(#[from] EntryError),
}

/// A parsed tlog-proof. Parsing checks the format, not the claims: call
/// [`TlogProof::verify`] or [`TlogProof::verify_body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque extra data (cairn: the entry header).
    pub extra: Option<Vec<u8>>,
    /// Zero-based index of the entry.
    pub index: u64,
    /// Inclusion proof, leaf's sibling first.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint, as the log issued it.
    pub checkpoint: SignedNote,
}

/// cairn's `extra`: the dCBOR `[type, integrated_at]` of the entry.
pub fn entry_header(kind: EntryKind, integrated_at: Timestamp) -> Vec<u8> {
    cbor::encode(&CBOR::from(vec![
        CBOR::from(kind.as_str()),
        CBOR::from(integrated_at.millis()),
    ]))
}

fn parse_entry_header(extra: &[u8]) -> Result<(EntryKind, Timestamp), ProofError> {
    let bad = ProofError::Malformed("extra is not a cairn entry header [type, integrated_at]");
    let c = cbor::decode(extra).map_err(|_| bad.clone())?;
    let items = cbor::array(&c, "extra").map_err(|_| bad.clone())?;
    let [kind, at] = items else { return Err(bad) };
    let kind = EntryKind::parse(cbor::text(kind, "extra[0]").map_err(|_| bad.clone())?)?;
    let at = cbor::uint(at, "extra[1]")
        .ok()
        .and_then(|ms| Timestamp::from_millis(ms).ok())
        .ok_or(bad)?;
    Ok((kind, at))
}

/// The text of a tlog-proof from its parts, the checkpoint given as the
/// signed note text the log issued (a log that has the text at hand need
/// not parse it again to render each proof).
pub fn proof_text(extra: Option<&[u8]>, index: u64, hashes: &[Hash], checkpoint: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(64 + hashes.len() * 45 + checkpoint.len());
    out.push_str(TLOG_PROOF_HEADER);
    out.push('\n');
    if let Some(extra) = extra {
        out.push_str("extra ");
        B64.encode_string(extra, &mut out);
        out.push('\n');
    }
    let _ = writeln!(out, "index {index}");
    for h in hashes {
        out.push_str(&h.to_base64());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(checkpoint);
    out
}

impl TlogProof {
    /// The proof text.
    pub fn to_text(&self) -> String {
        proof_text(
            self.extra.as_deref(),
            self.index,
            &self.hashes,
            &self.checkpoint.to_text(),
        )
    }

    /// Parse strictly: header, optional extra, index without leading zeros,
    /// at most [`MAX_PROOF_HASHES`] 32-byte hashes, blank line, a signed note.
    pub fn parse(bytes: &[u8]) -> Result<Self, ProofError> {
        if bytes.len() > MAX_TLOG_PROOF_BYTES {
            return Err(ProofError::TooLarge(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ProofError::Malformed("not UTF-8"))?;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or(ProofError::Malformed("no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(TLOG_PROOF_HEADER) {
            return Err(ProofError::Malformed("first line must be c2sp.org/tlog-proof@v1"));
        }
        let mut line = lines.next().ok_or(ProofError::Malformed("missing index line"))?;
        let extra = match line.strip_prefix("extra ") {
            Some(b64) => {
                let extra = B64
                    .decode(b64)
                    .map_err(|_| ProofError::Malformed("extra is not base64"))?;
                if extra.len() > MAX_EXTRA_BYTES {
                    return Err(ProofError::Malformed("extra data too large"));
                }
                line = lines.next().ok_or(ProofError::Malformed("missing index line"))?;
                Some(extra)
            }
            None => None,
        };
        let index = line
            .strip_prefix("index ")
            .ok_or(ProofError::Malformed("missing index line"))?;
        if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) || (index.len() > 1 && index.starts_with('0'))
        {
            return Err(ProofError::Malformed("index must be decimal without leading zeros"));
        }
        let index = index.parse().map_err(|_| ProofError::Malformed("index out of range"))?;
        let hashes = lines
            .map(|l| Hash::from_base64(l).map_err(|_| ProofError::Malformed("proof line is not base64 of 32 bytes")))
            .collect::<Result<Vec<_>, _>>()?;
        if hashes.len() > MAX_PROOF_HASHES {
            return Err(ProofError::Malformed("too many proof hashes"));
        }
        let checkpoint = SignedNote::parse(note.as_bytes())?;
        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint,
        })
    }

    /// Verify that the leaf with `leaf_hash` is at [`TlogProof::index`] in
    /// the tree of a checkpoint signed by `log_key` (witness cosignatures are
    /// checked against `witnesses` and returned for a quorum decision).
    pub fn verify(
        &self,
        leaf_hash: &Hash,
        log_key: &VerifierKey,
        witnesses: &[VerifierKey],
    ) -> Result<(Checkpoint, Vec<VerifiedSignature>), ProofError> {
        let (cp, _, cosigs) = Checkpoint::verify(self.checkpoint.to_text().as_bytes(), log_key, witnesses)?;
        self.verify_inclusion_under(leaf_hash, &cp)?;
        Ok((cp, cosigs))
    }

    /// Verify only the inclusion of `leaf_hash` at [`TlogProof::index`]
    /// under `cp`, which must be this proof's own checkpoint, already
    /// verified by the caller (a client checking many proofs under one
    /// checkpoint verifies its signature once; [`TlogProof::verify`] does
    /// both).
    pub fn verify_inclusion_under(&self, leaf_hash: &Hash, cp: &Checkpoint) -> Result<(), ProofError> {
        verify_inclusion::<Sha256>(leaf_hash, self.index, cp.size, &self.hashes, &cp.root.0)?;
        Ok(())
    }

    /// The entry this proof is for: its header from the extra line, its
    /// body the COSE `body` (for example a gate's signed receipt).
    pub fn entry_for(&self, body: &[u8]) -> Result<Entry, ProofError> {
        let extra = self
            .extra
            .as_deref()
            .ok_or(ProofError::Malformed("no extra line with the entry header"))?;
        let (kind, at) = parse_entry_header(extra)?;
        Ok(Entry::new(kind, at, body.to_vec())?)
    }

    /// Rebuild the entry from `extra` and the COSE `body` (for example a
    /// gate's signed receipt) and verify its inclusion.
    pub fn verify_body(
        &self,
        body: &[u8],
        log_key: &VerifierKey,
        witnesses: &[VerifierKey],
    ) -> Result<(Entry, Checkpoint, Vec<VerifiedSignature>), ProofError> {
        let entry = self.entry_for(body)?;
        let (cp, cosigs) = self.verify(&entry.leaf_hash(), log_key, witnesses)?;
        Ok((entry, cp, cosigs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples;
    use crate::merkle::{MemoryTree, inclusion_proof};

    fn setup(n: u64) -> (Vec<Entry>, MemoryTree<Sha256>, SignedNote) {
        let entries: Vec<Entry> = (0..n)
            .map(|i| {
                let at = Timestamp::from_millis(examples::EXAMPLE_NOW_MS + i).unwrap();
                Entry::new(EntryKind::Receipt, at, examples::signed_receipt(i)).unwrap()
            })
            .collect();
        let tree = MemoryTree::<Sha256>::from_leaf_hashes(entries.iter().map(Entry::leaf_hash));
        let log = examples::log_key();
        let note = Checkpoint::new(log.name(), n, tree.root()).sign(&log).unwrap();
        (entries, tree, note)
    }

    fn proof_for(i: u64, entries: &[Entry], tree: &MemoryTree<Sha256>, note: &SignedNote) -> TlogProof {
        let e = &entries[i as usize];
        TlogProof {
            extra: Some(entry_header(e.kind(), e.integrated_at())),
            index: i,
            hashes: inclusion_proof::<Sha256, _>(tree, i, tree.size()).unwrap(),
            checkpoint: note.clone(),
        }
    }

    #[test]
    fn round_trip_and_verify_from_the_body_alone() {
        let (entries, tree, note) = setup(7);
        let log = examples::log_key().verifier();
        for i in 0..7 {
            let p = proof_for(i, &entries, &tree, &note);
            let text = p.to_text();
            let parsed = TlogProof::parse(text.as_bytes()).unwrap();
            assert_eq!(parsed, p);
            let (entry, cp, _) = parsed.verify_body(entries[i as usize].body(), &log, &[]).unwrap();
            assert_eq!(entry, entries[i as usize]);
            assert_eq!(cp.size, 7);
        }
    }

    #[test]
    fn wrong_claims_are_caught() {
        let (entries, tree, note) = setup(7);
        let log = examples::log_key().verifier();
        let p = proof_for(3, &entries, &tree, &note);
        // Another entry's body.
        assert!(matches!(
            p.verify_body(entries[4].body(), &log, &[]),
            Err(ProofError::Inclusion(MerkleError::RootMismatch { .. }))
        ));
        // Another log's key.
        let other = examples::authority_key().verifier();
        assert!(matches!(
            p.verify_body(entries[3].body(), &other, &[]),
            Err(ProofError::Checkpoint(_))
        ));
        // One hash too many.
        let mut long = p.clone();
        long.hashes.push(tree.root());
        assert!(matches!(
            long.verify_body(entries[3].body(), &log, &[]),
            Err(ProofError::Inclusion(MerkleError::WrongProofLength { .. }))
        ));
    }

    #[test]
    fn parse_is_strict() {
        let (entries, tree, note) = setup(3);
        let text = proof_for(1, &entries, &tree, &note).to_text();
        let bad = |t: String| TlogProof::parse(t.as_bytes()).unwrap_err();
        assert!(matches!(
            bad(text.replacen("c2sp.org/tlog-proof@v1", "tlog-proof", 1)),
            ProofError::Malformed(_)
        ));
        assert!(matches!(
            bad(text.replacen("index 1", "index 01", 1)),
            ProofError::Malformed(_)
        ));
        assert!(matches!(
            bad(text.replacen("index 1", "index -1", 1)),
            ProofError::Malformed(_)
        ));
        assert!(matches!(
            bad(text.replacen("\n\n", "\n", 1)),
            ProofError::Malformed(_) | ProofError::Checkpoint(_)
        ));
        let first_hash = text.lines().nth(3).unwrap();
        assert!(matches!(
            bad(text.replacen(first_hash, "AAAA", 1)),
            ProofError::Malformed(_)
        ));
        assert!(matches!(
            bad("x".repeat(MAX_TLOG_PROOF_BYTES + 1)),
            ProofError::TooLarge(_)
        ));
    }
}
