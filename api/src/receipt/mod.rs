//! Decision receipts: what a gate decided, on what, under which policy,
//! with which human approval and token lineage.
//!
//! A [`Receipt`] can only exist in a valid state: it is built from
//! [`ReceiptParts`] by [`Receipt::new`], which checks every field and every
//! rule between fields, or decoded from CBOR by [`Receipt::from_cbor`], which
//! additionally requires the bytes to be the receipt's one canonical
//! encoding. Its JSON view (serde) has the same shape as the CBOR; the
//! mapping differs only at the typed paths of [`VIEW`] (times and digests).
//! `docs/spec.md` §Receipt is the normative description.

mod decode;
#[cfg(test)]
mod decode_tests;
#[cfg(test)]
mod tests;
mod types;
mod validate;

pub use types::*;
pub use validate::{
    MAX_DETERMINING_RULES, MAX_ERRORS, MAX_FREEFORM_DEPTH, MAX_FREEFORM_ENTRIES, MAX_IDEMPOTENCY_KEY_BYTES,
    MAX_LINEAGE_LINKS, MAX_MESSAGE_BYTES, MAX_NAME_BYTES, check_request,
};

use crate::cbor::{self, CborError};
use crate::cose::{CoseError, Sign1};
use crate::keys::{SignerKey, VerifierKey};
use crate::merkle::{Hash, MerkleHasher, Sha256};
use crate::view::{self, ViewError, ViewSchema};

/// The receipt format version this crate writes and reads.
pub const RECEIPT_VERSION: u64 = 1;
/// Largest receipt payload (CBOR) accepted, in bytes.
pub const MAX_RECEIPT_BYTES: usize = 65_000;
/// COSE content type of a signed receipt's payload.
pub const RECEIPT_CONTENT_TYPE: &str = "application/vnd.cairn.receipt.v1+cbor";
/// Domain separation string of the break-glass counter-signature.
pub const BREAK_GLASS_CONTEXT: &str = "cairn/break-glass/v1";

/// The typed paths of the receipt's JSON view (see [`crate::view`]).
pub const VIEW: ViewSchema = ViewSchema {
    times: &[
        "decided_at",
        "nd_inputs.clock",
        "approval.requested_at",
        "approval.responded_at",
        "approval.expires_at",
        "lineage[].iat",
        "lineage[].exp",
        "break_glass.expires_at",
    ],
    bytes: &[
        "policy.bundle_hash",
        "initiator.request_digest",
        "approval.presented.shown_digest",
        "approval.presented.arguments_digest",
        "lineage[].token_hash",
        "break_glass.signature",
    ],
};

