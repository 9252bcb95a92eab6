//! `cairn-verify audit`: everything, from public keys and the data alone.

use cairn_api::merkle::{Hash, Sha256, verify_consistency};
use cairn_api::note::Checkpoint;
use cairn_api::wire::ConsistencyProof;

use crate::engine::Engine;
use crate::report::Report;
use crate::source::{Ledger, Source, SourceError};
use crate::state::{STATE_VERSION, State};
use crate::trust::Trust;

/// Audit `source` under `trust`, comparing with and then updating the
/// state file at `state` when given; `quiet` hides the progress line. A
/// state file that cannot be read or written is `cannot_evaluate`.
pub fn audit(source: &Source, trust: &Trust, state: Option<&std::path::Path>, quiet: bool) -> Report {
    let cannot = |e: String| Report {
        source: source.describe(),
        cannot_evaluate: Some(e),
        ..Report::default()
    };
    let last = match state.map(State::load).transpose() {
        Ok(s) => s.flatten(),
        Err(e) => return cannot(e.to_string()),
    };
    let expect = match (&last, state) {
        (Some(s), Some(p)) => match s.root_hash(p) {
            Ok(h) => Some((s.size, h)),
            Err(e) => return cannot(e.to_string()),
        },
        _ => None,
    };
    let mut engine = Engine::new(Some(trust.clone()), None, expect);
    let (views, unreachable) = crate::witness_views::fetch(trust);
    engine.expect_witness_views(views.clone());
    engine.report.not_checked.extend(unreachable);
    let started = std::time::Instant::now();
    tracing::info!(source = %source.describe(), state_size = last.as_ref().map(|s| s.size), "audit started");
    crate::stream::run(source, &mut engine, quiet);
    let final_checkpoint = finish(&mut engine, trust, source, last.as_ref(), state.is_some());
    beyond(&mut engine, &views);
    let mut report = engine.report;
    if let (Some(path), 0, Some((size, root, note))) = (state, report.exit_code(), final_checkpoint) {
        let new = State {
            version: STATE_VERSION,
            origin: report.origin.clone(),
            size,
            root: root.to_hex(),
            checkpoint: note,
            audited_at: now(),
        };
        if let Err(e) = new.save(path) {
            report.cannot_evaluate = Some(format!("the audit holds, but the state file was not updated: {e}"));
        }
    }
    tracing::info!(
        entries = report.entries,
        exit_code = report.exit_code(),
        seconds = started.elapsed().as_secs_f64(),
        "audit finished"
    );
    report
}

fn now() -> String {
    cairn_host::clock::now_saturating().to_rfc3339()
}

/// The checks after the stream: everything covered by a checkpoint, the
/// state file, the live ledger's newest checkpoint, the witnesses. Returns
/// the checkpoint the state file should record.
fn finish(
    engine: &mut Engine,
    trust: &Trust,
    source: &Source,
    state: Option<&State>,
    state_path: bool,
) -> Option<(u64, Hash, String)> {
    let size = engine.frontier().size();
    let last = engine.last_checkpoint.clone();
    let r = &mut engine.report;
    if r.cannot_evaluate.is_some() {
        return None;
    }
    match &last {
        None => r.fail(None, "no checkpoint in the export verifies: nothing is proven".into()),
        Some((s, _, _)) if *s != size => r.fail(
            Some(*s),
            format!(
                "entries {s}..{} are not covered by any signed checkpoint",
                size.saturating_sub(1)
            ),
        ),
        Some(_) => {}
    }
    if let Some(st) = state {
        if st.origin != r.origin {
            r.fail(
                None,
                format!("the state file is for log {:?}, not {:?}", st.origin, r.origin),
            );
        } else if st.size > size {
            r.fail(
                None,
                format!(
                    "rollback: the last audit saw {} entries, the log now has {size}",
                    st.size
                ),
            );
        } else if !r.state_checked && st.size > 0 {
            r.fail(
                None,
                format!("the tree never reached the state file's size {}", st.size),
            );
        } else {
            r.notes.push(format!(
                "consistent with the last audit (size {}, audited {})",
                st.size, st.audited_at
            ));
        }
    } else if state_path {
        r.notes
            .push("first audit with this state file: it now records the audited checkpoint".into());
    } else {
        r.not_checked.push(
            "history before this audit: no state file (pass --state to catch a rollback or fork next time)".into(),
        );
    }
    let mut newest = last.clone();
    if let (Source::Ledger(l), Some(last)) = (source, &last) {
        newest = live_checkpoint(l, trust, last, r).or(newest);
    }
    if trust.witnesses.is_empty() {
        r.not_checked.push(
            "witness cosignatures: the trust file names no witnesses (keep the state file and compare checkpoints with other auditors)"
                .into(),
        );
    } else if let Some((size, _, note)) = &newest {
        let log_key = trust.log_key(&r.origin).cloned();
        if let Some(k) = log_key {
            match Checkpoint::verify(note.as_bytes(), &k, &trust.witness_keys()) {
                Ok((_, _, cosigs)) => {
                    let newest_at = cosigs.iter().filter_map(|c| c.timestamp).max();
                    let keys: Vec<_> = cosigs.into_iter().map(|c| c.key).collect();
                    let names = trust.witnesses.names_of(&keys);
                    let of = format!(
                        "{} of {} ({})",
                        names.len(),
                        trust.witnesses.witnesses().len(),
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    );
                    let age = newest_at.map_or(String::new(), |t| {
                        let now = cairn_host::clock::now_saturating().millis() / 1000;
                        format!("; newest cosignature {}s old", now.saturating_sub(t))
                    });
                    if trust.quorum_met(&keys) {
                        r.notes
                            .push(format!("checkpoint {size}: witnessed by {of}{age}, quorum met"));
                    } else {
                        r.fail(
                            None,
                            format!("checkpoint {size}: witnessed by {of}{age}: the witness quorum is not met"),
                        );
                    }
                }
                Err(e) => r.fail(None, format!("checkpoint {size}: {e}")),
            }
        }
    }
    if r.failures_total == 0 { newest } else { None }
}

