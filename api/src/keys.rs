//! Ed25519 keys written as C2SP verifier-key strings.
//!
//! Every public key in cairn (log, authority, gate, operator, witness) is a
//! C2SP *vkey*: `<name>+<hex key ID>+<base64(type ‖ public key)>`. The key
//! ID is `SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]`, read big-endian.
//! Signer keys use the `PRIVATE+KEY+<name>+<hex key ID>+<base64(type ‖
//! seed)>` form of `golang.org/x/mod/sumdb/note`.
//!
//! Loading a key checks everything about it: the name rules, the key type,
//! the length, that the key ID in the string is the computed one, and that
//! the public key is not a weak (small-order) point. Signatures are accepted
//! only by `verify_strict`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::Digest as _;

/// Longest key name accepted, in bytes.
pub const MAX_KEY_NAME_BYTES: usize = 256;

/// A key string could not be loaded. Every variant is the fault of whoever
/// supplied the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not of the form `name+hexid+base64`.
    #[error("a key string is name+hexid+base64(type||key)")]
    Malformed,
    /// The name is empty, too long, or has a space, `+` or control character.
    #[error("invalid key name {0:?}: non-empty, at most 256 bytes, no spaces, '+' or control characters")]
    BadName(String),
    /// The key ID is not 8 lowercase hex digits.
    #[error("the key ID is not 8 lowercase hex digits")]
    BadKeyId,
    /// The type byte is not one cairn supports.
    #[error("unsupported key type 0x{0:02x} (supported: 0x01 Ed25519, 0x04 Ed25519 cosignature)")]
    UnsupportedType(u8),
    /// The key material has the wrong length.
    #[error("key material is {0} bytes, expected 32")]
    BadLength(usize),
    /// The key ID in the string is not the one computed from name and key.
    #[error("key ID {given:08x} does not match the computed {computed:08x}")]
    KeyIdMismatch {
        /// In the string.
        given: u32,
        /// Computed.
        computed: u32,
    },
    /// The bytes are not a valid Ed25519 point.
    #[error("not a valid Ed25519 public key")]
    InvalidPoint,
    /// The public key is a small-order point that anyone can forge for.
    #[error("weak Ed25519 public key (small order) refused")]
    WeakKey,
}

/// What a key signs, and so its type byte in the key ID and key string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyType {
    /// 0x01: Ed25519 over the note text (logs, authorities, gates, operators).
    Ed25519,
    /// 0x04: timestamped Ed25519 witness cosignatures (c2sp.org/tlog-cosignature).
    Cosignature,
}

impl KeyType {
    /// The signature type byte.
    pub fn byte(self) -> u8 {
        match self {
            KeyType::Ed25519 => 0x01,
            KeyType::Cosignature => 0x04,
        }
    }

    fn from_byte(b: u8) -> Result<Self, KeyError> {
        match b {
            0x01 => Ok(KeyType::Ed25519),
            0x04 => Ok(KeyType::Cosignature),
            other => Err(KeyError::UnsupportedType(other)),
        }
    }
}

/// Check a key name: non-empty, bounded, no Unicode space, no `+`, no
/// control character.
pub fn check_key_name(name: &str) -> Result<(), KeyError> {
    if name.is_empty()
        || name.len() > MAX_KEY_NAME_BYTES
        || name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(KeyError::BadName(name.chars().take(64).collect()));
    }
    Ok(())
}

/// `SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4]` as a big-endian u32.
pub fn key_id(name: &str, key_type: KeyType, public_key: &[u8; 32]) -> u32 {
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, key_type.byte()]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Split `name+hexid+base64`, check name and ID syntax, decode the payload
/// into its type and 32 bytes.
fn split_key(text: &str) -> Result<(&str, u32, KeyType, [u8; 32]), KeyError> {
    // The name and the ID cannot hold '+'; the base64 payload can.
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(KeyError::Malformed);
    };
    check_key_name(name)?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(KeyError::BadKeyId);
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| KeyError::BadKeyId)?;
    let raw = B64.decode(data).map_err(|_| KeyError::Malformed)?;
    let (&type_byte, material) = raw.split_first().ok_or(KeyError::Malformed)?;
    let key_type = KeyType::from_byte(type_byte)?;
    let material = <[u8; 32]>::try_from(material).map_err(|_| KeyError::BadLength(material.len()))?;
    Ok((name, id, key_type, material))
}

fn checked_verifying_key(bytes: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPoint)?;
    if key.is_weak() {
        return Err(KeyError::WeakKey);
    }
    Ok(key)
}

/// A trusted public key with its name, type and key ID.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    key_type: KeyType,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Parse and fully check a C2SP verifier-key string.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let (name, given, key_type, material) = split_key(text.trim_end_matches('\n'))?;
        let computed = key_id(name, key_type, &material);
        if given != computed {
            return Err(KeyError::KeyIdMismatch { given, computed });
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            id: computed,
            key_type,
            key: checked_verifying_key(&material)?,
        })
    }

    /// Build from a raw public key.
    pub fn new(name: &str, key_type: KeyType, public_key: &[u8; 32]) -> Result<Self, KeyError> {
        check_key_name(name)?;
        Ok(VerifierKey {
            name: name.to_owned(),
            id: key_id(name, key_type, public_key),
            key_type,
            key: checked_verifying_key(public_key)?,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The 32-bit key ID.
    pub fn id(&self) -> u32 {
        self.id
    }
    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }
    /// The raw public key.
    pub fn public_key(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }
    /// `name+hexid`: how cairn names a key in a COSE `kid` and in messages.
    pub fn key_ref(&self) -> String {
        format!("{}+{:08x}", self.name, self.id)
    }

    /// `verify_strict`: the only acceptance rule for signatures in cairn.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.key.verify_strict(message, &Signature::from_bytes(&sig)).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(self.key_type.byte());
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::parse(s)
    }
}

