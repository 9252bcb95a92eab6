//! cairn-gate: the reference gate. Today: packing policy directories into
//! bundles ([`policy_dir`]), the seed scenarios' requests ([`scenarios`]) and
//! generated bundles for benchmarks ([`generated`]); the binary has `demo`
//! and `policy`. The gate client (evaluate, approve, sign, submit, fail
//! closed) comes with the gate issue.

pub mod generated;
pub mod policy_dir;
pub mod record;
pub mod scenarios;