/// A receipt was refused. Every variant is the fault of whoever built or
/// sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The payload is over [`MAX_RECEIPT_BYTES`] or not deterministic CBOR.
    #[error("receipt encoding: {0}")]
    Encoding(#[from] CborError),
    /// A value with no place in the format (float, stray byte string, tag).
    #[error("receipt value: {0}")]
    View(ViewError),
    /// Fields missing, unknown, or of the wrong type.
    #[error("receipt schema: {0}")]
    Schema(String),
    /// A field breaks a rule of the format (the path and rule are named).
    #[error("invalid receipt field {path}: {rule}")]
    Invalid {
        /// Dotted path of the field.
        path: String,
        /// The rule it breaks.
        rule: String,
    },
    /// Decodes, but is not the receipt's canonical encoding (for example an
    /// explicit null where the field should be absent).
    #[error("receipt is not in canonical form: {0}")]
    NonCanonical(&'static str),
    /// The break-glass counter-signature does not verify.
    #[error("break-glass signature does not verify under {0}")]
    BadBreakGlassSignature(String),
    /// The receipt has no break-glass block to sign or verify.
    #[error("receipt has no break-glass block")]
    NoBreakGlass,
    /// The break-glass block names a key that is not an operator key
    /// registered (and not revoked) at this point of the log.
    #[error("break-glass by {0}, not an operator key registered at this point")]
    UnregisteredOperator(String),
    /// The COSE_Sign1 around the receipt is malformed or does not verify.
    #[error("signed receipt: {0}")]
    Cose(#[from] CoseError),
    /// The receipt's `gate` is not the name of the key that signed it.
    #[error("receipt names gate {gate:?} but is signed by {signer:?}")]
    GateMismatch {
        /// The receipt's `gate`.
        gate: String,
        /// The signing key's name (from the kid).
        signer: String,
    },
}

/// A gate-signed receipt: a canonical COSE_Sign1 whose payload is a valid
/// receipt naming, as its `gate`, the key that signed it. Parsing does not
/// check the signature; [`SignedReceipt::verify`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedReceipt {
    msg: Sign1,
    receipt: Receipt,
}

impl SignedReceipt {
    /// Parse the COSE_Sign1 bytes a gate submitted.
    pub fn parse(bytes: &[u8]) -> Result<Self, ReceiptError> {
        let msg = Sign1::parse(bytes, RECEIPT_CONTENT_TYPE)?;
        let receipt = Receipt::from_cbor(msg.payload())?;
        if receipt.parts.gate != msg.signer_name() {
            return Err(ReceiptError::GateMismatch {
                gate: receipt.parts.gate.clone(),
                signer: msg.signer_name().to_owned(),
            });
        }
        Ok(SignedReceipt { msg, receipt })
    }

    /// Sign a receipt as its gate (the key's name must be the receipt's `gate`).
    pub fn sign(receipt: Receipt, gate_key: &SignerKey) -> Result<(Self, Vec<u8>), ReceiptError> {
        if receipt.parts.gate != gate_key.name() {
            return Err(ReceiptError::GateMismatch {
                gate: receipt.parts.gate.clone(),
                signer: gate_key.name().to_owned(),
            });
        }
        let bytes = crate::cose::sign(receipt.as_cbor(), RECEIPT_CONTENT_TYPE, gate_key)?;
        let msg = Sign1::parse(&bytes, RECEIPT_CONTENT_TYPE)?;
        Ok((SignedReceipt { msg, receipt }, bytes))
    }

    /// The signer's key reference `name+hexid`.
    pub fn kid(&self) -> &str {
        self.msg.kid()
    }

    /// The receipt, not yet verified: for routing and error messages only.
    pub fn unverified(&self) -> &Receipt {
        &self.receipt
    }

    /// Verify the gate's signature (`verify_strict`) under `gate_key`, whose
    /// key reference must be the kid; returns the receipt it vouches for.
    pub fn verify(&self, gate_key: &VerifierKey) -> Result<&Receipt, ReceiptError> {
        self.msg.verify(gate_key)?;
        Ok(&self.receipt)
    }
}

/// A valid decision receipt, with its canonical encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    parts: ReceiptParts,
    cbor: Vec<u8>,
}

impl Receipt {
    /// Validate `parts` into a receipt.
    pub fn new(parts: ReceiptParts) -> Result<Self, ReceiptError> {
        validate::receipt(&parts)?;
        let json = serde_json::to_value(&parts).map_err(|e| ReceiptError::Schema(e.to_string()))?;
        let cbor = view::encode(&json, &VIEW)?;
        if cbor.len() > MAX_RECEIPT_BYTES {
            return Err(ReceiptError::Encoding(CborError::TooLarge {
                len: cbor.len(),
                limit: MAX_RECEIPT_BYTES,
            }));
        }
        Ok(Receipt { parts, cbor })
    }

    /// The receipt's fields.
    pub fn parts(&self) -> &ReceiptParts {
        &self.parts
    }

    /// Give back the fields.
    pub fn into_parts(self) -> ReceiptParts {
        self.parts
    }

    /// The canonical CBOR payload, borrowed.
    pub fn as_cbor(&self) -> &[u8] {
        &self.cbor
    }

