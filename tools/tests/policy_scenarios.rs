//! The seed scenarios, table-driven: every request's decision is what the
//! scenario says (an oracle written here, from the scenario's words), and
//! both engines agree on every one.

use std::path::PathBuf;

use cairn_api::policy::{DecisionInput, Policy, PolicyDecision};
use cairn_api::receipt::{ApprovalOutcome, Decision};
use cairn_gate::policy_dir::pack_dir;
use cairn_tools::scenarios::{SCENARIOS, requests};

fn dir(scenario: &str, engine: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/policies")
        .join(scenario)
        .join(engine)
}

fn compile(scenario: &str, engine: &str) -> Policy {
    let bundle = pack_dir(&dir(scenario, engine)).unwrap_or_else(|e| panic!("{scenario}/{engine}: {e}"));
    Policy::compile(&bundle).unwrap_or_else(|e| panic!("{scenario}/{engine}: {e}"))
}

fn approved(i: &DecisionInput) -> bool {
    i.approval.as_ref().and_then(|a| a.outcome) == Some(ApprovalOutcome::Approved)
}

/// What each scenario says, in plain code.
fn oracle(scenario: &str, i: &DecisionInput) -> Decision {
    use Decision::*;
    let q = &i.request;
    let (subject, action, surface, target) = (
        q.subject.id.as_str(),
        q.action.name.as_str(),
        q.resource.kind.as_str(),
        q.resource.id.as_str(),
    );
    match scenario {
        "devops-staging" => {
            let destructive = ["delete_", "scale_", "patch_"].iter().any(|p| action.starts_with(p));
            let read = ["get_", "list_", "describe_"].iter().any(|p| action.starts_with(p));
            let production_change = target.starts_with("production:") && destructive && subject.starts_with("agent:");
            let allowed = subject == "agent:devops-helper"
                && (target.starts_with("staging:") || (target.starts_with("production:") && read));
            if surface == "eks" && !production_change && allowed {
                Permit
            } else {
                Deny
            }
        }
        "databases" => {
            if target.starts_with("staging/")
                || ["SELECT", "INSERT", "UPDATE"].contains(&action)
                || (["DROP", "TRUNCATE"].contains(&action) && approved(i))
            {
                Permit
            } else {
                Deny
            }
        }
        "inbox" => {
            let count = i.nd_inputs.other.get("deletions_last_hour").and_then(|v| v.as_i64());
            if subject != "agent:inbox-assistant" && action != "delete" {
                Deny
            } else if action == "delete" {
                match count {
                    None => Silence,
                    Some(c) if c >= 10 => Deny,
                    Some(_) if subject == "agent:inbox-assistant" && approved(i) => Permit,
                    Some(_) => Deny,
                }
            } else {
                Permit
            }
        }
        "payments" => {
            let agent = subject.starts_with("agent:") && target.starts_with("account/");
            match action {
                "get_balance" if agent => Permit,
                "transfer" if agent => {
                    let amount = q.action.properties.as_ref().and_then(|p| p.get("amount_cents"));
                    match amount.map(|a| a.as_i64()) {
                        None | Some(None) => Silence,
                        Some(Some(a)) if a <= 100_000 => Permit,
                        Some(Some(_)) if approved(i) => Permit,
                        Some(Some(_)) => Deny,
                    }
                }
                _ => Deny,
            }
        }
        other => panic!("unknown scenario {other}"),
    }
}

fn rules_agree(a: &PolicyDecision, b: &PolicyDecision) -> bool {
    // Determining rules agree wherever both engines name them: PERMITs and
    // explicit DENYs. (A DENY because approval is missing names the
    // approval-requiring rule in cairn-rules; Cedar has no such notion and
    // reports a default deny.)
    let named = |d: &PolicyDecision| d.decision == Decision::Permit || d.reason.code == "denied_by_rule";
    !(named(a) && named(b)) || a.determining_rules == b.determining_rules
}

#[test]
fn scenarios_decide_as_specified_and_engines_agree() {
    let mut total = 0;
    for scenario in SCENARIOS {
        let native = compile(scenario, "cairn-rules");
        let cedar = compile(scenario, "cedar");
        let cases = requests(scenario);
        assert!(cases.len() >= 50, "{scenario}: only {} requests", cases.len());
        let mut counts = std::collections::BTreeMap::new();
        for (label, input) in &cases {
            let want = oracle(scenario, input);
            let a = native.decide(input);
            let b = cedar.decide(input);
            assert_eq!(a.decision, want, "{scenario} cairn-rules: {label}: {a:?}");
            assert_eq!(b.decision, want, "{scenario} cedar: {label}: {b:?}");
            assert!(
                rules_agree(&a, &b),
                "{scenario}: {label}: rules {:?} vs {:?}",
                a.determining_rules,
                b.determining_rules
            );
            *counts.entry(want).or_insert(0) += 1;
        }
        // Every scenario exercises more than one outcome.
        assert!(counts.len() >= 2, "{scenario}: {counts:?}");
        println!("{scenario}: {} requests, engines agree, {counts:?}", cases.len());
        total += cases.len();
    }
    assert!(total >= 200);
}

#[test]
fn packing_is_deterministic_and_round_trips() {
    for scenario in SCENARIOS {
        for engine in ["cairn-rules", "cedar"] {
            let a = pack_dir(&dir(scenario, engine)).unwrap();
            let b = pack_dir(&dir(scenario, engine)).unwrap();
            assert_eq!(a.as_bytes(), b.as_bytes());
            let back = cairn_api::policy::Bundle::from_bytes(a.as_bytes()).unwrap();
            assert_eq!(back.hash(), a.hash());
            // Decisions after pack/unpack are the same.
            let (p1, p2) = (Policy::compile(&a).unwrap(), Policy::compile(&back).unwrap());
            for (_, i) in requests(scenario).iter().take(20) {
                assert_eq!(p1.decide(i), p2.decide(i));
            }
        }
    }
}
