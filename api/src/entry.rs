//! Log entries (the Merkle tree's leaves) and key statements.
//!
//! An entry is the deterministic CBOR array `[type, integrated_at, body]`:
//! - `type`: `"receipt"`, `"key"` or `"policy"`;
//! - `integrated_at`: when the ledger integrated it (milliseconds);
//! - `body`: a byte string holding a tagged COSE_Sign1 exactly as submitted:
//!   a gate-signed receipt, an authority-signed [`KeyStatement`], or an
//!   authority-signed policy bundle.
//!
//! Its leaf hash is `SHA-256(0x00 ‖ entry)`. Key history and the policy
//! archive live in the same tree as the receipts, so they are as
//! tamper-evident as the receipts.

use crate::cbor::{self, CBOR, CborError, FieldError, Fields};
use crate::cose::{self, CoseError, Sign1};
use crate::keys::{KeyError, SignerKey, VerifierKey};
use crate::merkle::{Hash, MerkleHasher, Sha256};
use crate::receipt::{RECEIPT_CONTENT_TYPE, ReceiptError, SignedReceipt};
use crate::timestamp::Timestamp;

/// Largest encoded entry, in bytes: what a C2SP tlog-tiles entry bundle
/// can hold (a big-endian `u16` length prefix), so that every entry of the
/// log is served as tiles.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;
/// The most an entry adds to its body: the array head (1), the longest
/// type text (`"receipt"`, 8), a 9-byte time and a 3-byte bstr head.
pub const ENTRY_OVERHEAD_BYTES: usize = 21;
/// Largest entry body (a COSE_Sign1), in bytes: 65,514.
pub const MAX_ENTRY_BODY_BYTES: usize = MAX_ENTRY_BYTES - ENTRY_OVERHEAD_BYTES;
/// COSE content type of a key statement.
pub const KEY_CONTENT_TYPE: &str = "application/vnd.cairn.key.v1+cbor";
/// COSE content type of a policy bundle.
pub const POLICY_CONTENT_TYPE: &str = "application/vnd.cairn.policy.v1+cbor";
/// Key statement format version.
pub const KEY_STATEMENT_VERSION: u64 = 1;

/// An entry or key statement was refused. Every variant is the fault of
/// whoever produced the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Not deterministic CBOR, or over the size limit.
    #[error("entry encoding: {0}")]
    Encoding(#[from] CborError),
    /// Wrong shape.
    #[error("entry schema: {0}")]
    Schema(#[from] FieldError),
    /// An entry type other than receipt, key, policy.
    #[error("unknown entry type {0:?}")]
    UnknownType(String),
    /// The body is not a canonical COSE_Sign1 of the entry type's content type.
    #[error("entry body: {0}")]
    Body(#[from] CoseError),
    /// The receipt in a receipt entry is invalid.
    #[error("receipt: {0}")]
    Receipt(#[from] ReceiptError),
    /// The key in a key statement is invalid.
    #[error("key statement key: {0}")]
    Key(#[from] KeyError),
    /// An operation for one entry type on an entry of another.
    #[error("a {found} entry is not a {expected} entry")]
    WrongKind {
        /// The type the operation needs.
        expected: &'static str,
        /// The entry's type.
        found: &'static str,
    },
    /// A rule of the key statement is broken.
    #[error("key statement: {0}")]
    Statement(&'static str),
}

/// What an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EntryKind {
    /// A gate-signed decision receipt.
    Receipt,
    /// An authority-signed key registration or revocation.
    Key,
    /// An authority-signed policy bundle.
    Policy,
}

impl EntryKind {
    /// The type string.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Receipt => "receipt",
            EntryKind::Key => "key",
            EntryKind::Policy => "policy",
        }
    }

    /// The COSE content type its body must carry.
    pub fn content_type(self) -> &'static str {
        match self {
            EntryKind::Receipt => RECEIPT_CONTENT_TYPE,
            EntryKind::Key => KEY_CONTENT_TYPE,
            EntryKind::Policy => POLICY_CONTENT_TYPE,
        }
    }

    /// Parse a type string.
    pub fn parse(s: &str) -> Result<Self, EntryError> {
        match s {
            "receipt" => Ok(EntryKind::Receipt),
            "key" => Ok(EntryKind::Key),
            "policy" => Ok(EntryKind::Policy),
            other => Err(EntryError::UnknownType(other.chars().take(32).collect())),
        }
    }
}

/// A log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    kind: EntryKind,
    integrated_at: Timestamp,
    body: Vec<u8>,
}

