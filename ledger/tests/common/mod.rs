//! Helpers shared by the ledger's tests and benchmarks.
#![allow(dead_code)]

pub mod server;

use std::time::{SystemTime, UNIX_EPOCH};

use cairn_api::entry::{KeyAction, KeyRole, KeyStatement};
use cairn_api::examples;
use cairn_api::keys::SignerKey;
use cairn_api::policy::Bundle;
use cairn_api::receipt::{Receipt, SignedReceipt};
use cairn_api::timestamp::Timestamp;

/// The wall clock, in milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// A cairn-rules bundle with these rules.
pub fn bundle(id: &str, rules: &[u8]) -> Bundle {
    let mut files = std::collections::BTreeMap::new();
    files.insert("rules.toml".to_owned(), rules.to_vec());
    let engine = cairn_api::policy::registry::CAIRN_RULES.engine_ref();
    Bundle::new(id, 1, engine, Timestamp::from_millis(0).unwrap(), files).unwrap()
}

/// An authority-signed gate key statement.
pub fn key_statement(action: KeyAction, key: &SignerKey) -> Vec<u8> {
    key_statement_signed_by(action, key, &examples::authority_key())
}

/// A gate key statement signed by `signer` (an authority, or not).
pub fn key_statement_signed_by(action: KeyAction, key: &SignerKey, signer: &SignerKey) -> Vec<u8> {
    KeyStatement {
        action,
        role: KeyRole::Gate,
        key: key.verifier(),
        issued_at: Timestamp::from_millis(now_ms()).unwrap(),
        reason: None,
    }
    .sign(signer)
    .unwrap()
}

/// Example receipt `n` (never a break-glass), decided at `decided_at` under
/// `bundle`, with idempotency key `<tag>-<n>`, signed by `gate`.
pub fn receipt(n: u64, gate: &SignerKey, decided_at: u64, bundle: &Bundle, tag: &str) -> Vec<u8> {
    let mut p = examples::receipt_parts(n % 9);
    p.gate = gate.name().into();
    p.idempotency_key = format!("{tag}-{n}");
    p.receipt_id = examples::receipt_id(decided_at, n);
    p.decided_at = Timestamp::from_millis(decided_at).unwrap();
    p.policy = cairn_api::policy::policy_ref(bundle);
    SignedReceipt::sign(Receipt::new(p).unwrap(), gate).unwrap().1
}
