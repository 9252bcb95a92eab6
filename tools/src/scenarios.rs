//! The seed scenarios' requests: deterministic sets of decision inputs for
//! the example bundles under `examples/policies/`, used by the tests (with
//! their oracles), the golden decision files and the benchmarks.

use cairn_api::examples;
use cairn_api::policy::DecisionInput;
use cairn_api::receipt::{Approval, ApprovalOutcome};
use serde_json::json;

/// The scenarios, by directory name under `examples/policies/`.
pub const SCENARIOS: [&str; 4] = ["devops-staging", "databases", "inbox", "payments"];

fn base(subject: &str, action: &str, surface: &str, target: &str) -> DecisionInput {
    let mut i = DecisionInput::from_receipt(&examples::receipt_parts(4));
    i.request.subject.id = subject.into();
    i.request.subject.kind = subject.split(':').next().unwrap_or("agent").into();
    i.request.action.name = action.into();
    i.request.action.properties = None;
    i.request.resource.kind = surface.into();
    i.request.resource.id = target.into();
    i.approval = None;
    i
}

/// A request of `subject` doing `action` on `surface`:`target`, with the
/// example context.
pub fn request(subject: &str, action: &str, surface: &str, target: &str) -> cairn_api::receipt::Request {
    base(subject, action, surface, target).request
}

/// A tool call of [`request`] with the example delegation chain.
pub fn tool_call(
    subject: &str,
    action: &str,
    surface: &str,
    target: &str,
    idempotency_key: &str,
) -> cairn_gate::gate::ToolCall {
    cairn_gate::gate::ToolCall {
        request: request(subject, action, surface, target),
        lineage: examples::receipt_parts(0).lineage,
        initiator: None,
        idempotency_key: idempotency_key.into(),
    }
}

fn approval(outcome: Option<ApprovalOutcome>) -> Option<Approval> {
    let mut a = examples::receipt_parts(0).approval?;
    a.outcome = outcome;
    if !matches!(outcome, Some(ApprovalOutcome::Approved | ApprovalOutcome::Denied)) {
        a.responded_at = None;
    }
    Some(a)
}

/// The approval states every approval-sensitive request is tried in: none,
/// pending, APPROVED, DENIED, TIMED_OUT.
pub fn approval_states() -> Vec<(&'static str, Option<Approval>)> {
    vec![
        ("no-approval", None),
        ("pending", approval(None)),
        ("approved", approval(Some(ApprovalOutcome::Approved))),
        ("denied", approval(Some(ApprovalOutcome::Denied))),
        ("timed-out", approval(Some(ApprovalOutcome::TimedOut))),
    ]
}

/// The labelled requests of a scenario (at least 50 each).
pub fn requests(scenario: &str) -> Vec<(String, DecisionInput)> {
    let mut out = Vec::new();
    match scenario {
        "devops-staging" => {
            for subject in ["agent:devops-helper", "agent:other", "user:alice"] {
                for action in [
                    "get_pods",
                    "list_deployments",
                    "describe_node",
                    "apply_manifest",
                    "delete_pod",
                    "scale_deployment",
                    "patch_service",
                    "restart_pod",
                ] {
                    for (surface, target) in [
                        ("eks", "staging:web"),
                        ("eks", "production:web"),
                        ("eks", "dev:web"),
                        ("github", "production:web"),
                    ] {
                        out.push((
                            format!("{subject} {action} {surface}:{target}"),
                            base(subject, action, surface, target),
                        ));
                    }
                }
            }
        }
        "databases" => {
            for action in ["SELECT", "INSERT", "UPDATE", "DELETE", "DROP", "TRUNCATE", "ALTER"] {
                for target in ["staging/orders", "production/orders"] {
                    for (state, a) in approval_states() {
                        let mut i = base("agent:dba", action, "postgres", target);
                        i.approval = a;
                        out.push((format!("{action} {target} {state}"), i));
                    }
                }
            }
        }
        "inbox" => {
            for action in ["read", "label", "archive", "delete"] {
                for count in [None, Some(0), Some(9), Some(10), Some(25)] {
                    for (state, a) in approval_states() {
                        let mut i = base("agent:inbox-assistant", action, "gmail", "inbox/msg-42");
                        i.approval = a;
                        if let Some(c) = count {
                            i.nd_inputs.other.insert("deletions_last_hour".into(), json!(c));
                        }
                        let c = count.map_or("no-counter".to_owned(), |c| format!("count={c}"));
                        out.push((format!("{action} {c} {state}"), i));
                    }
                }
            }
            let mut other = base("agent:other", "delete", "gmail", "inbox/msg-1");
            other.nd_inputs.other.insert("deletions_last_hour".into(), json!(12));
            out.push(("other agent delete count=12".into(), other));
        }
        "payments" => {
            for amount in [
                json!(0),
                json!(1),
                json!(50_000),
                json!(99_999),
                json!(100_000),
                json!(100_001),
                json!(250_000),
                json!(5_000_000),
                json!(-5),
                json!("100"),
                serde_json::Value::Null,
            ] {
                for (state, a) in approval_states() {
                    let mut i = base("agent:payments-bot", "transfer", "payments", "account/acme");
                    if !amount.is_null() {
                        let mut p = serde_json::Map::new();
                        p.insert("amount_cents".into(), amount.clone());
                        i.request.action.properties = Some(p);
                    }
                    i.approval = a;
                    out.push((format!("transfer amount={amount} {state}"), i));
                }
            }
            for (subject, action, target) in [
                ("agent:payments-bot", "get_balance", "account/acme"),
                ("agent:payments-bot", "get_balance", "ledger/acme"),
                ("user:bob", "get_balance", "account/acme"),
                ("agent:payments-bot", "close_account", "account/acme"),
            ] {
                out.push((
                    format!("{subject} {action} {target}"),
                    base(subject, action, "payments", target),
                ));
            }
        }
        _ => {}
    }
    out
}
