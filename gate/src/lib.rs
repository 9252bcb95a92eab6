//! cairn-gate: the gate, and nothing else. A team embedding it in an agent
//! runtime gets the decision, the signed receipt and the proof that it was
//! logged; never the ledger server (`cargo tree -p cairn-gate -e normal`
//! has no redb, axum or cairn-ledger; CI checks it).
//!
//! - [`gate`]: `Gate::authorize` — decide with the bundle, ask for approval
//!   when the policy requires it ([`approval`]), sign the receipt
//!   ([`record`]), submit it with a deadline ([`client`]), and allow the
//!   action only when a PERMIT is durably logged; otherwise fail closed and
//!   spool a SILENCE receipt ([`spool`]). Shadow mode and break-glass.
//! - [`admin`]: key statements and policy bundles posted to the ledger's
//!   admin API; [`policy_dir`]: packing bundles from directories.
//!
//! The `cairn-gate` binary (its CLI, and `serve`: the AuthZEN decision
//! point) is `cairn-gate-server`. The demo, `populate`, the load
//! generators and the seed scenarios are in `cairn-tools`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod admin;
pub mod approval;
pub mod client;
pub mod gate;
pub mod policy_dir;
pub mod record;
pub mod refresh;
pub mod spool;
