//! `cairn-ledger`: the durable Merkle ledger service.
//!
//! The service (storage, sequencer, HTTP API) is built by the ledger issue;
//! this binary exists so the workspace builds and says so plainly.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "cairn-ledger {}: the ledger service is not built yet (see the cairn-ledger issue). \
         The formats and proofs it will serve are in cairn-api; try `cargo run -p cairn-gate -- demo`.",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(4)
}
