//! cairn-gate-server: the gate as a program that runs.
//!
//! - [`authzen`]: the OpenID AuthZEN Authorization API 1.0 bodies;
//! - [`pdp`]: the decision point: an AuthZEN request through a gate
//!   (decide, approve, sign, log durably, fail closed), the answer;
//! - [`http`]: the routes; [`auth`]: who may call; [`problem`]: errors;
//! - [`approval_page`], [`approval_http`], [`approvers`]: human approval
//!   in a browser;
//! - [`submitter`]: receipts of concurrent decisions sent in batches;
//! - [`delivery`]: the spool, delivered in the background;
//! - [`mcp`]: the MCP tool-call proxy (`cairn-gate mcp`), stdio;
//!   [`mcp_http`]: the same over the streamable HTTP transport, with the
//!   agent's token read into the lineage ([`lineage`]);
//! - [`config`]: `cairn-gate serve`'s settings (flags, environment, TOML);
//! - [`serve`]: start it all.
//!
//! The gate's logic is the `cairn-gate` library; this crate adds the
//! server around it, so that teams embedding a gate get no server.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod approval_http;
pub mod approval_page;
pub mod approvers;
pub mod auth;
pub mod authzen;
pub mod config;
pub mod delivery;
pub mod http;
pub mod lineage;
pub mod mcp;
pub mod mcp_http;
pub mod pdp;
pub mod problem;
pub mod serve;
pub mod submitter;
