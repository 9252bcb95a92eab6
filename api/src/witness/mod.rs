//! Witnessing: C2SP `tlog-witness` (the `add-checkpoint` exchange between a
//! log and its witnesses) and the witness policy that says which
//! cosignatures a reader requires.
//!
//! - [`protocol`]: the `add-checkpoint` request body, the `409` size body
//!   and the cosignature lines of a `200` answer, parsed strictly;
//! - [`policy`]: witnesses by name, groups with thresholds and the quorum,
//!   the statements shared by the auditor's trust file, the ledger's
//!   witness file and the gate's trust configuration;
//! - [`wire`]: the JSON bodies of a cairn witness's monitoring routes.

pub mod policy;
pub mod protocol;
pub mod wire;

pub use policy::{PolicyError, Witness, WitnessPolicy};
pub use protocol::{AddCheckpoint, ProtocolError};
