//! `cairn-verify replay`: re-run recorded decisions on the bundles archived
//! in the log (or, with `--bundle`, on a candidate: what-if).

use std::path::PathBuf;
use std::sync::Arc;

use cairn_api::policy::{Bundle, MAX_BUNDLE_BYTES, Policy};

use crate::EXIT_CANNOT_EVALUATE;
use crate::engine::{Engine, ReplayPlan, ReplayWith};
use crate::filters::{FilterArgs, Filters};
use crate::report::Report;
use crate::source::{Source, SourceArgs};
use crate::trust::Trust;

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
    /// and report every decision it would change.
    #[arg(long)]
    bundle: Option<PathBuf>,
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
        Err(e) => return crate::usage(&e),
    };
    let filters = match Filters::new(args.filters.clone()) {
        Ok(f) => f,
        Err(e) => return crate::usage(&e),
    };
    let trust = match args.trust.as_deref().map(Trust::load).transpose() {
        Ok(t) => t,
        Err(e) => return crate::usage(&format!("trust file: {e}")),
    };
    let with = match &args.bundle {
        None => ReplayWith::Archived,
        Some(path) => match load_bundle(path) {
            Ok((p, b)) => ReplayWith::Candidate(Arc::new(p), b.hash()),
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
    crate::print(&report, command, args.json);
    report.exit_code()
}

/// Replay the receipts of `source` that `plan` selects; with `trust`, also
/// every check `audit` makes. `quiet` hides the progress line.
pub fn replay(source: &Source, trust: Option<Trust>, plan: ReplayPlan, quiet: bool) -> Report {
    let what_if = match &plan.with {
        ReplayWith::Candidate(_, h) => Some(*h),
        ReplayWith::Archived => None,
    };
    let any_filter = plan.filters.any();
    let has_trust = trust.is_some();
    let mut engine = Engine::new(trust, Some(plan), None);
    crate::stream::run(source, &mut engine, quiet);
    let mut r = engine.report;
    if !has_trust {
        r.not_checked.push(
            "signatures, key history and checkpoint signatures: no --trust file (the decisions were replayed, the evidence was not authenticated)"
                .into(),
        );
    }
    if any_filter {
        r.notes.push("only receipts matching the filters were replayed".into());
    }
    if let Some(h) = what_if {
        r.notes.push(format!(
            "what-if on bundle {h}: {} of {} decisions would change ({} more would keep the decision on other determining rules)",
            r.decisions_changed,
            r.replayed,
            r.mismatches_total - r.decisions_changed
        ));
    }
    r
}

fn load_bundle(path: &std::path::Path) -> Result<(Policy, Bundle), String> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(MAX_BUNDLE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let bundle = Bundle::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let policy = Policy::compile(&bundle).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((policy, bundle))
}
