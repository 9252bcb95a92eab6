//! # cairn-api: the wire contract of cairn
//!
//! Every format cairn signs, hashes, stores or sends, and every algorithm over
//! them, lives here: deterministic CBOR ([`cbor`]) and its JSON views
//! ([`view`], [`timestamp`]), decision receipts ([`receipt`]) signed as
//! COSE_Sign1 ([`cose`]), keys ([`keys`]), log entries ([`entry`]), RFC 9162
//! Merkle trees and proofs ([`merkle`]), C2SP signed notes, checkpoints and
//! cosignatures ([`note`]), C2SP tlog-proof bundles ([`proof`]), and policy
//! bundles with the deterministic decision function ([`policy`]), and the
//! export stream an offline audit reads ([`export`]), and the HTTP bodies of
//! the ledger's API as types ([`wire`]).
//! `docs/spec.md` is the normative text.
//!
//! This crate does **no I/O**: no files, sockets, clocks or randomness. It is
//! a pure function of its inputs so that the ledger, the gate and the
//! auditor's verifier agree byte for byte, and so that an auditor can read
//! all of what they trust in one place. Service concerns (storage, HTTP,
//! scheduling) belong to `cairn-ledger`; CI checks that no I/O crate appears
//! in this crate's dependency tree.
//!
//! Every decoder here is total: bad input gives an error naming what was
//! wrong, never a panic, and every size it accepts is bounded by a named
//! constant.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cbor;
pub mod cose;
pub mod decimal;
pub mod entry;
#[doc(hidden)]
pub mod examples;
pub mod export;
pub mod key_history;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod policy;
pub mod proof;
pub mod receipt;
pub mod tiles;
pub mod timestamp;
pub mod view;
pub mod wire;
pub mod witness;
