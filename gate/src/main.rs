//! `cairn-gate`: the gate's command line.
//!
//! - `keygen`, `register`, `publish`, `decide`, `proofs refresh`: a gate's operations against
//!   a ledger (`ops.rs`).
//! - `policy pack|hash|eval|check`: tools for policy authors (`policy_cli.rs`).
//!
//! The demo, `populate` and the load generators are `cairn-tools`.
//!
//! Exit codes: 0 done; 1 failure (or `policy check` findings, or `decide`
//! not allowed, or a proof `proofs refresh` could not verify); 2 `proofs
//! refresh`: some proofs still wait for the witness quorum; 3 a file could not be read or written, or the ledger could
//! not be reached; 4 usage. A closed stdout is a normal end.

mod ops;
mod policy_cli;
mod proofs_cli;

use std::process::ExitCode;

use cairn_api::entry::KeyRole;
use cairn_gate::admin::LedgerArgs;
use cairn_host::log::LogArgs;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "cairn-gate", version, about = "cairn's reference gate")]
struct Cli {
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Command,
}

/// What a registered key may sign.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Role {
    /// Decision receipts.
    Gate,
    /// Break-glass counter-signatures.
    Operator,
}

impl From<Role> for KeyRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Gate => KeyRole::Gate,
            Role::Operator => KeyRole::Operator,
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a signing key (0600); prints its verifier key.
    Keygen {
        /// The key's name (a gate's name is what its receipts say in `gate`).
        #[arg(long)]
        name: String,
        /// Where to write it (never overwritten).
        #[arg(long)]
        out: std::path::PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Register (or revoke) a gate or operator key: an authority-signed
    /// statement, posted to the ledger.
    Register {
        #[command(flatten)]
        ledger: LedgerArgs,
        /// The authority's signing key file.
        #[arg(long)]
        authority_key: std::path::PathBuf,
        /// The key to register (vkey or @FILE).
        #[arg(long)]
        key: String,
        /// What the key may sign.
        #[arg(long, value_enum, default_value_t = Role::Gate)]
        role: Role,
        /// Revoke instead of register.
        #[arg(long)]
        revoke: bool,
        /// Why (revocations, usually).
        #[arg(long)]
        reason: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pack (a directory), sign as an authority and archive a policy bundle.
    Publish {
        /// A policy directory or a bundle file.
        bundle: std::path::PathBuf,
        #[command(flatten)]
        ledger: LedgerArgs,
        /// The authority's signing key file.
        #[arg(long)]
        authority_key: std::path::PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One decision through the gate, recorded (exit 0 allowed, 1 not).
    Decide(ops::DecideArgs),
    /// Saved proofs: upgrade them to witnessed checkpoints.
    #[command(subcommand)]
    Proofs(proofs_cli::Command),
    /// Policy bundles: pack, hash, eval, check.
    #[command(subcommand)]
    Policy(policy_cli::Command),
}

fn main() -> ExitCode {
    let cli: Cli = match cairn_host::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    cli.log.init("warn");
    let ops = |r: Result<(), ops::Fail>, what: &str| match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(ops::Fail(code, msg)) => {
            eprintln!("cairn-gate {what}: {msg}");
            ExitCode::from(code)
        }
    };
    let code = match cli.command {
        Command::Policy(cmd) => ExitCode::from(policy_cli::run(&cmd)),
        Command::Keygen { name, out, json } => ops(ops::keygen(&name, &out, json), "keygen"),
        Command::Register {
            ledger,
            authority_key,
            key,
            role,
            revoke,
            reason,
            json,
        } => ops(
            ops::register(&ledger, &authority_key, &key, role.into(), revoke, reason, json),
            "register",
        ),
        Command::Publish {
            bundle,
            ledger,
            authority_key,
            json,
        } => ops(ops::publish(&ledger, &authority_key, &bundle, json), "publish"),
        Command::Proofs(cmd) => match proofs_cli::run(&cmd) {
            Ok(code) => ExitCode::from(code),
            Err(ops::Fail(code, msg)) => {
                eprintln!("cairn-gate proofs: {msg}");
                ExitCode::from(code)
            }
        },
        Command::Decide(args) => match ops::decide(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(ops::Fail(code, msg)) => {
                eprintln!("cairn-gate decide: {msg}");
                ExitCode::from(code)
            }
        },
    };
    cairn_host::out::flush();
    code
}
