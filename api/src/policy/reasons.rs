//! The reasons and messages both engines give, so that a person reads the
//! same explanation whichever engine decided.

use super::PolicyDecision;
use crate::receipt::{ApprovalOutcome, Decision, Reason, Request};

fn what(q: &Request) -> String {
    format!("{} on {}:{}", q.action.name, q.resource.kind, q.resource.id)
}

fn decision(
    decision: Decision,
    rules: Vec<String>,
    errors: Vec<String>,
    code: &str,
    user: String,
    admin: String,
) -> PolicyDecision {
    PolicyDecision {
        decision,
        determining_rules: rules,
        errors,
        reason: Reason {
            code: code.into(),
            user_message: user,
            admin_message: admin,
        },
    }
}

fn ids(rules: &[(String, String)]) -> Vec<String> {
    rules.iter().map(|r| r.0.clone()).collect()
}

fn first(rules: &[(String, String)]) -> &str {
    rules.first().map_or("", |r| r.0.as_str())
}

fn admin(prefix: &str, rules: &[(String, String)]) -> String {
    let list: Vec<String> = rules
        .iter()
        .map(|(id, d)| {
            if d.is_empty() {
                id.clone()
            } else {
                format!("{id} ({d})")
            }
        })
        .collect();
    format!("{prefix}: {}", list.join(", "))
}

/// Evaluation failed: fail closed.
pub(crate) fn silence(errors: Vec<String>) -> PolicyDecision {
    let admin = format!("evaluation errors: {}", errors.join("; "));
    decision(
        Decision::Silence,
        vec![],
        errors,
        "evaluation_error",
        "Action refused: the policy could not be evaluated.".into(),
        admin,
    )
}

/// One or more DENY rules matched.
pub(crate) fn deny_by_rules(q: &Request, rules: Vec<(String, String)>) -> PolicyDecision {
    let user = format!(
        "Action blocked by policy: {} is not authorized to {} (rule {})",
        q.subject.id,
        what(q),
        first(&rules)
    );
    let admin = admin("explicit deny", &rules);
    decision(Decision::Deny, ids(&rules), vec![], "denied_by_rule", user, admin)
}

/// ALLOW rules granted it.
pub(crate) fn permit(rules: Vec<(String, String)>, approved: bool) -> PolicyDecision {
    let user = format!("Action permitted by policy (rule {}).", first(&rules));
    let admin = admin(
        if approved {
            "allowed, with human approval"
        } else {
            "allowed"
        },
        &rules,
    );
    let code = if approved { "allowed_with_approval" } else { "allowed" };
    decision(Decision::Permit, ids(&rules), vec![], code, user, admin)
}

/// Only ALLOW rules that need approval matched, and there is no APPROVED one.
pub(crate) fn approval_missing(
    q: &Request,
    rules: Vec<(String, String)>,
    outcome: Option<ApprovalOutcome>,
) -> PolicyDecision {
    let (code, user) = match outcome {
        Some(ApprovalOutcome::Denied) => (
            "approval_denied",
            format!(
                "Action blocked: the approver refused {} for {} (rule {})",
                what(q),
                q.subject.id,
                first(&rules)
            ),
        ),
        Some(ApprovalOutcome::TimedOut) => (
            "approval_timed_out",
            format!(
                "Action blocked: no approval arrived in time for {} by {} (rule {})",
                what(q),
                q.subject.id,
                first(&rules)
            ),
        ),
        _ => (
            "approval_required",
            format!(
                "Action needs human approval: {} wants to {} (rule {})",
                q.subject.id,
                what(q),
                first(&rules)
            ),
        ),
    };
    let admin = admin("approval required by", &rules);
    decision(Decision::Deny, ids(&rules), vec![], code, user, admin)
}

/// Nothing allowed it.
pub(crate) fn default_deny(q: &Request) -> PolicyDecision {
    let user = format!(
        "Action blocked by policy: no rule allows {} to {}",
        q.subject.id,
        what(q)
    );
    decision(
        Decision::Deny,
        vec![],
        vec![],
        "no_matching_rule",
        user,
        "default deny: no ALLOW rule matched".into(),
    )
}