impl Entry {
    /// An entry whose body is checked to be a canonical COSE_Sign1 of the
    /// kind's content type (its signature is checked by whoever knows the
    /// keys: the ledger on ingest, the verifier on audit).
    pub fn new(kind: EntryKind, integrated_at: Timestamp, body: Vec<u8>) -> Result<Self, EntryError> {
        if body.len() > MAX_ENTRY_BODY_BYTES {
            return Err(EntryError::Encoding(CborError::TooLarge {
                len: body.len(),
                limit: MAX_ENTRY_BODY_BYTES,
            }));
        }
        Sign1::parse(&body, kind.content_type())?;
        Ok(Entry {
            kind,
            integrated_at,
            body,
        })
    }

    /// The entry's type.
    pub fn kind(&self) -> EntryKind {
        self.kind
    }
    /// When it was integrated.
    pub fn integrated_at(&self) -> Timestamp {
        self.integrated_at
    }
    /// The COSE_Sign1 body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The canonical bytes: what the leaf hash covers. The array
    /// `[type, integrated_at, body]` written directly (a test holds it to
    /// `dcbor`'s encoding of the same value).
    pub fn to_cbor(&self) -> Vec<u8> {
        let kind = self.kind.as_str();
        let mut out = Vec::with_capacity(self.body.len() + kind.len() + 16);
        out.push(0x83);
        cbor::write_header(&mut out, 3, kind.len() as u64);
        out.extend_from_slice(kind.as_bytes());
        cbor::write_header(&mut out, 0, self.integrated_at.millis());
        cbor::write_header(&mut out, 2, self.body.len() as u64);
        out.extend_from_slice(&self.body);
        out
    }

    /// Decode strictly. An entry in its canonical layout (`[type,
    /// integrated_at, body]`, every header in shortest form, nothing
    /// after) is read field by field; anything else is decoded again by
    /// [`Entry::from_cbor_reference`], whose verdict and error are returned.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, EntryError> {
        match Self::canonical_parts(bytes) {
            Some((kind, at, body)) => Entry::new(kind, at, body.to_vec()),
            None => Self::from_cbor_reference(bytes),
        }
    }

    fn canonical_parts(bytes: &[u8]) -> Option<(EntryKind, Timestamp, &[u8])> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return None;
        }
        let mut c = cbor::Cursor::new(bytes);
        let (4, _, 3) = c.head().ok()? else { return None };
        let kind = match c.head().ok()? {
            (3, _, n) => EntryKind::parse(std::str::from_utf8(c.take(n).ok()?).ok()?).ok()?,
            _ => return None,
        };
        let at = match c.head().ok()? {
            (0, _, ms) => Timestamp::from_millis(ms).ok()?,
            _ => return None,
        };
        let body = c.bytes()?;
        (c.remaining() == 0).then_some((kind, at, body))
    }

    /// The reference decoder: deterministic CBOR decoded in full by
    /// `dcbor`, then read field by field. The oracle of
    /// [`Entry::from_cbor`] (a differential test, the `entry` fuzz target).
    pub fn from_cbor_reference(bytes: &[u8]) -> Result<Self, EntryError> {
        let c = cbor::decode_with_limit(bytes, MAX_ENTRY_BYTES)?;
        let items = cbor::array(&c, "entry")?;
        let [kind, at, body] = items else {
            return Err(FieldError::new("entry", "must be [type, integrated_at, body]").into());
        };
        let kind = EntryKind::parse(cbor::text(kind, "entry[0]")?)?;
        let at = Timestamp::from_millis(cbor::uint(at, "entry[1]")?)
            .map_err(|_| FieldError::new("entry[1]", "time out of range"))?;
        Entry::new(kind, at, cbor::bytes(body, "entry[2]")?.to_vec())
    }

    /// `SHA-256(0x00 ‖ entry)`.
    pub fn leaf_hash(&self) -> Hash {
        Sha256::hash_leaf(&self.to_cbor())
    }

    /// The parsed COSE body (not yet verified).
    pub fn sign1(&self) -> Result<Sign1, EntryError> {
        Ok(Sign1::parse(&self.body, self.kind.content_type())?)
    }

    /// For a receipt entry: the signed receipt (signature not yet checked).
    pub fn receipt(&self) -> Result<SignedReceipt, EntryError> {
        if self.kind != EntryKind::Receipt {
            return Err(EntryError::WrongKind {
                expected: "receipt",
                found: self.kind.as_str(),
            });
        }
        Ok(SignedReceipt::parse(&self.body)?)
    }
}

