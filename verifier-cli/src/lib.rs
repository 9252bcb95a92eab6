//! cairn-verify: check cairn evidence with nothing but public keys.
//!
//! The library behind the `cairn-verify` binary, so that other programs
//! (cairn-tools' demo) can run an audit or a replay and read its
//! [`report`]. The command line (arguments, printing) is the binary's.
//! It depends on cairn-api only, plus a blocking HTTP client (ureq) and
//! rayon: no async runtime, no storage engine.
//!
//! - [`receipt`]: one receipt and its tlog-proof, offline.
//! - [`audit`]: a whole log (export file, live ledger or tile tree, read
//!   through [`tiles`]) against a
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
pub mod tiles;
pub mod trust;
pub mod witness_views;

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
