//! C2SP signed notes, checkpoints and cosignatures.
//!
//! - [`SignedNote`]: `c2sp.org/signed-note`: text, a blank line, one or more
//!   `— <name> base64(keyid ‖ signature)` lines. Parsing enforces the
//!   format and the limits [`MAX_NOTE_BYTES`] and [`MAX_SIGNATURES`].
//!   Verification follows the spec's trust rules: signatures from unknown
//!   keys are ignored, a failing signature from a known key rejects the whole
//!   note, and a note with no verified known signature is rejected.
//! - [`Checkpoint`]: `c2sp.org/tlog-checkpoint`: origin, size, root hash and
//!   optional extension lines.
//! - Cosignatures: `c2sp.org/tlog-cosignature` Ed25519 (type 0x04)
//!   timestamped signatures over `cosignature/v1\ntime <t>\n` + checkpoint.

mod checkpoint;
#[cfg(test)]
mod tests;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

pub use checkpoint::{Checkpoint, MAX_CHECKPOINT_EXTENSIONS, MAX_ORIGIN_BYTES};

use crate::keys::{KeyError, KeyType, SignerKey, VerifierKey, check_key_name};

/// Largest note accepted, signatures included.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// Most signature lines accepted on one note (C2SP requires at least 16).
pub const MAX_SIGNATURES: usize = 64;

const SIG_PREFIX: &str = "\u{2014} ";
const COSIGNATURE_HEADER: &str = "cosignature/v1\n";

/// A note, checkpoint or cosignature could not be parsed, signed or
/// verified. Parsing and verification errors are the fault of whoever
/// supplied the note; signing errors of the caller's text or keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// Over [`MAX_NOTE_BYTES`].
    #[error("note is {0} bytes, the limit is {MAX_NOTE_BYTES}")]
    TooLarge(usize),
    /// Not UTF-8.
    #[error("note is not valid UTF-8")]
    NotUtf8,
    /// A control character other than newline.
    #[error("note contains control character U+{0:04X}")]
    ControlCharacter(u32),
    /// The text is empty or does not end in a newline.
    #[error("note text must be non-empty and end with a newline")]
    BadText,
    /// No blank line separating text and signatures, or no signature lines.
    #[error("note has no signature block (text, blank line, signature lines)")]
    NoSignatureBlock,
    /// Over [`MAX_SIGNATURES`].
    #[error("note has {0} signatures, the limit is {MAX_SIGNATURES}")]
    TooManySignatures(usize),
    /// A signature line that is not `— name base64`.
    #[error("malformed signature line {0}")]
    MalformedSignatureLine(usize),
    /// A known key's signature failed: the whole note is rejected.
    #[error("signature by known key {0} does not verify")]
    BadSignature(String),
    /// The same known key signed twice.
    #[error("known key {0} signed more than once")]
    DuplicateSignature(String),
    /// No signature from a known key.
    #[error("no signature from a known key")]
    NoKnownSignature,
    /// A cosignature timestamp over 2^63-1.
    #[error("cosignature timestamp {0} exceeds 2^63-1")]
    BadTimestamp(u64),
    /// A signer or key was refused.
    #[error("key: {0}")]
    Key(#[from] KeyError),
    /// A key of the wrong type for the operation.
    #[error("key {0} has the wrong type for this signature")]
    WrongKeyType(String),
    /// The checkpoint body is malformed (the reason says where).
    #[error("malformed checkpoint: {0}")]
    Checkpoint(&'static str),
    /// The checkpoint's origin is not the log key's name.
    #[error("checkpoint origin {origin:?} is not the log key name {key:?}")]
    OriginMismatch {
        /// The origin line.
        origin: String,
        /// The log key's name.
        key: String,
    },
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key ID.
    pub key_id: u32,
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, with its final newline.
    pub fn line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(raw))
    }

    /// Parse one signature line (without its newline); `n` is its 1-based
    /// number, for the error.
    pub fn from_line(line: &str, n: usize) -> Result<Self, NoteError> {
        let bad = NoteError::MalformedSignatureLine(n);
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(bad.clone())?;
        let (name, b64) = rest.split_once(' ').ok_or(bad.clone())?;
        check_key_name(name).map_err(|_| bad.clone())?;
        let raw = B64.decode(b64).map_err(|_| bad.clone())?;
        if raw.len() < 5 {
            return Err(bad);
        }
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            signature: raw[4..].to_vec(),
        })
    }
}

/// A signature that verified, by which key, and (for a cosignature) when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The key that made it.
    pub key: VerifierKey,
    /// The cosignature's timestamp (POSIX seconds), for type 0x04 keys.
    pub timestamp: Option<u64>,
}

/// A signed note: text plus signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if let Some(c) = text.chars().find(|&c| c < ' ' && c != '\n') {
        return Err(NoteError::ControlCharacter(u32::from(c)));
    }
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::BadText);
    }
    Ok(())
}

fn cosigned_message(text: &str, timestamp: u64) -> Vec<u8> {
    format!("{COSIGNATURE_HEADER}time {timestamp}\n{text}").into_bytes()
}

