//! What one entry writes besides its bytes: its leaf hash and the rows of
//! the indexes admission and queries read (receipt fields, idempotency
//! key, key events, archived bundles).

use cairn_api::entry::{Entry, EntryError, EntryKind, KeyAction, KeyRole, KeyStatement};
use cairn_api::keys::VerifierKey;
use cairn_api::merkle::{Hash, MerkleHasher, Sha256};
use cairn_api::policy::{Bundle, BundleError};
use cairn_api::receipt::ReceiptParts;

use super::Field;

/// What the indexes record about a receipt entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptIndex {
    /// (field, value) pairs.
    pub fields: Vec<(Field, String)>,
    /// `decided_at`, milliseconds.
    pub decided_at: u64,
    /// Whether it carries a break-glass override.
    pub break_glass: bool,
    /// The gate and its idempotency key.
    pub idempotency: (String, String),
}

/// A key registration or revocation, as the key index records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    /// The key.
    pub key: VerifierKey,
    /// True for a registration, false for a revocation.
    pub registered: bool,
    /// What the key may sign.
    pub role: KeyRole,
}

impl KeyEvent {
    /// The event a key statement records.
    pub fn of(s: &KeyStatement) -> Self {
        KeyEvent {
            key: s.key.clone(),
            registered: s.action == KeyAction::Register,
            role: s.role,
        }
    }

    /// The key reference `name+hexid`.
    pub fn key_ref(&self) -> String {
        self.key.key_ref()
    }
}

/// One entry of a batch, with what the indexes need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRecord {
    /// The entry's canonical bytes.
    pub bytes: Vec<u8>,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// For receipt entries.
    pub receipt: Option<ReceiptIndex>,
    /// For key entries.
    pub key: Option<KeyEvent>,
    /// For policy entries: the bundle hash.
    pub bundle: Option<Hash>,
}

/// An entry's index rows could not be derived: the entry is not what its
/// type says. The submitter's fault (the sequencer refuses such entries
/// before they reach a batch).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The entry or its body is malformed.
    #[error("entry: {0}")]
    Entry(#[from] EntryError),
    /// A policy entry's body is not a valid bundle.
    #[error("policy bundle: {0}")]
    Bundle(#[from] BundleError),
    /// An entry type this ledger does not index.
    #[error("entry type {0:?} is not one this ledger knows")]
    UnknownKind(EntryKind),
}

impl ReceiptIndex {
    /// The index rows of a receipt.
    pub fn of(p: &ReceiptParts) -> Self {
        ReceiptIndex {
            fields: vec![
                (Field::Subject, p.request.subject.id.clone()),
                (Field::Surface, p.request.resource.kind.clone()),
                (Field::Action, p.request.action.name.clone()),
                (Field::Target, p.request.resource.id.clone()),
                (Field::Decision, p.decision.as_str().to_owned()),
                (Field::Gate, p.gate.clone()),
            ],
            decided_at: p.decided_at.millis(),
            break_glass: p.break_glass.is_some(),
            idempotency: (p.gate.clone(), p.idempotency_key.clone()),
        }
    }
}

impl EntryRecord {
    fn bare(entry: &Entry) -> Self {
        let bytes = entry.to_cbor();
        EntryRecord {
            leaf_hash: Sha256::hash_leaf(&bytes),
            bytes,
            receipt: None,
            key: None,
            bundle: None,
        }
    }

    /// The record of a receipt entry whose receipt the caller has already
    /// decoded (the submit path), so it is not decoded again.
    pub fn for_receipt(entry: &Entry, receipt: &ReceiptParts) -> Self {
        EntryRecord {
            receipt: Some(ReceiptIndex::of(receipt)),
            ..Self::bare(entry)
        }
    }

    /// The record of a policy entry whose bundle hash the caller knows.
    pub fn for_bundle(entry: &Entry, bundle_hash: Hash) -> Self {
        EntryRecord {
            bundle: Some(bundle_hash),
            ..Self::bare(entry)
        }
    }

    /// The record of an entry, decoding its body: bytes, leaf hash, index rows.
    pub fn from_entry(entry: &Entry) -> Result<Self, RecordError> {
        Ok(match entry.kind() {
            EntryKind::Receipt => Self::for_receipt(entry, entry.receipt()?.unverified().parts()),
            EntryKind::Key => {
                let s = KeyStatement::from_cbor(entry.sign1()?.payload())?;
                EntryRecord {
                    key: Some(KeyEvent::of(&s)),
                    ..Self::bare(entry)
                }
            }
            EntryKind::Policy => Self::for_bundle(entry, Bundle::from_bytes(entry.sign1()?.payload())?.hash()),
            other => return Err(RecordError::UnknownKind(other)),
        })
    }
}
