//! cairn-tools: what sits above the gate, the ledger and the verifier.
//!
//! - [`demo`]: the seed stories on an embedded ledger over HTTP, then
//!   cairn-verify's audit and replay (the README's run command).
//! - [`populate`]: a ledger data directory with N real receipts.
//! - [`load`], [`readload`]: the load generators the benchmark suite drives;
//!   [`flood`] holds an open-loop load for minutes (the soak and overload
//!   runs), over [`rawhttp`], reported by [`flood_report`].
//! - [`scenarios`]: the seed scenarios' requests (tests, golden decision
//!   files, benchmarks); [`generated`]: bundles of a given size.
//! - [`fail`]: the CLI's failure type and exit codes.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod demo;
pub mod demo_witnesses;
pub mod fail;
pub mod flood;
pub mod flood_report;
pub mod gate_load;
pub mod generated;
pub mod load;
pub mod load_check;
pub mod load_client;
pub mod populate;
pub mod rawhttp;
pub mod readload;
pub mod scenarios;
