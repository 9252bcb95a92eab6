//! `cairn-verify`: check cairn evidence with nothing but public keys.
//!
//! Exit codes: 0 all valid; 1 tampered or untrusted; 2 replay mismatch;
//! 3 could not evaluate; 4 usage error.

mod receipt;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Everything checked, everything valid.
pub const EXIT_VALID: u8 = 0;
/// Something does not verify: tampered, or not signed by a trusted key.
pub const EXIT_TAMPERED: u8 = 1;
/// Something could not be evaluated (unreadable input, missing data).
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
    })
}
