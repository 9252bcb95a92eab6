//! COSE_Sign1 (RFC 9052) with Ed25519, through `coset`.
//!
//! cairn's signed objects (receipts, key entries, policy bundles) are tagged
//! COSE_Sign1 messages (CBOR tag 18) with:
//! - a protected header holding exactly `alg` = EdDSA (-8), `content type`
//!   (a text string naming the payload format) and `kid` (the UTF-8 bytes
//!   of the signer's key reference `name+hexid`);
//! - an empty unprotected header;
//! - an attached payload;
//! - a 64-byte Ed25519 signature over the RFC 9052 `Sig_structure`
//!   (`["Signature1", protected, h'', payload]`), with no external AAD.
//!
//! Parsing is strict: the bytes must be deterministic CBOR (see
//! [`crate::cbor`]) and must be exactly the encoding that [`sign`] would
//! produce for the same fields, so a message has one encoding. Verification
//! uses `verify_strict` only, against a key whose reference equals the kid.

use coset::{CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable as _, iana};

use crate::cbor;
use crate::keys::{KeyType, SignerKey, VerifierKey};

/// Largest COSE_Sign1 message accepted, in bytes.
pub const MAX_COSE_BYTES: usize = 2 * 1024 * 1024;

/// A COSE message could not be parsed, signed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoseError {
    /// Not deterministic CBOR, or over the size limit (the submitter's fault).
    #[error("COSE encoding: {0}")]
    Encoding(#[from] cbor::CborError),
    /// Not a tagged COSE_Sign1 structure.
    #[error("not a tagged COSE_Sign1 message: {0}")]
    Malformed(String),
    /// Well-formed, but not the single canonical form cairn accepts.
    #[error("COSE_Sign1 not in cairn's canonical form: {0}")]
    NonCanonical(&'static str),
    /// The algorithm is not EdDSA (-8).
    #[error("algorithm must be EdDSA (-8), found {0}")]
    WrongAlgorithm(String),
    /// No kid, or a kid that is not `name+hexid`.
    #[error("kid missing or not a key reference name+hexid")]
    BadKid,
    /// The content type is missing or not the one expected.
    #[error("content type {found:?}, expected {expected:?}")]
    WrongContentType {
        /// In the message.
        found: Option<String>,
        /// Required by the caller.
        expected: String,
    },
    /// The payload is detached.
    #[error("payload is detached; cairn requires it attached")]
    DetachedPayload,
    /// The signature is not 64 bytes.
    #[error("signature is {0} bytes, Ed25519 signatures are 64")]
    BadSignatureLength(usize),
    /// The kid names another key than the one checked against.
    #[error("message kid {kid} is not key {key}")]
    KeyMismatch {
        /// In the message.
        kid: String,
        /// The key offered.
        key: String,
    },
    /// The key is not an Ed25519 signing key (type 0x01).
    #[error("key {0} is not an Ed25519 (type 0x01) key")]
    WrongKeyType(String),
    /// The signature does not verify (strictly) under the key.
    #[error("signature does not verify under key {0}")]
    BadSignature(String),
}

/// A parsed, canonical COSE_Sign1 message. Parsing does not verify it: call
/// [`Sign1::verify`] before trusting the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sign1 {
    kid: String,
    content_type: String,
    payload: Vec<u8>,
    signature: [u8; 64],
    tbs: Vec<u8>,
}

fn build(kid: &str, content_type: &str, payload: &[u8]) -> CoseSign1Builder {
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .content_type(content_type.to_owned())
        .key_id(kid.as_bytes().to_vec())
        .build();
    CoseSign1Builder::new().protected(protected).payload(payload.to_vec())
}

