//! Static checks for policy authors (`policy check`): rules that can never
//! match, ALLOW rules fully shadowed by a DENY, and globs that match nothing
//! the bundle's vocabulary knows. Sound but not complete: every finding is
//! real; some dead rules are not found.

use super::glob::Glob;
use super::rules::{Effect, Rule, RuleSet};

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule id.
    pub rule: String,
    /// `never-matches`, `shadowed` or `unknown-name`.
    pub kind: &'static str,
    /// For people.
    pub message: String,
}

/// Check a compiled policy (each engine's own checks).
pub fn check(policy: &super::Policy) -> Vec<Finding> {
    policy.check()
}

fn covers(deny: &[Glob], allow: &[Glob]) -> bool {
    allow.iter().all(|a| {
        deny.iter().any(|d| {
            d.matches_everything() || d.as_str() == a.as_str() || a.literal().is_some_and(|lit| d.matches(&lit))
        })
    })
}

pub(super) fn check_rules(set: &RuleSet) -> Vec<Finding> {
    let mut out = Vec::new();
    let rules = set.rules();
    for r in rules {
        for (list, globs) in r.lists() {
            if globs.is_empty() {
                out.push(Finding {
                    rule: r.spec.id.clone(),
                    kind: "never-matches",
                    message: format!(
                        "rule {} can never match: `{list}` is empty (an empty list matches nothing)",
                        r.spec.id
                    ),
                });
            }
        }
    }
    for a in rules.iter().filter(|r| r.spec.effect == Effect::Allow) {
        if let Some(d) = rules
            .iter()
            .filter(|d| d.spec.effect == Effect::Deny && !d.has_conditions())
            .find(|d| shadows(d, a))
        {
            out.push(Finding {
                rule: a.spec.id.clone(),
                kind: "shadowed",
                message: format!(
                    "ALLOW rule {} is fully shadowed by DENY rule {}: every request it matches is denied",
                    a.spec.id, d.spec.id
                ),
            });
        }
    }
    if let Some(v) = &set.vocabulary {
        for r in rules {
            for (list, globs, known) in [
                ("surfaces", r.lists()[1].1, &v.surfaces),
                ("actions", r.lists()[2].1, &v.actions),
            ] {
                if known.is_empty() {
                    continue;
                }
                for g in globs.iter().filter(|g| !known.iter().any(|k| g.matches(k))) {
                    out.push(Finding {
                        rule: r.spec.id.clone(),
                        kind: "unknown-name",
                        message: format!(
                            "rule {}: {list} glob {:?} matches none of the vocabulary's {list}",
                            r.spec.id,
                            g.as_str()
                        ),
                    });
                }
            }
        }
    }
    out
}

fn shadows(deny: &Rule, allow: &Rule) -> bool {
    deny.lists()
        .iter()
        .zip(allow.lists().iter())
        .all(|(d, a)| covers(d.1, a.1))
}
