//! `cairn-verify audit`: a whole log against a trust file.

use std::path::PathBuf;

use cairn_verify::audit::audit;
use cairn_verify::source::SourceArgs;
use cairn_verify::trust::Trust;

/// Arguments of `cairn-verify audit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    source: SourceArgs,
    /// The trust file (docs/auditor-guide.md).
    #[arg(long)]
    trust: PathBuf,
    /// The state file: compared with this audit, and updated when it holds.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Run it; returns the exit code.
pub fn run(args: &Args) -> u8 {
    let source = match args.source.source() {
        Ok(s) => s,
        Err(e) => return super::usage(&e),
    };
    let trust = match Trust::load(&args.trust) {
        Ok(t) => t,
        Err(e) => return super::usage(&format!("trust file {}: {e}", args.trust.display())),
    };
    let report = audit(&source, &trust, args.state.as_deref(), args.json);
    super::print(&report, "audit", args.json);
    report.exit_code()
}
