//! `cairn-gate`: the reference gate's command line.
//!
//! `policy` packs, hashes, evaluates and checks policy bundles. `demo` shows cairn's formats end to end without any
//! server: it signs example decision receipts with a test gate key, logs
//! them (with the authority's key registrations) in an in-memory RFC 9162
//! tree, signs a checkpoint with a test log key, and writes each receipt
//! with its C2SP tlog-proof so that `cairn-verify receipt` can check it
//! independently. The ledger service replaces the in-memory log when it
//! lands.

mod demo;
mod policy_cli;

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
        Command::Demo(args) => match demo::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cairn-gate demo: {e}");
                ExitCode::from(1)
            }
        },
    }
}
