//! What a run found, as a one-screen summary (in the manner of AWS
//! CloudTrail's validate-logs) or as JSON, and the exit code it means.

use serde_json::{Value, json};

use crate::{EXIT_CANNOT_EVALUATE, EXIT_MISMATCH, EXIT_TAMPERED, EXIT_VALID};

/// Most failures, mismatches or unreplayable receipts listed one by one;
/// the rest are counted.
pub const MAX_LISTED: usize = 100;

/// One receipt whose replay gave another decision or other rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Its index in the log.
    pub index: u64,
    /// Subject id.
    pub subject: String,
    /// Action name.
    pub action: String,
    /// `surface:target`.
    pub target: String,
    /// The decision in the receipt.
    pub recorded: String,
    /// The determining rules in the receipt.
    pub recorded_rules: Vec<String>,
    /// The decision replay gave.
    pub replayed: String,
    /// The determining rules replay gave.
    pub replayed_rules: Vec<String>,
}

/// A check that failed, with the entry it concerns when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The entry's index.
    pub index: Option<u64>,
    /// What failed.
    pub what: String,
}

/// Counts and findings of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// The log's origin.
    pub origin: String,
    /// Where the evidence came from.
    pub source: String,
    /// Entries read.
    pub entries: u64,
    /// Receipt entries, and those whose every check passed.
    pub receipts_total: u64,
    /// See `receipts_total`.
    pub receipts_valid: u64,
    /// Key statements, and those signed by a trusted authority.
    pub keys_total: u64,
    /// See `keys_total`.
    pub keys_valid: u64,
    /// Policy bundles, and those signed by a trusted authority.
    pub bundles_total: u64,
    /// See `bundles_total`.
    pub bundles_valid: u64,
    /// Checkpoints, and those signed by the log key over the recomputed root.
    pub checkpoints_total: u64,
    /// See `checkpoints_total`.
    pub checkpoints_valid: u64,
    /// Receipts replayed.
    pub replayed: u64,
    /// Selected break-glass receipts (an operator's override: not compared).
    pub overrides: u64,
    /// Selected fail-closed SILENCE receipts (no policy decided: not compared).
    pub fail_closed: u64,
    /// Whether the state file's checkpoint was compared with the tree.
    pub state_checked: bool,
    /// Failed checks (the first [`MAX_LISTED`]).
    pub failures: Vec<Failure>,
    /// All failed checks.
    pub failures_total: u64,
    /// Replay mismatches (the first [`MAX_LISTED`]).
    pub mismatches: Vec<Mismatch>,
    /// All replay mismatches.
    pub mismatches_total: u64,
    /// Mismatches whose decision differs (not only the determining rules).
    pub decisions_changed: u64,
    /// What-if: receipts the filters select but decided under another
    /// bundle than the candidate replaces (not replayed).
    pub out_of_scope: u64,
    /// Receipts that could not be replayed (the first [`MAX_LISTED`]).
    pub unreplayable: Vec<Failure>,
    /// All receipts that could not be replayed.
    pub unreplayable_total: u64,
    /// The evidence could not be read or fetched (exit 3).
    pub cannot_evaluate: Option<String>,
    /// What was checked beyond the counts, one line each.
    pub notes: Vec<String>,
    /// What was not checked, and why.
    pub not_checked: Vec<String>,
}

impl Report {
    /// Record a failed check.
    pub fn fail(&mut self, index: Option<u64>, what: String) {
        self.failures_total += 1;
        if self.failures.len() < MAX_LISTED {
            self.failures.push(Failure { index, what });
        }
    }

    /// Record a replay mismatch.
    pub fn mismatch(&mut self, m: Mismatch) {
        self.mismatches_total += 1;
        if m.recorded != m.replayed {
            self.decisions_changed += 1;
        }
        if self.mismatches.len() < MAX_LISTED {
            self.mismatches.push(m);
        }
    }

    /// Record a receipt that could not be replayed.
    pub fn cannot_replay(&mut self, index: u64, what: String) {
        self.unreplayable_total += 1;
        if self.unreplayable.len() < MAX_LISTED {
            self.unreplayable.push(Failure {
                index: Some(index),
                what,
            });
        }
    }