/// What a key statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAction {
    /// The key may sign from the next entry on.
    Register,
    /// The key may no longer sign from the next entry on.
    Revoke,
}

/// What a registered key may sign. Written `gate` or `operator` in key
/// statements, in the HTTP API and in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum KeyRole {
    /// Decision receipts; the receipt's `gate` is the key's name.
    Gate,
    /// Break-glass counter-signatures.
    Operator,
}

impl KeyRole {
    /// Every role.
    pub const ALL: [KeyRole; 2] = [KeyRole::Gate, KeyRole::Operator];

    /// Its name: `gate` or `operator`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Gate => "gate",
            KeyRole::Operator => "operator",
        }
    }

    /// The role named `s`, if any.
    pub fn parse(s: &str) -> Option<KeyRole> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for KeyRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authority's statement that a key is registered or revoked. The
/// payload of a `key` entry's COSE_Sign1 (content type
/// [`KEY_CONTENT_TYPE`]): the CBOR map `{v, action, role, key, issued_at,
/// ?reason}` with `key` a C2SP verifier-key string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatement {
    /// Register or revoke.
    pub action: KeyAction,
    /// Gate or operator.
    pub role: KeyRole,
    /// The key (type 0x01).
    pub key: VerifierKey,
    /// When the authority issued the statement.
    pub issued_at: Timestamp,
    /// Why (revocations, usually).
    pub reason: Option<String>,
}

