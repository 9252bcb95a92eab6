//! cairn-ledger: the durable Merkle ledger service.
//!
//! Built so far: the storage layer ([`store`]): one small trait, a durable
//! redb implementation (Durability::Immediate, two-phase commit), an
//! in-memory one and a fault-injecting wrapper for tests, and the pure
//! integration step ([`store::integrate`]) that turns a batch of leaf hashes
//! into the tree nodes and root to persist. The sequencer, the HTTP API and
//! the binary's `serve`/`export`/`fsck` come next (see the ledger issue).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod export;
pub mod fsck;
pub mod http;
pub mod metrics;
pub mod sequencer;
pub mod store;
