//! `cairn-witness`: a C2SP `tlog-witness` that audit teams, other business
//! units or regulators run beside a cairn ledger, so that its operator
//! cannot show one history to the gates and another to the auditors.
//!
//! - [`add`]: the checks of `add-checkpoint` and the cosignature;
//! - [`state`]: the latest cosigned checkpoint per log and the fork
//!   evidence, persisted (fsync) before anything is answered;
//! - [`http`]: the HTTP service.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod add;
pub mod http;
pub mod state;

pub use add::{Refusal, Witness};
pub use state::{State, StateError};
