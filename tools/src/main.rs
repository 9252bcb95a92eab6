//! `cairn-tools`: the demo, `populate` and the load generators.
//!
//! - `demo`: the seed stories end to end on an embedded ledger, then
//!   cairn-verify's audit and replay.
//! - `populate --data-dir DIR --receipts N`: a ledger data directory with N
//!   real receipts, for audits, fsck and benchmarks at scale.
//! - `load`, `read-load`, `flood`: the load generators.
//!
//! Exit codes: 0 done; 1 failure; 3 a file or the ledger could not be
//! reached; 4 usage. A closed stdout is a normal end.

use std::process::ExitCode;

use cairn_host::log::LogArgs;
use cairn_tools::fail::Fail;
use cairn_tools::{demo, flood, gate_load, load, populate, readload};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "cairn-tools", version, about = "cairn's demo, populate and load generators")]
struct Cli {
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The seed stories end to end on an embedded ledger, then audit and replay.
    Demo(demo::Args),
    /// Fill a ledger data directory with N real, durably logged receipts.
    Populate(populate::Args),
    /// The load generator: N receipts at a concurrency and an offered rate.
    Load(load::Args),
    /// Open-loop load held for a time from many connections, in windows, with a process's memory.
    Flood(flood::Args),
    /// The read side under load: inclusion or consistency proofs, or a query, for a fixed time.
    ReadLoad(readload::Args),
    /// AuthZEN evaluations against a running `cairn-gate serve`, end to end.
    GateLoad(gate_load::Args),
}

fn main() -> ExitCode {
    let cli: Cli = match cairn_host::cli::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    cli.log.init("warn");
    let (what, result) = match cli.command {
        Command::Demo(a) => ("demo", demo::run(&a).map_err(Fail::failed)),
        Command::Populate(a) => ("populate", populate::run(&a).map_err(Fail::failed)),
        Command::Load(a) => ("load", load::run(&a)),
        Command::Flood(a) => ("flood", flood::run(&a)),
        Command::ReadLoad(a) => ("read-load", readload::run(&a)),
        Command::GateLoad(a) => ("gate-load", gate_load::run(&a)),
    };
    cairn_host::out::flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(code, msg)) => {
            eprintln!("cairn-tools {what}: {msg}");
            ExitCode::from(code)
        }
    }
}
