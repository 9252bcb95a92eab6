//! `cairn-gate`: the reference gate's command line.
//!
//! - `demo`: the seed stories on the embedded default (an embedded ledger
//!   over HTTP, gates that fail closed, approvals, break-glass, a ledger
//!   stopped mid-run), then cairn-verify's audit and replay (`demo.rs`).
//! - `populate --data-dir DIR --receipts N`: a ledger data directory with N
//!   real receipts, for audits, fsck and benchmarks at scale (`populate.rs`).
//! - `keygen`, `register`, `publish`, `decide`: a gate's operations against
//!   a ledger (`ops.rs`); `load`: the load generator (`load.rs`).
//! - `policy pack|hash|eval|check`: tools for policy authors.
//!
//! Exit codes: 0 done; 1 failure (or `policy check` findings); 3 a file
//! could not be read or written; 4 usage.

mod demo;
mod load;
mod ops;
mod policy_cli;
mod populate;
mod readload;

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
    /// The seed stories end to end on an embedded ledger, then audit and replay.
    Demo(demo::Args),
    /// Fill a ledger data directory with N real, durably logged receipts.
    Populate(populate::Args),
    /// Create a signing key (0600); prints its verifier key.
    Keygen {
        /// The key's name (a gate's name is what its receipts say in `gate`).
        #[arg(long)]
        name: String,
        /// Where to write it (never overwritten).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Register (or revoke) a gate or operator key: an authority-signed
    /// statement, posted to the ledger.
    Register {
        #[command(flatten)]
        ledger: ops::LedgerArgs,
        /// The authority's signing key file.
        #[arg(long)]
        authority_key: std::path::PathBuf,
        /// The key to register (vkey or @FILE).
        #[arg(long)]
        key: String,
        /// gate or operator.
        #[arg(long, default_value = "gate")]
        role: String,
        /// Revoke instead of register.
        #[arg(long)]
        revoke: bool,
        /// Why (revocations, usually).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Pack (a directory), sign as an authority and archive a policy bundle.
    Publish {
        /// A policy directory or a bundle file.
        bundle: std::path::PathBuf,
        #[command(flatten)]
        ledger: ops::LedgerArgs,
        /// The authority's signing key file.
        #[arg(long)]
        authority_key: std::path::PathBuf,
    },
    /// One decision through the gate, recorded (exit 0 allowed, 1 not).
    Decide(ops::DecideArgs),
    /// The load generator: N receipts at a concurrency and an offered rate.
    Load(load::Args),
    /// The read side under load: inclusion or consistency proofs, or a query, for a fixed time.
    ReadLoad(readload::Args),
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
    let ops = |r: Result<(), ops::Fail>, what: &str| match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(ops::Fail(code, msg)) => {
            eprintln!("cairn-gate {what}: {msg}");
            ExitCode::from(code)
        }
    };
    match cli.command {
        Command::Policy(cmd) => ExitCode::from(policy_cli::run(&cmd)),
        Command::Keygen { name, out } => ops(ops::keygen(&name, &out), "keygen"),
        Command::Register {
            ledger,
            authority_key,
            key,
            role,
            revoke,
            reason,
        } => ops(
            ops::register(&ledger, &authority_key, &key, &role, revoke, reason),
            "register",
        ),
        Command::Publish {
            bundle,
            ledger,
            authority_key,
        } => ops(ops::publish(&ledger, &authority_key, &bundle), "publish"),
        Command::Decide(args) => match ops::decide(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(ops::Fail(code, msg)) => {
                eprintln!("cairn-gate decide: {msg}");
                ExitCode::from(code)
            }
        },
        Command::Load(args) => ops(load::run(&args), "load"),
        Command::ReadLoad(args) => ops(readload::run(&args), "read-load"),
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
