//! `cairn-gate`: the gate's command line.
//!
//! - `keygen`, `register`, `publish`, `decide`, `proofs refresh`: a gate's operations against
//!   a ledger (`ops.rs`).
//! - `policy pack|hash|eval|check`: tools for policy authors (`policy_cli.rs`).
//! - `serve`: the AuthZEN decision point (`cairn_gate_server`).
//!
//! The demo, `populate` and the load generators are `cairn-tools`.
//!
//! Exit codes: 0 done; 1 failure (or `policy check` findings, or `decide`
//! not allowed, or a proof `proofs refresh` could not verify); 2 `proofs
//! refresh`: some proofs still wait for the witness quorum; 3 a file could not be read or written, or the ledger could
//! not be reached; 4 usage. A closed stdout is a normal end.

mod mcp_cli;
mod ops;
mod policy_cli;
mod proofs_cli;

use std::process::ExitCode;

use cairn_api::entry::KeyRole;
use cairn_gate::admin::LedgerArgs;
use cairn_gate_server::config::Settings;
use cairn_host::log::LogArgs;
use cairn_host::outln;
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
    /// Serve the AuthZEN 1.0 Authorization API: every decision signed,
    /// durably logged (or denied and spooled), answered.
    Serve {
        /// The TOML settings file (gate-server/cairn-gate.example.toml).
        #[arg(long, env = "CAIRN_GATE_CONFIG")]
        config: Option<std::path::PathBuf>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Stand between an agent and an MCP server (stdio: the server's
    /// command after `--`; streamable HTTP: `--upstream URL`): every
    /// tools/call decided, logged, and forwarded only on a durable PERMIT.
    Mcp {
        /// The TOML settings file (as for serve).
        #[arg(long, env = "CAIRN_GATE_CONFIG")]
        config: Option<std::path::PathBuf>,
        #[command(flatten)]
        settings: Settings,
        #[command(flatten)]
        mcp: mcp_cli::McpArgs,
        /// The MCP server's command and its arguments, after `--` (stdio).
        #[arg(last = true, required_unless_present = "upstream", conflicts_with = "upstream")]
        command: Vec<String>,
    },
}

fn serve(config: Option<&std::path::Path>, flags: Settings) -> ExitCode {
    let fail = |code: u8, msg: String| {
        eprintln!("cairn-gate serve: {msg}");
        ExitCode::from(code)
    };
    let cfg = match Settings::from_sources(config, flags) {
        Ok(c) => c,
        Err(e) => return fail(4, e.to_string()),
    };
    if cfg.callers.is_none() {
        return fail(
            4,
            cairn_gate_server::config::ConfigError::Missing("callers").to_string(),
        );
    }
    let rt = match cairn_gate_server::serve::runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(1, format!("the runtime: {e}")),
    };
    let ready = |addr: std::net::SocketAddr| {
        outln!("cairn-gate: AuthZEN decision point on http://{addr}");
        cairn_host::out::flush();
    };
    match rt.block_on(cairn_gate_server::serve::serve(
        cfg,
        ready,
        cairn_gate_server::serve::shutdown_signal(),
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e.exit_code(), e.to_string()),
    }
}

fn main() -> ExitCode {
    let cli: Cli = match cairn_host::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    // A served gate logs what it decides; a one-off command only warnings.
    let served = match &cli.command {
        Command::Serve { .. } => true,
        Command::Mcp { mcp, .. } => mcp.is_http(),
        _ => false,
    };
    cli.log.init(if served { "info" } else { "warn" });
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
        Command::Serve { config, settings } => serve(config.as_deref(), settings),
        Command::Mcp {
            config,
            settings,
            mcp,
            command,
        } => mcp_cli::mcp(config.as_deref(), settings, mcp, &command),
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
