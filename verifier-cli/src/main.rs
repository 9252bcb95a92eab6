//! `cairn-verify`: check cairn evidence with nothing but public keys (see
//! the library's documentation and `docs/auditor-guide.md`).

mod cli;

use std::process::ExitCode;

use cairn_host::log::LogArgs;
use clap::{Parser, Subcommand};
use cli::{audit, query, receipt, replay};

#[derive(Parser, Debug)]
#[command(
    name = "cairn-verify",
    version,
    about = "Verify cairn receipts, proofs and ledgers with public keys only"
)]
struct Cli {
    #[command(flatten)]
    log: LogArgs,
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

fn main() -> ExitCode {
    let cli: Cli = match cairn_host::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    cli.log.init("warn");
    let code = match cli.command {
        Command::Receipt(args) => receipt::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Query(args) => query::run(&args),
    };
    cairn_host::out::flush();
    ExitCode::from(code)
}
