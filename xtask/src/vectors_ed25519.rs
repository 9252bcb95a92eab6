//! Ed25519 edge cases as COSE vectors (spec sections 3 and 7: keys of
//! small order are refused when loaded, signatures pass `verify_strict`):
//! cases that RFC 8032's cofactorless check, or OpenSSL's, would accept.

use cairn_api::keys::KeyType;
use cairn_api::receipt::RECEIPT_CONTENT_TYPE;
use cairn_api::{cose, examples};
use serde_json::json;

use crate::vectors::Case;

/// The group order L, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];
/// The identity point.
const IDENTITY: [u8; 32] = {
    let mut p = [0u8; 32];
    p[0] = 1;
    p
};
/// A point of order 8.
const ORDER_8: [u8; 32] = [
    0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53,
    0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
];

/// A verifier-key string for raw key material under `name`.
fn vkey(name: &str, pk: &[u8; 32]) -> String {
    use base64::Engine as _;
    let id = cairn_api::keys::key_id(name, KeyType::Ed25519, pk);
    let mut raw = vec![1u8];
    raw.extend_from_slice(pk);
    format!(
        "{name}+{id:08x}+{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// `message` re-pointed at `kid` and given `signature` (R ‖ S), keeping
/// cairn's exact COSE form.
fn forge(message: &[u8], old_kid: &str, new_kid: &str, signature: &[u8; 64]) -> Vec<u8> {
    let mut b = message.to_vec();
    if let Some(at) = b.windows(old_kid.len()).position(|w| w == old_kid.as_bytes()) {
        b.splice(at..at + old_kid.len(), new_kid.bytes());
    }
    let n = b.len();
    b[n - 64..].copy_from_slice(signature);
    b
}

/// `s + L` (little-endian), which stays below 2^256 for any canonical `s`.
fn plus_l(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(s[i]) + u16::from(L[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
}

/// The cases; `check` gives each its expected outcome.
pub fn cases(out: &mut Vec<Case>, check: &dyn Fn(&[u8], &str) -> serde_json::Value) {
    let gate = examples::gate_key();
    let good = examples::signed_receipt(1);
    let kid = gate.verifier().key_ref();
    let mut push = |name: &str, desc: &str, bytes: Vec<u8>, key: String| {
        out.push((
            format!("cose/ed25519-{name}"),
            json!({
                "desc": desc,
                "content_type": RECEIPT_CONTENT_TYPE,
                "cose_sign1": hex::encode(&bytes),
                "vkey": key,
                "expected": check(&bytes, &key),
            }),
        ));
    };
    // S + L: the same signature to a verifier that reduces S mod L.
    let n = good.len();
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&good[n - 64..]);
    let big_s = plus_l(&sig[32..]);
    sig[32..].copy_from_slice(&big_s);
    push(
        "non-canonical-s",
        "the gate's signature with S + L in place of S (S must be below L)",
        forge(&good, &kid, &kid, &sig),
        gate.verifier().to_string(),
    );
    // A key of order 8 with R = identity and S = 0: [S]B = R + [k]A holds
    // after the cofactor for every message; a strict verifier refuses the
    // key when it is loaded.
    for (name, pk, desc) in [
        (
            "small-order-key",
            ORDER_8,
            "a public key of order 8, R = identity, S = 0",
        ),
        (
            "identity-key",
            IDENTITY,
            "the identity as public key, R = identity, S = 0",
        ),
    ] {
        let key = vkey(gate.name(), &pk);
        let new_kid = key.rsplit_once('+').map_or(String::new(), |(k, _)| k.to_owned());
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&IDENTITY);
        push(name, desc, forge(&good, &kid, &new_kid, &sig), key);
    }
    // A small-order R under the real key: the equation fails, and
    // verify_strict refuses a small-order R before trying it.
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&ORDER_8);
    push(
        "small-order-r",
        "the gate's key, R of order 8, S = 0",
        forge(&good, &kid, &kid, &sig),
        gate.verifier().to_string(),
    );
    // The payload signed correctly, re-signed: a sanity case that passes.
    let payload = examples::receipt(1).to_cbor();
    let resigned = cose::sign(&payload, RECEIPT_CONTENT_TYPE, &gate).unwrap_or_default();
    push(
        "valid",
        "the gate's own signature (Ed25519 is deterministic: the same bytes)",
        resigned,
        gate.verifier().to_string(),
    );
}
