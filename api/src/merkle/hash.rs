//! 32-byte digests and the tree hasher (SHA-256).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// A 32-byte digest: a leaf hash, a node hash or a tree root.
///
/// Displayed and serialised (JSON) as lowercase hex; written as standard
/// base64 in notes, checkpoints and tlog-proofs, as C2SP requires.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

/// A digest could not be read: wrong length or not valid hex/base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashParseError {
    /// The bytes were not 32 long.
    #[error("a digest is 32 bytes, got {0}")]
    Length(usize),
    /// The text was not lowercase hex of 64 characters.
    #[error("a digest in hex is 64 lowercase hex characters")]
    Hex,
    /// The text was not standard padded base64.
    #[error("a digest in base64 is standard padded base64 of 32 bytes")]
    Base64,
}

impl Hash {
    /// The length of every digest, in bytes.
    pub const LEN: usize = 32;

    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Read a digest from exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, HashParseError> {
        <[u8; 32]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| HashParseError::Length(bytes.len()))
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parse 64 lowercase hex characters (uppercase is refused so that a
    /// digest has one spelling).
    pub fn from_hex(text: &str) -> Result<Self, HashParseError> {
        if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(HashParseError::Hex);
        }
        let bytes = hex::decode(text).map_err(|_| HashParseError::Hex)?;
        Self::from_slice(&bytes)
    }

    /// Standard padded base64 (RFC 4648 §4), 44 characters.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// Parse standard padded base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, HashParseError> {
        let bytes = B64.decode(text).map_err(|_| HashParseError::Base64)?;
        Self::from_slice(&bytes)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Hash::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// The hash function of an RFC 9162 tree, with its domain separation.
pub trait MerkleHasher {
    /// A short name for messages and test vectors (`"sha256"`).
    const NAME: &'static str;
    /// `H(bytes)`.
    fn digest(parts: &[&[u8]]) -> Hash;
    /// The root of the empty tree: `H("")`.
    fn empty_root() -> Hash {
        Self::digest(&[])
    }
    /// A leaf's hash: `H(0x00 ‖ entry)`.
    fn hash_leaf(entry: &[u8]) -> Hash {
        Self::digest(&[&[0x00], entry])
    }
    /// An interior node's hash: `H(0x01 ‖ left ‖ right)`.
    fn hash_children(left: &Hash, right: &Hash) -> Hash {
        Self::digest(&[&[0x01], &left.0, &right.0])
    }
}

/// SHA-256, the hash of every digest in cairn: the RFC 6962 / RFC 9162
/// tree, policy bundles, token and request digests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sha256;

impl MerkleHasher for Sha256 {
    const NAME: &'static str = "sha256";
    fn digest(parts: &[&[u8]]) -> Hash {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for p in parts {
            h.update(p);
        }
        Hash(h.finalize().into())
    }
}