    /// The JSON view.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.parts).unwrap_or(serde_json::Value::Null)
    }

    /// Read and validate a JSON view.
    pub fn from_json(json: &serde_json::Value) -> Result<Self, ReceiptError> {
        Self::from_json_value(json.clone())
    }

    fn from_json_value(json: serde_json::Value) -> Result<Self, ReceiptError> {
        let parts: ReceiptParts = serde_json::from_value(json).map_err(|e| ReceiptError::Schema(e.to_string()))?;
        Self::new(parts)
    }

    /// The canonical CBOR payload: what a gate signs and the ledger logs.
    pub fn to_cbor(&self) -> Vec<u8> {
        self.cbor.clone()
    }

    /// Decode a receipt payload: deterministic CBOR of at most
    /// [`MAX_RECEIPT_BYTES`], the closed schema, every validation rule, and
    /// canonical form (re-encoding gives the same bytes).
    ///
    /// Valid payloads are read straight into the typed fields (the `decode`
    /// module); anything that path does not accept is decoded again by
    /// [`Receipt::from_cbor_reference`], whose verdict and error are
    /// returned. The result is always the reference decoder's.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, ReceiptError> {
        if bytes.len() <= MAX_RECEIPT_BYTES
            && let Ok(parts) = decode::parts(bytes)
        {
            validate::receipt(&parts)?;
            return Ok(Receipt {
                parts,
                cbor: bytes.to_vec(),
            });
        }
        Self::from_cbor_reference(bytes)
    }

    /// The reference decoder: the payload decoded to its JSON view, read by
    /// serde, validated, encoded again and compared with the input. Slower
    /// than [`Receipt::from_cbor`], which it is the oracle of (in a
    /// differential test and a fuzz target) and whose errors it gives.
    pub fn from_cbor_reference(bytes: &[u8]) -> Result<Self, ReceiptError> {
        let json = view::decode(bytes, &VIEW, MAX_RECEIPT_BYTES)?;
        let r = Self::from_json_value(json)?;
        if r.cbor != bytes {
            return Err(ReceiptError::NonCanonical(
                "a field is null or present where it must be absent",
            ));
        }
        Ok(r)
    }

    /// SHA-256 of the canonical CBOR of the request: what approval digests and
    /// the break-glass signature bind to.
    pub fn request_hash(&self) -> Hash {
        request_hash(&self.parts.request)
    }

    /// The one break-glass rule (docs/spec.md 8.5), applied by the ledger at
    /// admission and by the verifier at audit: a receipt with a break-glass
    /// block is valid only when the block's `operator` is an operator key
    /// registered and not revoked at this point of the log (`operator`: the
    /// caller's look-up of that key, `None` when the log does not say so)
    /// and its counter-signature verifies under it. A receipt without a
    /// block passes.
    pub fn check_break_glass(&self, operator: Option<&VerifierKey>) -> Result<(), ReceiptError> {
        let Some(bg) = &self.parts.break_glass else {
            return Ok(());
        };
        match operator {
            Some(op) if op.key_ref() == bg.operator => self.verify_break_glass(op),
            _ => Err(ReceiptError::UnregisteredOperator(bg.operator.clone())),
        }
    }

    /// Verify the break-glass counter-signature under `operator` (whose key
    /// reference must be the block's `operator`).
    pub fn verify_break_glass(&self, operator: &VerifierKey) -> Result<(), ReceiptError> {
        let bg = self.parts.break_glass.as_ref().ok_or(ReceiptError::NoBreakGlass)?;
        if bg.operator != operator.key_ref()
            || !operator.verify(
                &break_glass_message(&self.parts.receipt_id, &self.parts.gate, bg, &self.parts.request),
                &bg.signature.0,
            )
        {
            return Err(ReceiptError::BadBreakGlassSignature(operator.key_ref()));
        }
        Ok(())
    }
}

/// SHA-256 of the canonical CBOR of a request.
pub fn request_hash(request: &Request) -> Hash {
    // A request in a valid receipt always encodes; one that does not (never
    // validated) hashes as the empty map would.
    let json = serde_json::to_value(request).unwrap_or(serde_json::Value::Null);
    let bytes = view::encode(&json, &ViewSchema { times: &[], bytes: &[] }).unwrap_or_else(|_| vec![0xa0]);
    Sha256::digest(&[&bytes])
}

/// The bytes an operator signs to authorise a break-glass override: the
/// deterministic CBOR array `["cairn/break-glass/v1", receipt_id, gate,
/// operator, justification, expires_at, request_hash]`.
pub fn break_glass_message(receipt_id: &str, gate: &str, bg: &BreakGlass, request: &Request) -> Vec<u8> {
    cbor::encode(&cbor::CBOR::from(vec![
        cbor::CBOR::from(BREAK_GLASS_CONTEXT),
        cbor::CBOR::from(receipt_id),
        cbor::CBOR::from(gate),
        cbor::CBOR::from(bg.operator.as_str()),
        cbor::CBOR::from(bg.justification.as_str()),
        cbor::CBOR::from(bg.expires_at.millis()),
        cbor::CBOR::to_byte_string(request_hash(request).0),
    ]))
}

impl BreakGlass {
    /// A break-glass block signed by `operator` for this receipt's id, gate
    /// and request.
    pub fn sign(
        operator: &SignerKey,
        justification: &str,
        expires_at: crate::timestamp::Timestamp,
        receipt_id: &str,
        gate: &str,
        request: &Request,
    ) -> BreakGlass {
        let mut bg = BreakGlass {
            operator: operator.verifier().key_ref(),
            justification: justification.to_owned(),
            expires_at,
            signature: Signature64([0; 64]),
        };
        bg.signature = Signature64(operator.sign(&break_glass_message(receipt_id, gate, &bg, request)));
        bg
    }
}

impl From<ViewError> for ReceiptError {
    fn from(e: ViewError) -> Self {
        match e {
            ViewError::Encoding(e) => ReceiptError::Encoding(e),
            other => ReceiptError::View(other),
        }
    }
}

impl serde::Serialize for Receipt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.parts.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Receipt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Receipt::new(ReceiptParts::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
