//! `cairn-gate`: the reference gate's command line.
//!
//! - `demo`: the write path on the embedded default: an embedded ledger,
//!   decisions by a real policy, signed receipts, durable acknowledgements
//!   with tlog-proofs, and replay against the archived bundle (`demo.rs`).
//! - `populate --data-dir DIR --receipts N`: a ledger data directory with N
//!   real receipts, for audits, fsck and benchmarks at scale (`populate.rs`).
//! - `policy pack|hash|eval|check`: tools for policy authors.
//!
//! Exit codes: 0 done; 1 failure (or `policy check` findings); 3 a file
//! could not be read or written; 4 usage.

mod demo;
mod policy_cli;
mod populate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cairn-gate", version, about = "cairn's reference gate")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sign example receipts, log them in memory, write receipts and proofs.
    Demo(demo::Args),
    /// Fill a ledger data directory with N real, durably logged receipts.
    Populate(populate::Args),
    /// Policy bundles: pack, hash, eval, check.
    #[command(subcommand)]
    Policy(policy_cli::Command),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 4 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Policy(cmd) => ExitCode::from(policy_cli::run(&cmd)),
        Command::Populate(args) => match populate::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cairn-gate populate: {e}");
                ExitCode::from(1)
            }
        },
        Command::Demo(args) => match demo::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cairn-gate demo: {e}");
                ExitCode::from(1)
            }
        },
    }
}