impl KeyStatement {
    /// The canonical CBOR payload.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut m = cbor::Map::new();
        m.insert("v", KEY_STATEMENT_VERSION);
        m.insert(
            "action",
            match self.action {
                KeyAction::Register => "register",
                KeyAction::Revoke => "revoke",
            },
        );
        m.insert("role", self.role.as_str());
        m.insert("key", self.key.to_string());
        m.insert("issued_at", self.issued_at.millis());
        if let Some(r) = &self.reason {
            m.insert("reason", r.as_str());
        }
        cbor::encode(&CBOR::from(m))
    }

    /// Decode strictly.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, EntryError> {
        let c = cbor::decode(bytes)?;
        let mut f = Fields::new(&c, "key_statement")?;
        if cbor::uint(f.required("v")?, "key_statement.v")? != KEY_STATEMENT_VERSION {
            return Err(EntryError::Statement("unsupported version"));
        }
        let action = match cbor::text(f.required("action")?, "key_statement.action")? {
            "register" => KeyAction::Register,
            "revoke" => KeyAction::Revoke,
            _ => return Err(EntryError::Statement("action must be register or revoke")),
        };
        let role = KeyRole::parse(cbor::text(f.required("role")?, "key_statement.role")?)
            .ok_or(EntryError::Statement("role must be gate or operator"))?;
        let key = VerifierKey::parse(cbor::text(f.required("key")?, "key_statement.key")?)?;
        if key.key_type() != crate::keys::KeyType::Ed25519 {
            return Err(EntryError::Statement("registered keys are Ed25519 (type 0x01)"));
        }
        let issued_at = Timestamp::from_millis(cbor::uint(f.required("issued_at")?, "key_statement.issued_at")?)
            .map_err(|_| FieldError::new("key_statement.issued_at", "time out of range"))?;
        let reason = match f.optional("reason") {
            Some(r) => {
                let r = cbor::text(r, "key_statement.reason")?;
                if r.is_empty() || r.len() > crate::receipt::MAX_MESSAGE_BYTES {
                    return Err(EntryError::Statement("reason must be 1 to 4096 bytes"));
                }
                Some(r.to_owned())
            }
            None => None,
        };
        f.finish()?;
        let s = KeyStatement {
            action,
            role,
            key,
            issued_at,
            reason,
        };
        if s.to_cbor() != bytes {
            return Err(EntryError::Statement("not in canonical form"));
        }
        Ok(s)
    }

    /// Sign as an authority: the body of a `key` entry.
    pub fn sign(&self, authority: &SignerKey) -> Result<Vec<u8>, EntryError> {
        Ok(cose::sign(&self.to_cbor(), KEY_CONTENT_TYPE, authority)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples;

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms).unwrap()
    }

    /// `dcbor`'s encoding of an entry, which `to_cbor` must equal.
    fn by_dcbor(e: &Entry) -> Vec<u8> {
        cbor::encode(&CBOR::from(vec![
            CBOR::from(e.kind().as_str()),
            CBOR::from(e.integrated_at().millis()),
            CBOR::to_byte_string(e.body()),
        ]))
    }

    /// The field-by-field decoder and the reference decoder agree on every
    /// one-bit mutation and truncation of an entry; the fast path reads
    /// every valid entry.
    #[test]
    fn fast_decode_agrees_with_the_reference() {
        let e = Entry::new(
            EntryKind::Receipt,
            at(examples::EXAMPLE_NOW_MS),
            examples::signed_receipt(9),
        )
        .unwrap();
        let bytes = e.to_cbor();
        assert_eq!(bytes, by_dcbor(&e));
        assert!(Entry::canonical_parts(&bytes).is_some());
        assert_eq!(Entry::from_cbor(&bytes).unwrap(), e);
        let mut accepted = 0;
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let fast = Entry::from_cbor(&b);
            assert_eq!(fast, Entry::from_cbor_reference(&b), "bit {bit}");
            if fast.is_ok() {
                assert!(
                    Entry::canonical_parts(&b).is_some(),
                    "bit {bit}: the fast path missed it"
                );
                accepted += 1;
            }
        }
        assert!(accepted > 8 * 1000, "{accepted}");
        for cut in 0..bytes.len() {
            assert_eq!(
                Entry::from_cbor(&bytes[..cut]),
                Entry::from_cbor_reference(&bytes[..cut])
            );
        }
    }

    #[test]
    fn receipt_entries_round_trip_and_hash_their_encoding() {
        let body = examples::signed_receipt(3);
        let e = Entry::new(EntryKind::Receipt, at(examples::EXAMPLE_NOW_MS), body.clone()).unwrap();
        let bytes = e.to_cbor();
        assert_eq!(Entry::from_cbor(&bytes).unwrap(), e);
        assert_eq!(e.leaf_hash(), Sha256::hash_leaf(&bytes));
        let signed = e.receipt().unwrap();
        assert_eq!(
            signed.verify(&examples::gate_key().verifier()).unwrap(),
            &examples::receipt(3)
        );
    }

    #[test]
    fn the_largest_receipt_fits_an_entry_bundle() {
        // The longest key name and the largest payload: the entry is still
        // at most 65,535 bytes, what a tlog-tiles entry bundle holds.
        use crate::keys::{KeyType, MAX_KEY_NAME_BYTES};
        use crate::receipt::MAX_RECEIPT_BYTES;
        let key = SignerKey::from_seed(&"g".repeat(MAX_KEY_NAME_BYTES), KeyType::Ed25519, &[9; 32]).unwrap();
        let body = cose::sign(&vec![0x41; MAX_RECEIPT_BYTES], RECEIPT_CONTENT_TYPE, &key).unwrap();
        assert!(body.len() <= MAX_ENTRY_BODY_BYTES, "{}", body.len());
        let e = Entry::new(EntryKind::Receipt, Timestamp::MAX, body.clone()).unwrap();
        assert!(e.to_cbor().len() <= MAX_ENTRY_BYTES);
        assert_eq!(e.to_cbor(), by_dcbor(&e));
        let first = Entry::new(EntryKind::Receipt, Timestamp::EPOCH, body).unwrap();
        assert_eq!(first.to_cbor(), by_dcbor(&first));
        // One byte over the body limit is refused.
        let big = cose::sign(&vec![0x41; MAX_ENTRY_BODY_BYTES], RECEIPT_CONTENT_TYPE, &key).unwrap();
        assert!(matches!(
            Entry::new(EntryKind::Receipt, Timestamp::MAX, big),
            Err(EntryError::Encoding(CborError::TooLarge { .. }))
        ));
    }

    #[test]
    fn entries_refuse_wrong_bodies_and_shapes() {
        let body = examples::signed_receipt(3);
        // A receipt body in a key entry has the wrong content type.
        assert!(matches!(
            Entry::new(EntryKind::Key, at(0), body.clone()),
            Err(EntryError::Body(CoseError::WrongContentType { .. }))
        ));
        let bad_type = cbor::encode(&CBOR::from(vec![
            CBOR::from("other"),
            CBOR::from(0u64),
            CBOR::to_byte_string(&body),
        ]));
        assert!(matches!(Entry::from_cbor(&bad_type), Err(EntryError::UnknownType(_))));
        let two = cbor::encode(&CBOR::from(vec![CBOR::from("receipt"), CBOR::from(0u64)]));
        assert!(matches!(Entry::from_cbor(&two), Err(EntryError::Schema(_))));
        let mut trailing = Entry::new(EntryKind::Receipt, at(0), body).unwrap().to_cbor();
        trailing.push(0);
        assert!(matches!(
            Entry::from_cbor(&trailing),
            Err(EntryError::Encoding(CborError::TrailingBytes(1)))
        ));
    }

    #[test]
    fn key_statements_round_trip_and_are_strict() {
        let s = KeyStatement {
            action: KeyAction::Register,
            role: KeyRole::Gate,
            key: examples::gate_key().verifier(),
            issued_at: at(examples::EXAMPLE_NOW_MS),
            reason: None,
        };
        let body = s.sign(&examples::authority_key()).unwrap();
        let e = Entry::new(EntryKind::Key, at(examples::EXAMPLE_NOW_MS), body).unwrap();
        let msg = e.sign1().unwrap();
        msg.verify(&examples::authority_key().verifier()).unwrap();
        assert_eq!(KeyStatement::from_cbor(msg.payload()).unwrap(), s);
        let mut m = cbor::Map::new();
        m.insert("v", 1u64);
        m.insert("action", "rotate");
        assert!(matches!(
            KeyStatement::from_cbor(&cbor::encode(&CBOR::from(m))),
            Err(EntryError::Schema(_) | EntryError::Statement(_))
        ));
        let witness = examples::witness_key().verifier();
        let cose_key = KeyStatement { key: witness, ..s };
        assert!(matches!(
            KeyStatement::from_cbor(&cose_key.to_cbor()),
            Err(EntryError::Statement(_))
        ));
    }
}
