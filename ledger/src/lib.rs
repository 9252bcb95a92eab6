//! cairn-ledger: the durable Merkle ledger service.
//!
//! - [`store`]: storage behind one small trait: redb (Durability::Immediate,
//!   two-phase commit), in-memory, and a fault-injecting wrapper; the pure
//!   integration step ([`store::integrate`]).
//! - [`sequencer`]: one task owns every write; group commit; an
//!   acknowledgement only after a durable commit.
//! - [`http`]: `router(state)`, the HTTP API (`schemas/openapi.yaml`).
//! - [`config`] (the TOML file), [`tls`] (rustls), [`conn`] (the connection
//!   cap), [`ratelimit`] (per-gate token buckets), [`keyfile`] (key and
//!   credential files), [`export`] (docs/spec.md section 18), [`fsck`],
//!   [`metrics`].
//!
//! The binary `cairn-ledger` has `serve`, `keygen`, `export` and `fsck`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod config;
pub mod conn;
pub mod export;
pub mod fsck;
pub mod http;
pub mod keyfile;
pub mod metrics;
pub mod ratelimit;
pub mod sequencer;
pub mod store;
pub mod tls;