/// Witnesses that cosigned a larger tree than this audit saw: a note (an
/// export taken earlier is smaller), and what was checked.
fn beyond(engine: &mut Engine, views: &[crate::witness_views::WitnessView]) {
    let size = engine.frontier().size();
    let origin = engine.report.origin.clone();
    for v in views.iter().filter(|v| v.origin == origin) {
        if v.size > size {
            engine.report.notes.push(format!(
                "witness {} has cosigned size {} of this log, beyond the {size} entries audited: audit again to cover them",
                v.witness, v.size
            ));
        } else if engine.witness_views_checked.contains(v) {
            engine.report.notes.push(format!(
                "witness {}'s view (size {}) is this log's tree",
                v.witness, v.size
            ));
        }
    }
}

/// Compare the export's last checkpoint with the ledger's newest one: the
/// same root at the same size, or a valid consistency proof to a larger one.
fn live_checkpoint(
    l: &Ledger,
    trust: &Trust,
    last: &(u64, Hash, String),
    r: &mut Report,
) -> Option<(u64, Hash, String)> {
    let (size, root, _) = last;
    let note = match l.get("/checkpoint") {
        Ok(b) => b,
        Err(e) => {
            r.cannot_evaluate = Some(e.to_string());
            return None;
        }
    };
    let key = trust.log_key(&r.origin)?;
    let cp = match Checkpoint::verify(&note, key, &trust.witness_keys()) {
        Ok((cp, _, _)) => cp,
        Err(e) => {
            r.fail(None, format!("the ledger's newest checkpoint: {e}"));
            return None;
        }
    };
    let text = String::from_utf8_lossy(&note).into_owned();
    if cp.size < *size {
        r.fail(
            None,
            format!("rollback: the ledger now signs size {} after exporting {size}", cp.size),
        );
        return None;
    }
    if cp.size == *size {
        if cp.root != *root {
            r.fail(
                None,
                format!(
                    "fork: two checkpoints of size {size} with different roots ({root} exported, {} now)",
                    cp.root
                ),
            );
            return None;
        }
        r.notes
            .push(format!("the ledger's newest checkpoint ({size}) is the one audited"));
        return Some((cp.size, cp.root, text));
    }
    let path = format!("/v1/proofs/consistency?from={size}&to={}", cp.size);
    let hashes = match l.get_wire::<ConsistencyProof>(&path) {
        Ok(p) if p.from == *size && p.to == cp.size => Some(p.proof),
        Ok(_) | Err(SourceError::Malformed { .. }) => None,
        Err(e) => {
            r.cannot_evaluate = Some(e.to_string());
            return None;
        }
    };
    match hashes.map(|h| verify_consistency::<Sha256>(*size, cp.size, &h, &root.0, &cp.root.0)) {
        Some(Ok(())) => {
            r.notes.push(format!(
                "the ledger's newest checkpoint ({}) is consistent with the audited one ({size})",
                cp.size
            ));
            // The state records what was audited, not what was only proven
            // consistent: entries after `size` have not been checked.
            Some(last.clone())
        }
        Some(Err(e)) => {
            r.fail(
                None,
                format!(
                    "fork: the newest checkpoint ({}) is not consistent with size {size}: {e}",
                    cp.size
                ),
            );
            None
        }
        None => {
            r.fail(
                None,
                "the ledger's consistency proof is not a consistency proof between those sizes".into(),
            );
            None
        }
    }
}