/// Split a type 0x04 signature into its timestamp (at most 2^63-1) and the
/// 64-byte Ed25519 signature.
fn cosignature_time(sig: &[u8]) -> Option<(u64, &[u8])> {
    let (t, rest) = sig.split_first_chunk::<8>()?;
    let t = u64::from_be_bytes(*t);
    (rest.len() == 64 && t <= i64::MAX as u64).then_some((t, rest))
}

/// A C2SP tlog-cosignature (type 0x04 key) over the note text `text`,
/// made at `timestamp` (POSIX seconds, at most 2^63-1).
pub fn cosign(cosigner: &SignerKey, text: &str, timestamp: u64) -> Result<NoteSignature, NoteError> {
    if cosigner.key_type() != KeyType::Cosignature {
        return Err(NoteError::WrongKeyType(cosigner.name().to_owned()));
    }
    if timestamp > i64::MAX as u64 {
        return Err(NoteError::BadTimestamp(timestamp));
    }
    check_text(text)?;
    let sig = cosigner.sign(&cosigned_message(text, timestamp));
    let mut signature = timestamp.to_be_bytes().to_vec();
    signature.extend_from_slice(&sig);
    Ok(NoteSignature {
        name: cosigner.name().to_owned(),
        key_id: cosigner.id(),
        signature,
    })
}

impl SignedNote {
    /// Sign `text` with each signer (type 0x01 keys only; see
    /// [`SignedNote::add_cosignature`] for witnesses).
    pub fn sign(text: &str, signers: &[&SignerKey]) -> Result<Self, NoteError> {
        check_text(text)?;
        let mut note = SignedNote {
            text: text.to_owned(),
            signatures: Vec::new(),
        };
        for s in signers {
            if s.key_type() != KeyType::Ed25519 {
                return Err(NoteError::WrongKeyType(s.name().to_owned()));
            }
            note.push(NoteSignature {
                name: s.name().to_owned(),
                key_id: s.id(),
                signature: s.sign(text.as_bytes()).to_vec(),
            })?;
        }
        Ok(note)
    }

    /// Add a signature line as it is (a cosignature a witness returned,
    /// say): [`SignedNote::verify`] says whether it holds.
    pub fn add_signature(&mut self, sig: NoteSignature) -> Result<(), NoteError> {
        self.push(sig)
    }

    fn push(&mut self, sig: NoteSignature) -> Result<(), NoteError> {
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures(self.signatures.len() + 1));
        }
        self.signatures.push(sig);
        Ok(())
    }

    /// Add a C2SP tlog-cosignature (type 0x04 key) made at `timestamp`.
    pub fn add_cosignature(&mut self, cosigner: &SignerKey, timestamp: u64) -> Result<(), NoteError> {
        let sig = cosign(cosigner, &self.text, timestamp)?;
        self.push(sig)
    }

    /// Parse a note's bytes, enforcing the format and limits. Says nothing
    /// about whether it is signed by anyone trusted: call [`SignedNote::verify`].
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge(bytes.len()));
        }
        let s = std::str::from_utf8(bytes).map_err(|_| NoteError::NotUtf8)?;
        if let Some(c) = s.chars().find(|&c| c < ' ' && c != '\n') {
            return Err(NoteError::ControlCharacter(u32::from(c)));
        }
        let split = s.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        let (text, block) = (&s[..=split], &s[split + 2..]);
        check_text(text)?;
        if block.is_empty() || !block.ends_with('\n') {
            return Err(NoteError::NoSignatureBlock);
        }
        let lines: Vec<&str> = block[..block.len() - 1].split('\n').collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures(lines.len()));
        }
        let signatures = lines
            .iter()
            .enumerate()
            .map(|(i, l)| NoteSignature::from_line(l, i + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SignedNote {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note text (with its final newline). Not to be trusted before
    /// [`SignedNote::verify`] succeeds.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// The note's bytes: text, blank line, signature lines.
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.line());
        }
        out
    }

    /// Verify under the C2SP trust rules against the `known` keys: returns
    /// every known signature (all of which verified). Unknown signatures
    /// (name and key ID not both matching a known key) are ignored.
    pub fn verify(&self, known: &[VerifierKey]) -> Result<Vec<VerifiedSignature>, NoteError> {
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        for sig in &self.signatures {
            let Some(key) = known.iter().find(|k| k.name() == sig.name && k.id() == sig.key_id) else {
                continue;
            };
            if verified.iter().any(|v| v.key == *key) {
                return Err(NoteError::DuplicateSignature(key.key_ref()));
            }
            let timestamp = match key.key_type() {
                KeyType::Cosignature => {
                    let t = cosignature_time(&sig.signature)
                        .filter(|(t, rest)| key.verify(&cosigned_message(&self.text, *t), rest))
                        .ok_or_else(|| NoteError::BadSignature(key.key_ref()))?;
                    Some(t.0)
                }
                _ => {
                    if !key.verify(self.text.as_bytes(), &sig.signature) {
                        return Err(NoteError::BadSignature(key.key_ref()));
                    }
                    None
                }
            };
            verified.push(VerifiedSignature {
                key: key.clone(),
                timestamp,
            });
        }
        if verified.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        Ok(verified)
    }
}
