//! `cairn-verify replay`: re-run recorded decisions on the bundles archived
//! in the log (or, with `--bundle`, on a candidate: what-if).

use cairn_api::policy::{Bundle, MAX_BUNDLE_BYTES, Policy};

use crate::engine::{Engine, ReplayPlan, ReplayWith};
use crate::report::Report;
use crate::source::Source;
use crate::trust::Trust;

/// Replay the receipts of `source` that `plan` selects; with `trust`, also
/// every check `audit` makes. `quiet` hides the progress line.
pub fn replay(source: &Source, trust: Option<Trust>, plan: ReplayPlan, quiet: bool) -> Report {
    let what_if = match &plan.with {
        ReplayWith::Candidate(c) => Some(c.clone()),
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
    if let Some(c) = what_if {
        let scope = if c.all_bundles {
            "every receipt".to_owned()
        } else {
            format!(
                "the receipts of bundle {} ({} receipts of other bundles not replayed; --all-bundles replays them too)",
                c.bundle_id, r.out_of_scope
            )
        };
        r.notes.push(format!(
            "what-if on bundle {} over {scope}: {} of {} decisions would change; {} more would keep the decision on other determining rules",
            c.hash,
            r.decisions_changed,
            r.replayed,
            r.mismatches_total - r.decisions_changed
        ));
    }
    r
}

/// A candidate bundle file (what-if), compiled.
pub fn load_bundle(path: &std::path::Path) -> Result<(Policy, Bundle), String> {
    let bytes = cairn_host::file::read_bounded(path, MAX_BUNDLE_BYTES as u64).map_err(|e| e.to_string())?;
    let bundle = Bundle::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let policy = Policy::compile(&bundle).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((policy, bundle))
}