/// Sign `payload` as a tagged COSE_Sign1 with `signer` (a type 0x01 key).
pub fn sign(payload: &[u8], content_type: &str, signer: &SignerKey) -> Result<Vec<u8>, CoseError> {
    if signer.key_type() != KeyType::Ed25519 {
        return Err(CoseError::WrongKeyType(signer.name().to_owned()));
    }
    let kid = signer.verifier().key_ref();
    let msg = build(&kid, content_type, payload)
        .create_signature(&[], |tbs| signer.sign(tbs).to_vec())
        .build();
    let bytes = msg
        .to_tagged_vec()
        .map_err(|e| CoseError::Malformed(format!("{e:?}")))?;
    if bytes.len() > MAX_COSE_BYTES {
        return Err(CoseError::Encoding(cbor::CborError::TooLarge {
            len: bytes.len(),
            limit: MAX_COSE_BYTES,
        }));
    }
    Ok(bytes)
}

fn check_kid(kid: &[u8]) -> Result<String, CoseError> {
    let kid = std::str::from_utf8(kid).map_err(|_| CoseError::BadKid)?;
    let (name, id) = kid.rsplit_once('+').ok_or(CoseError::BadKid)?;
    crate::keys::check_key_name(name).map_err(|_| CoseError::BadKid)?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(CoseError::BadKid);
    }
    Ok(kid.to_owned())
}

/// The canonical layout [`sign`] writes, read field by field: tag 18, an
/// array of four, the protected header `{1: -8, 3: content type, 4: kid}`,
/// an empty unprotected map, the payload, a 64-byte signature, nothing
/// after. Every header in shortest form. `None` for anything else.
fn parse_canonical(bytes: &[u8], content_type: &str) -> Option<Sign1> {
    if bytes.len() > MAX_COSE_BYTES {
        return None;
    }
    let mut c = cbor::Cursor::new(bytes);
    let expect = |c: &mut cbor::Cursor<'_>, want: (u8, u64)| match c.head() {
        Ok((major, _, arg)) if (major, arg) == want => Some(()),
        _ => None,
    };
    expect(&mut c, (6, 18))?;
    expect(&mut c, (4, 4))?;
    let protected = c.bytes()?;
    let mut p = cbor::Cursor::new(protected);
    expect(&mut p, (5, 3))?;
    expect(&mut p, (0, 1))?;
    expect(&mut p, (1, 7))?;
    expect(&mut p, (0, 3))?;
    let ct = match p.head().ok()? {
        (3, _, n) => p.take(n).ok()?,
        _ => return None,
    };
    expect(&mut p, (0, 4))?;
    let kid = p.bytes()?;
    if p.remaining() != 0 || ct != content_type.as_bytes() {
        return None;
    }
    let kid = check_kid(kid).ok()?;
    expect(&mut c, (5, 0))?;
    let payload = c.bytes()?;
    let signature = <[u8; 64]>::try_from(c.bytes()?).ok()?;
    if c.remaining() != 0 {
        return None;
    }
    // RFC 9052 Sig_structure: ["Signature1", protected, h'', payload].
    let mut tbs = Vec::with_capacity(protected.len() + payload.len() + 24);
    tbs.extend_from_slice(b"\x84\x6aSignature1");
    cbor::write_header(&mut tbs, 2, protected.len() as u64);
    tbs.extend_from_slice(protected);
    tbs.push(0x40);
    cbor::write_header(&mut tbs, 2, payload.len() as u64);
    tbs.extend_from_slice(payload);
    Some(Sign1 {
        kid,
        content_type: content_type.to_owned(),
        payload: payload.to_vec(),
        signature,
        tbs,
    })
}

impl Sign1 {
    /// Parse a tagged COSE_Sign1 whose content type must be `content_type`.
    ///
    /// A message in the canonical layout is read field by field; anything
    /// else is parsed again by [`Sign1::parse_reference`], whose verdict
    /// and error are returned, so the result is always the reference
    /// parser's.
    pub fn parse(bytes: &[u8], content_type: &str) -> Result<Self, CoseError> {
        match parse_canonical(bytes, content_type) {
            Some(msg) => Ok(msg),
            None => Self::parse_reference(bytes, content_type),
        }
    }

