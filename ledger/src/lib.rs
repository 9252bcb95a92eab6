//! cairn-ledger: the durable Merkle ledger service.
//!
//! - [`serve`]: `cairn-ledger serve`: the configuration checked before the
//!   disk is touched, then the ledger served.
//! - [`start`]: the one place a ledger is started (store → sequencer →
//!   router); [`embedded`]: the same on a loopback port in its own thread.
//! - [`store`]: storage behind one small trait: redb (Durability::Immediate,
//!   two-phase commit), in-memory, and a fault-injecting wrapper; index rows
//!   ([`store::record`]), integration ([`store::integrate`]), proof reads
//!   ([`store::proofs`]).
//! - [`query_index`]: the incident-query rows, derived from the committed
//!   entries after the acknowledgement, in a database of their own.
//! - [`sequencer`]: admission checks ([`sequencer::admission`]), the key
//!   registry ([`sequencer::keys`]) and the single writer: one task owns
//!   every write; group commit; an acknowledgement only after a durable
//!   commit.
//! - [`http`]: `router(state)`, the HTTP API (`schemas/openapi.yaml`; the
//!   bodies are [`cairn_api::wire`] types).
//! - [`config`] (the TOML file), [`tls`] (rustls), [`conn`] (the connection
//!   cap), [`ratelimit`] (per-gate token buckets), [`export`] (docs/spec.md
//!   section 18), [`fsck`], [`metrics`]. Key files: [`cairn_host::keyfile`].
//!
//! The binary `cairn-ledger` has `serve`, `keygen`, `export` and `fsck`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod accept;
pub mod clock;
pub mod config;
pub mod conn;
pub mod embedded;
pub mod export;
pub mod export_tiles;
pub mod fsck;
pub mod http;
pub mod leadership;
pub mod metrics;
pub mod query_index;
pub mod ratelimit;
pub mod sequencer;
pub mod serve;
pub mod siem;
pub mod start;
pub mod store;
pub use cairn_tls as tls;
pub mod witnessing;