/// A private signing key with its name and type. Its `Debug` never shows the
/// secret.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    id: u32,
    key_type: KeyType,
    key: SigningKey,
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignerKey({}+{:08x}, secret hidden)", self.name, self.id)
    }
}

impl SignerKey {
    /// A signer from a 32-byte Ed25519 seed (RFC 8032 private key). The
    /// caller supplies the randomness: this crate does no I/O.
    pub fn from_seed(name: &str, key_type: KeyType, seed: &[u8; 32]) -> Result<Self, KeyError> {
        check_key_name(name)?;
        let key = SigningKey::from_bytes(seed);
        Ok(SignerKey {
            name: name.to_owned(),
            id: key_id(name, key_type, key.verifying_key().as_bytes()),
            key_type,
            key,
        })
    }

    /// Parse `PRIVATE+KEY+name+hexid+base64(type ‖ seed)`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let rest = text
            .trim_end_matches('\n')
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError::Malformed)?;
        let (name, given, key_type, seed) = split_key(rest)?;
        let signer = Self::from_seed(name, key_type, &seed)?;
        if signer.id != given {
            return Err(KeyError::KeyIdMismatch {
                given,
                computed: signer.id,
            });
        }
        Ok(signer)
    }

    /// The `PRIVATE+KEY+...` string. Treat it as a secret.
    pub fn to_private_string(&self) -> String {
        let mut raw = Vec::with_capacity(33);
        raw.push(self.key_type.byte());
        raw.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }

    /// The matching public key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key_type: self.key_type,
            key: self.key.verifying_key(),
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The 32-bit key ID.
    pub fn id(&self) -> u32 {
        self.id
    }
    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// An Ed25519 signature (RFC 8032, deterministic) over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_key_round_trips_and_checks_its_id() {
        let s = SignerKey::from_seed("log.example/a", KeyType::Ed25519, &[7; 32]).unwrap();
        let v = s.verifier();
        let text = v.to_string();
        assert_eq!(VerifierKey::parse(&text).unwrap(), v);
        assert_eq!(SignerKey::parse(&s.to_private_string()).unwrap().verifier(), v);
        // Change one hex digit of the ID.
        let (name, rest) = text.split_once('+').unwrap();
        let bad_id = format!("{:08x}", v.id() ^ 1);
        let tampered = format!("{name}+{bad_id}{}", &rest[8..]);
        assert!(matches!(
            VerifierKey::parse(&tampered),
            Err(KeyError::KeyIdMismatch { .. })
        ));
    }

    #[test]
    fn malformed_key_strings_get_precise_errors() {
        let v = SignerKey::from_seed("n", KeyType::Ed25519, &[1; 32])
            .unwrap()
            .verifier()
            .to_string();
        let (_, rest) = v.split_once('+').unwrap();
        assert_eq!(VerifierKey::parse("just-a-name"), Err(KeyError::Malformed));
        assert!(matches!(
            VerifierKey::parse(&format!("a b+{rest}")),
            Err(KeyError::BadName(_))
        ));
        assert!(matches!(
            VerifierKey::parse(&format!("+{rest}")),
            Err(KeyError::BadName(_))
        ));
        assert_eq!(VerifierKey::parse("n+ABCDEF01+AQ=="), Err(KeyError::BadKeyId));
        assert_eq!(
            VerifierKey::parse(&format!("n+00000000+{}", B64.encode([0x02; 33]))),
            Err(KeyError::UnsupportedType(0x02))
        );
        assert_eq!(
            VerifierKey::parse(&format!("n+00000000+{}", B64.encode([0x01; 20]))),
            Err(KeyError::BadLength(19))
        );
    }

    #[test]
    fn weak_keys_are_refused_when_loaded() {
        // The identity point (y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            VerifierKey::new("w", KeyType::Ed25519, &identity),
            Err(KeyError::WeakKey)
        );
        let id = key_id("w", KeyType::Ed25519, &identity);
        let mut raw = vec![1u8];
        raw.extend_from_slice(&identity);
        let text = format!("w+{id:08x}+{}", B64.encode(raw));
        assert_eq!(VerifierKey::parse(&text), Err(KeyError::WeakKey));
    }

    #[test]
    fn signatures_verify_strictly() {
        let s = SignerKey::from_seed("n", KeyType::Ed25519, &[9; 32]).unwrap();
        let sig = s.sign(b"hello");
        assert!(s.verifier().verify(b"hello", &sig));
        assert!(!s.verifier().verify(b"hellp", &sig));
        assert!(!s.verifier().verify(b"hello", &sig[..63]));
        // A non-canonical S (S + L) is refused by verify_strict.
        let mut malleated = sig;
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(malleated[32 + i]) + u16::from(l[i]) + carry;
            malleated[32 + i] = v as u8;
            carry = v >> 8;
        }
        assert!(!s.verifier().verify(b"hello", &malleated));
    }
}
