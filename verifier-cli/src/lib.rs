//! cairn-verify: check cairn evidence with nothing but public keys.
//!
//! The library behind the `cairn-verify` binary, so that other programs
//! (the gate's demo) can run an audit or a replay and read its [`report`].
//! It depends on cairn-api only, plus a blocking HTTP client (ureq) and
//! rayon: no async runtime, no storage engine.
//!
//! - [`receipt`]: one receipt and its tlog-proof, offline.
//! - [`audit`]: a whole log (export file or live ledger) against a
//!   [`trust`] file, with a [`state`] file between audits.
//! - [`replay`]: recorded decisions re-run on their archived bundles, or
//!   on a candidate bundle (what-if).
//! - [`query`]: a live ledger's query API, printing only proven receipts.
//!
//! Exit codes: 0 all valid; 1 tampered or untrusted; 2 replay mismatch;
//! 3 could not evaluate; 4 usage error. The auditor's guide is
//! `docs/auditor-guide.md`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod audit;
pub mod engine;
pub mod filters;
pub mod query;
pub mod receipt;
pub mod replay;
pub mod report;
pub mod source;
pub mod state;
pub mod stream;
pub mod trust;

use base64::Engine as _;
use cairn_api::merkle::Hash;

/// Everything checked, everything valid.
pub const EXIT_VALID: u8 = 0;
/// Something does not verify: tampered, or not signed by a trusted key.
pub const EXIT_TAMPERED: u8 = 1;
/// A replayed decision differs from the recorded one.
pub const EXIT_MISMATCH: u8 = 2;
/// Something could not be evaluated (unreadable input, unreachable ledger).
pub const EXIT_CANNOT_EVALUATE: u8 = 3;
/// The command line is wrong.
pub const EXIT_USAGE: u8 = 4;

/// Print a usage error; returns [`EXIT_USAGE`].
pub fn usage(msg: &str) -> u8 {
    eprintln!("cairn-verify: {msg}");
    EXIT_USAGE
}

/// Print a report, human or JSON.
pub fn print(report: &report::Report, command: &str, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json(command)).unwrap_or_default()
        );
    } else {
        print!("{}", report.human(command));
    }
}

/// A JSON list of base64 hashes (as the ledger's proof routes give them).
pub fn proof_hashes(v: &serde_json::Value) -> Option<Vec<Hash>> {
    let list = v.as_array()?;
    if list.len() > cairn_api::merkle::MAX_PROOF_HASHES {
        return None;
    }
    list.iter()
        .map(|h| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(h.as_str()?).ok()?;
            Hash::from_slice(&bytes).ok()
        })
        .collect()
}