    /// The reference parser: deterministic CBOR decoded in full, the
    /// message read by `coset`, every header checked, then encoded again
    /// by [`sign`]'s rules and compared with the input. The oracle of
    /// [`Sign1::parse`] (a differential test, the `cose` fuzz target).
    pub fn parse_reference(bytes: &[u8], content_type: &str) -> Result<Self, CoseError> {
        cbor::decode_with_limit(bytes, MAX_COSE_BYTES)?;
        let msg = CoseSign1::from_tagged_slice(bytes).map_err(|e| CoseError::Malformed(format!("{e:?}")))?;
        let h = &msg.protected.header;
        match &h.alg {
            Some(coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::EdDSA)) => {}
            other => return Err(CoseError::WrongAlgorithm(format!("{other:?}"))),
        }
        let found = match &h.content_type {
            Some(coset::ContentType::Text(t)) => Some(t.clone()),
            Some(other) => Some(format!("{other:?}")),
            None => None,
        };
        if found.as_deref() != Some(content_type) {
            return Err(CoseError::WrongContentType {
                found,
                expected: content_type.to_owned(),
            });
        }
        let kid = check_kid(&h.key_id)?;
        let payload = msg.payload.clone().ok_or(CoseError::DetachedPayload)?;
        let signature = <[u8; 64]>::try_from(msg.signature.as_slice())
            .map_err(|_| CoseError::BadSignatureLength(msg.signature.len()))?;
        // Exactly the bytes `sign` would write for these fields: no other
        // header parameters, no unprotected header, canonical protected map.
        let mut canonical = build(&kid, content_type, &payload).build();
        canonical.signature = signature.to_vec();
        let canonical = canonical
            .to_tagged_vec()
            .map_err(|e| CoseError::Malformed(format!("{e:?}")))?;
        if canonical != bytes {
            return Err(CoseError::NonCanonical(
                "extra header parameters, a non-empty unprotected header, or non-canonical headers",
            ));
        }
        let tbs = msg.tbs_data(&[]);
        Ok(Sign1 {
            kid,
            content_type: content_type.to_owned(),
            payload,
            signature,
            tbs,
        })
    }

    /// The message's bytes: the one canonical encoding of its fields, which
    /// [`Sign1::parse`] required the input to be.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut msg = build(&self.kid, &self.content_type, &self.payload).build();
        msg.signature = self.signature.to_vec();
        // Encoding a CoseSign1 built from valid fields cannot fail; an empty
        // result would fail every later parse.
        msg.to_tagged_vec().unwrap_or_default()
    }

    /// The signer's key reference `name+hexid` from the kid.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key name part of the kid.
    pub fn signer_name(&self) -> &str {
        self.kid.rsplit_once('+').map_or("", |(n, _)| n)
    }

    /// The content type.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The payload (untrusted until [`Sign1::verify`] succeeds).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Verify under `key`: the kid must name it and the signature must pass
    /// `verify_strict`.
    pub fn verify(&self, key: &VerifierKey) -> Result<(), CoseError> {
        if key.key_type() != KeyType::Ed25519 {
            return Err(CoseError::WrongKeyType(key.name().to_owned()));
        }
        if key.key_ref() != self.kid {
            return Err(CoseError::KeyMismatch {
                kid: self.kid.clone(),
                key: key.key_ref(),
            });
        }
        if !key.verify(&self.tbs, &self.signature) {
            return Err(CoseError::BadSignature(key.key_ref()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "application/test+cbor";

    fn key(seed: u8) -> SignerKey {
        SignerKey::from_seed("gate.example/g1", KeyType::Ed25519, &[seed; 32]).unwrap()
    }

    #[test]
    fn sign_parse_verify() {
        let k = key(1);
        let bytes = sign(b"\xa1\x61a\x01", CT, &k).unwrap();
        assert_eq!(bytes[0], 0xd2, "tag 18");
        let m = Sign1::parse(&bytes, CT).unwrap();
        assert_eq!(m.payload(), b"\xa1\x61a\x01");
        assert_eq!(m.kid(), k.verifier().key_ref());
        assert_eq!(m.signer_name(), "gate.example/g1");
        m.verify(&k.verifier()).unwrap();
        assert_eq!(m.to_bytes(), bytes);
    }

    #[test]
    fn failures_have_their_own_variants() {
        let k = key(1);
        let bytes = sign(b"payload", CT, &k).unwrap();
        // Wrong key with the same name: another key ID, so another kid.
        let other = key(2).verifier();
        assert!(matches!(
            Sign1::parse(&bytes, CT).unwrap().verify(&other),
            Err(CoseError::KeyMismatch { .. })
        ));
        // Flipped payload bit.
        let mut flipped = bytes.clone();
        let at = flipped.windows(7).position(|w| w == b"payload").unwrap();
        flipped[at] ^= 1;
        assert!(matches!(
            Sign1::parse(&flipped, CT).unwrap().verify(&k.verifier()),
            Err(CoseError::BadSignature(_))
        ));
        // Other content type.
        assert!(matches!(
            Sign1::parse(&bytes, "other"),
            Err(CoseError::WrongContentType { .. })
        ));
        // Trailing bytes.
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            Sign1::parse(&trailing, CT),
            Err(CoseError::Encoding(cbor::CborError::TrailingBytes(1)))
        ));
        // Untagged.
        assert!(matches!(Sign1::parse(&bytes[1..], CT), Err(CoseError::Malformed(_))));
        // Another algorithm (ES256).
        let es = CoseSign1Builder::new()
            .protected(
                HeaderBuilder::new()
                    .algorithm(iana::Algorithm::ES256)
                    .content_type(CT.into())
                    .key_id(k.verifier().key_ref().into_bytes())
                    .build(),
            )
            .payload(b"p".to_vec())
            .create_signature(&[], |tbs| k.sign(tbs).to_vec())
            .build()
            .to_tagged_vec()
            .unwrap();
        assert!(matches!(Sign1::parse(&es, CT), Err(CoseError::WrongAlgorithm(_))));
        // An unprotected header parameter makes it non-canonical.
        let mut extra = CoseSign1::from_tagged_slice(&bytes).unwrap();
        extra.unprotected = HeaderBuilder::new().key_id(b"x".to_vec()).build();
        let extra = extra.to_tagged_vec().unwrap();
        assert!(matches!(Sign1::parse(&extra, CT), Err(CoseError::NonCanonical(_))));
        // A cosignature key cannot sign or verify receipts.
        let w = SignerKey::from_seed("w", KeyType::Cosignature, &[3; 32]).unwrap();
        assert!(matches!(sign(b"p", CT, &w), Err(CoseError::WrongKeyType(_))));
    }

    /// The field-by-field parser and the reference parser agree on every
    /// one-bit mutation and truncation of a signed receipt, and under the
    /// wrong content type; the fast path reads every valid message.
    #[test]
    fn fast_parse_agrees_with_the_reference() {
        let rct = crate::receipt::RECEIPT_CONTENT_TYPE;
        let bytes = crate::examples::signed_receipt(9);
        assert!(parse_canonical(&bytes, rct).is_some());
        assert_eq!(Sign1::parse(&bytes, rct), Sign1::parse_reference(&bytes, rct));
        assert!(Sign1::parse(&bytes, CT).is_err());
        assert_eq!(Sign1::parse(&bytes, CT), Sign1::parse_reference(&bytes, CT));
        let mut accepted = 0;
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let fast = Sign1::parse(&b, rct);
            assert_eq!(fast, Sign1::parse_reference(&b, rct), "bit {bit}");
            if fast.is_ok() {
                assert!(parse_canonical(&b, rct).is_some(), "bit {bit}: the fast path missed it");
                accepted += 1;
            }
        }
        // Flips in the payload and the signature stay well-formed.
        assert!(accepted > 8 * 1000, "{accepted}");
        for cut in 0..bytes.len() {
            assert_eq!(
                Sign1::parse(&bytes[..cut], rct),
                Sign1::parse_reference(&bytes[..cut], rct)
            );
        }
    }
}
