//! cairn-gate: the reference gate.
//!
//! - [`gate`]: `Gate::authorize` — decide with the bundle, ask for approval
//!   when the policy requires it ([`approval`]), sign the receipt
//!   ([`record`]), submit it with a deadline ([`client`]), and allow the
//!   action only when a PERMIT is durably logged; otherwise fail closed and
//!   spool a SILENCE receipt ([`spool`]). Shadow mode and break-glass.
//! - [`embedded`]: the ledger in process on a loopback port (demo, load, tests).
//! - [`policy_dir`] (packing bundles), [`scenarios`] (the seed scenarios'
//!   requests), [`generated`] (bundles of a given size, for benchmarks).

pub mod approval;
pub mod client;
pub mod embedded;
pub mod gate;
pub mod generated;
pub mod policy_dir;
pub mod record;
pub mod scenarios;
pub mod spool;