    /// 1 if anything failed, else 3 if something could not be evaluated,
    /// else 2 on a replay mismatch, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.failures_total > 0 {
            EXIT_TAMPERED
        } else if self.cannot_evaluate.is_some() || self.unreplayable_total > 0 {
            EXIT_CANNOT_EVALUATE
        } else if self.mismatches_total > 0 {
            EXIT_MISMATCH
        } else {
            EXIT_VALID
        }
    }

    fn verdict(&self) -> &'static str {
        match self.exit_code() {
            EXIT_VALID => "VALID",
            EXIT_TAMPERED => "INVALID: tampered or untrusted",
            EXIT_MISMATCH => "REPLAY MISMATCH",
            _ => "COULD NOT EVALUATE",
        }
    }

    /// The JSON form.
    pub fn to_json(&self, command: &str) -> Value {
        let failures: Vec<Value> = self
            .failures
            .iter()
            .map(|f| json!({"index": f.index, "what": f.what}))
            .collect();
        let mismatches: Vec<Value> = self
            .mismatches
            .iter()
            .map(|m| {
                json!({"index": m.index, "change": if m.recorded == m.replayed { "rules" } else { "decision" },
                       "subject": m.subject, "action": m.action, "target": m.target,
                       "recorded": m.recorded, "recorded_rules": m.recorded_rules,
                       "replayed": m.replayed, "replayed_rules": m.replayed_rules})
            })
            .collect();
        let unreplayable: Vec<Value> = self
            .unreplayable
            .iter()
            .map(|f| json!({"index": f.index, "what": f.what}))
            .collect();
        json!({
            "command": command,
            "verdict": self.verdict(),
            "valid": self.exit_code() == crate::EXIT_VALID,
            "exit_code": self.exit_code(),
            "origin": self.origin,
            "source": self.source,
            "entries": self.entries,
            "receipts": {"valid": self.receipts_valid, "total": self.receipts_total},
            "key_statements": {"valid": self.keys_valid, "total": self.keys_total},
            "policy_bundles": {"valid": self.bundles_valid, "total": self.bundles_total},
            "checkpoints": {"valid": self.checkpoints_valid, "total": self.checkpoints_total},
            "replayed": self.replayed,
            "not_compared": {"break_glass_overrides": self.overrides, "fail_closed_silences": self.fail_closed},
            "replay_mismatches": {"total": self.mismatches_total, "decisions_changed": self.decisions_changed, "rules_only_changed": self.mismatches_total - self.decisions_changed, "listed": mismatches},
            "what_if_out_of_scope": self.out_of_scope,
            "unreplayable": {"total": self.unreplayable_total, "listed": unreplayable},
            "failures": {"total": self.failures_total, "listed": failures},
            "cannot_evaluate": self.cannot_evaluate,
            "notes": self.notes,
            "not_checked": self.not_checked,
        })
    }

    /// The one-screen summary.
    pub fn human(&self, command: &str) -> String {
        let mut out = format!(
            "cairn-verify {command}: log {} ({}), {} entries\n",
            if self.origin.is_empty() { "?" } else { &self.origin },
            self.source,
            self.entries
        );
        out += &format!("  {}/{} receipts valid\n", self.receipts_valid, self.receipts_total);
        out += &format!("  {}/{} key statements valid\n", self.keys_valid, self.keys_total);
        out += &format!("  {}/{} policy bundles valid\n", self.bundles_valid, self.bundles_total);
        out += &format!(
            "  {}/{} checkpoints valid and consistent with the recomputed tree\n",
            self.checkpoints_valid, self.checkpoints_total
        );
        if self.replayed > 0 || self.mismatches_total > 0 || self.unreplayable_total > 0 {
            out += &format!(
                "  {} receipts replayed, {} replay mismatches, {} could not be replayed\n",
                self.replayed, self.mismatches_total, self.unreplayable_total
            );
        }
        if self.overrides > 0 || self.fail_closed > 0 {
            out += &format!(
                "  not compared (no policy decided them): {} break-glass overrides, {} fail-closed SILENCE receipts\n",
                self.overrides, self.fail_closed
            );
        }
        for n in &self.notes {
            out += &format!("  {n}\n");
        }
        if let Some(e) = &self.cannot_evaluate {
            out += &format!("Could not evaluate: {e}\n");
        }
        if self.failures_total > 0 {
            out += &format!("Failures ({}):\n", self.failures_total);
            for f in &self.failures {
                match f.index {
                    Some(i) => out += &format!("  - entry {i}: {}\n", f.what),
                    None => out += &format!("  - {}\n", f.what),
                }
            }
            if self.failures_total > self.failures.len() as u64 {
                out += &format!("  ... and {} more\n", self.failures_total - self.failures.len() as u64);
            }
        }
        if self.mismatches_total > 0 {
            out += &format!(
                "Replay mismatches ({}: {} decisions changed, {} the same decision on other rules):\n",
                self.mismatches_total,
                self.decisions_changed,
                self.mismatches_total - self.decisions_changed
            );
            for m in &self.mismatches {
                out += &format!(
                    "  - entry {}: {} {} on {}: recorded {} [{}], replayed {} [{}]\n",
                    m.index,
                    m.subject,
                    m.action,
                    m.target,
                    m.recorded,
                    m.recorded_rules.join(", "),
                    m.replayed,
                    m.replayed_rules.join(", ")
                );
            }
        }
        for f in &self.unreplayable {
            out += &format!("  - entry {}: not replayed: {}\n", f.index.unwrap_or(0), f.what);
        }
        if !self.not_checked.is_empty() {
            out += "Not checked:\n";
            for n in &self.not_checked {
                out += &format!("  - {n}\n");
            }
        }
        out += &format!("Result: {}\n", self.verdict());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_rank_failures_first() {
        let mut r = Report::default();
        assert_eq!(r.exit_code(), EXIT_VALID);
        r.mismatch(Mismatch {
            index: 3,
            subject: "s".into(),
            action: "a".into(),
            target: "k:t".into(),
            recorded: "PERMIT".into(),
            recorded_rules: vec!["r1".into()],
            replayed: "DENY".into(),
            replayed_rules: vec![],
        });
        assert_eq!(r.exit_code(), EXIT_MISMATCH);
        r.cannot_replay(4, "engine".into());
        assert_eq!(r.exit_code(), EXIT_CANNOT_EVALUATE);
        for i in 0..(MAX_LISTED as u64 + 5) {
            r.fail(Some(i), "bad".into());
        }
        assert_eq!(r.exit_code(), EXIT_TAMPERED);
        assert_eq!(r.failures.len(), MAX_LISTED);
        let text = r.human("audit");
        assert!(text.contains("... and 5 more"));
        assert!(text.contains("entry 3: s a on k:t: recorded PERMIT [r1], replayed DENY []"));
        assert_eq!(r.to_json("audit")["failures"]["total"], MAX_LISTED as u64 + 5);
    }
}
