//! cairn-host: what cairn's programs need from the machine they run on.
//!
//! The ledger, the gate and the verifier each used to write these for
//! themselves; they live here once, depending on `cairn-api` only (no async
//! runtime, no storage engine), so the verifier may use them too.
//!
//! - [`file`]: one bounded file reader (a longer file is an error, never
//!   silently truncated).
//! - [`keyfile`]: signing-key and credential files (0600, refused when
//!   others can read them), verifier-key arguments (`vkey` or `@FILE`).
//! - [`cli`]: command-line parsing with cairn's exit codes.
//! - [`clock`]: the wall clock as a [`cairn_api::timestamp::Timestamp`].
//! - [`id`]: UUIDv7 ids; a randomness failure is an error, never a weaker id.
//! - [`log`]: `tracing` set up once, `--log-format json|text`.
//! - [`progress`]: a bar on a terminal, a line per interval in a log.
//! - [`out`]: stdout that treats a closed pipe as a normal end
//!   (`cairn-gate policy hash ... | head`).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cli;
pub mod clock;
pub mod file;
pub mod id;
pub mod keyfile;
pub mod log;
pub mod out;
pub mod progress;
