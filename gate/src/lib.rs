//! cairn-gate: the reference gate. Today: packing policy directories into
//! bundles and the demo; the gate client (evaluate, approve, sign, submit,
//! fail closed) comes with the gate issue.

pub mod generated;
pub mod policy_dir;
pub mod scenarios;
