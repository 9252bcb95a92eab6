//! The command line: each subcommand's arguments, and how its result is
//! printed. The checks themselves are the library's.

pub mod audit;
pub mod query;
pub mod receipt;
pub mod replay;

use cairn_host::{out, outln};
use cairn_verify::EXIT_USAGE;
use cairn_verify::report::Report;

/// Print a usage error; returns [`EXIT_USAGE`].
pub fn usage(msg: &str) -> u8 {
    eprintln!("cairn-verify: {msg}");
    EXIT_USAGE
}

/// Print a report, human or JSON.
pub fn print(report: &Report, command: &str, json: bool) {
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report.to_json(command)).unwrap_or_default()
        );
    } else {
        out!("{}", report.human(command));
    }
}
