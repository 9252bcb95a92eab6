//! `cairn-verify replay`: recorded decisions re-run on their archived
//! bundles, or on a candidate bundle (what-if).

use std::path::PathBuf;
use std::sync::Arc;

use cairn_verify::EXIT_CANNOT_EVALUATE;
use cairn_verify::engine::{Candidate, ReplayPlan, ReplayWith};
use cairn_verify::filters::{FilterArgs, Filters};
use cairn_verify::replay::{load_bundle, replay};
use cairn_verify::source::SourceArgs;
use cairn_verify::trust::Trust;

/// Arguments of `cairn-verify replay`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    source: SourceArgs,
    /// The trust file: with it, every signature and checkpoint is checked
    /// too (as `audit` does); without it, only the decisions are replayed.
    #[arg(long)]
    trust: Option<PathBuf>,
    /// What-if: replay on this packed bundle instead of the archived ones,
    /// and report every decision it would change. Only the receipts decided
    /// under a bundle with the candidate's bundle id (the ones it would
    /// replace) are replayed, unless --all-bundles.
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// With --bundle: replay every receipt on the candidate, whatever bundle
    /// decided it.
    #[arg(long, requires = "bundle")]
    all_bundles: bool,
    #[command(flatten)]
    filters: FilterArgs,
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
    let filters = match Filters::new(args.filters.clone()) {
        Ok(f) => f,
        Err(e) => return super::usage(&e),
    };
    let trust = match args.trust.as_deref().map(Trust::load).transpose() {
        Ok(t) => t,
        Err(e) => return super::usage(&format!("trust file: {e}")),
    };
    let with = match &args.bundle {
        None => ReplayWith::Archived,
        Some(path) => match load_bundle(path) {
            Ok((p, b)) => ReplayWith::Candidate(Candidate {
                policy: Arc::new(p),
                hash: b.hash(),
                bundle_id: b.manifest().bundle_id.clone(),
                all_bundles: args.all_bundles,
            }),
            Err(e) => {
                eprintln!("cairn-verify: {e}");
                return EXIT_CANNOT_EVALUATE;
            }
        },
    };
    let report = replay(&source, trust, ReplayPlan { filters, with }, args.json);
    let command = if args.bundle.is_some() {
        "replay --bundle"
    } else {
        "replay"
    };
    super::print(&report, command, args.json);
    report.exit_code()
}
