//! `cairn-verify`: check cairn evidence with nothing but public keys.
//!
//! - `receipt`: one receipt and its tlog-proof, offline.
//! - `audit`: a whole log (export file or live ledger) against a trust
//!   file, with a state file between audits.
//! - `replay`: re-run recorded decisions on their archived bundles, or on a
//!   candidate bundle (what-if).
//! - `query`: a live ledger's query API, printing only proven receipts.
//!
//! Exit codes: 0 all valid; 1 tampered or untrusted; 2 replay mismatch;
//! 3 could not evaluate; 4 usage error. The auditor's guide is
//! `docs/auditor-guide.md`.

mod audit;
mod engine;
mod filters;
mod query;
mod receipt;
mod replay;
mod report;
mod source;
mod state;
mod stream;
mod trust;

use std::process::ExitCode;

use base64::Engine as _;
use cairn_api::merkle::Hash;
use clap::{Parser, Subcommand};

/// Everything checked, everything valid.
pub const EXIT_VALID: u8 = 0;
/// Something does not verify: tampered, or not signed by a trusted key.
pub const EXIT_TAMPERED: u8 = 1;
/// A replayed decision differs from the recorded one.
pub const EXIT_MISMATCH: u8 = 2;
/// Something could not be evaluated (unreadable input, unreachable ledger).
pub const EXIT_CANNOT_EVALUATE: u8 = 3;
/// The command line is wrong.
pub const EXIT_USAGE: u8 = 4;

#[derive(Parser, Debug)]
#[command(
    name = "cairn-verify",
    version,
    about = "Verify cairn receipts, proofs and ledgers with public keys only"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Verify one signed receipt and its tlog-proof, offline.
    Receipt(receipt::Args),
    /// Audit a whole log: every signature, the tree, every checkpoint.
    Audit(audit::Args),
    /// Replay recorded decisions (or a what-if with --bundle).
    Replay(replay::Args),
    /// Query a live ledger and print only receipts proven included.
    Query(query::Args),
}

/// Print a usage error; returns [`EXIT_USAGE`].
pub(crate) fn usage(msg: &str) -> u8 {
    eprintln!("cairn-verify: {msg}");
    EXIT_USAGE
}

/// Print a report, human or JSON.
pub(crate) fn print(report: &report::Report, command: &str, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json(command)).unwrap_or_default()
        );
    } else {
        print!("{}", report.human(command));
    }
}

/// A JSON list of base64 hashes (as the ledger's proof routes give them).
pub(crate) fn proof_hashes(v: &serde_json::Value) -> Option<Vec<Hash>> {
    let list = v.as_array()?;
    if list.len() > cairn_api::merkle::MAX_PROOF_HASHES {
        return None;
    }
    list.iter()
        .map(|h| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(h.as_str()?).ok()?;
            Hash::from_slice(&bytes).ok()
        })
        .collect()
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_VALID };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    ExitCode::from(match cli.command {
        Command::Receipt(args) => receipt::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Query(args) => query::run(&args),
    })
}
