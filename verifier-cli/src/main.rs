//! `cairn-verify`: check cairn evidence with nothing but public keys (see
//! the library's documentation and `docs/auditor-guide.md`).

mod cli;

use std::process::ExitCode;

use cairn_host::log::LogFormat;
use cairn_verify::{EXIT_USAGE, EXIT_VALID};
use clap::{Parser, Subcommand};
use cli::{audit, query, receipt, replay};

#[derive(Parser, Debug)]
#[command(
    name = "cairn-verify",
    version,
    about = "Verify cairn receipts, proofs and ledgers with public keys only"
)]
struct Cli {
    /// How log lines are written on stderr (level: CAIRN_LOG, e.g. info or debug).
    #[arg(long, global = true, env = "CAIRN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_VALID };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    cairn_host::log::init(cli.log_format, "warn");
    let code = match cli.command {
        Command::Receipt(args) => receipt::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Query(args) => query::run(&args),
    };
    cairn_host::out::flush();
    ExitCode::from(code)
}
