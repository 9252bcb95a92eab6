//! A logged receipt as an OCSF event (Open Cybersecurity Schema Framework
//! 1.7.0), one JSON object per line: class Web Resource Access Activity
//! (6004, category Application Activity), whose activities are the
//! decisions: Access Grant (PERMIT), Access Deny (DENY), Access Error
//! (SILENCE: no decision could be reached, the gate failed closed).
//!
//! The log position is in `metadata.sequence` (the log index, also the
//! deduplication key) and, with the leaf hash and the checkpoint size, in
//! `unmapped.cairn`. `interop/foreign` validates the lines against the JSON
//! Schema of the class generated from the OCSF 1.7.0 schema export, and
//! checks them with `ocsf-lib`. The mapping is in `docs/operations.md`.

use cairn_api::receipt::Decision;
use serde::Serialize;

use super::record::{Logged, mode, outcome};

/// The OCSF version the events follow.
pub const OCSF_VERSION: &str = "1.7.0";
/// The profiles the events use (listed in `metadata.profiles`).
pub const PROFILES: &[&str] = &["security_control", "host"];
/// Web Resource Access Activity.
pub const CLASS_UID: u32 = 6004;
/// Application Activity.
pub const CATEGORY_UID: u32 = 6;

/// One OCSF event (the attributes cairn sets).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    class_uid: u32,
    class_name: &'static str,
    category_uid: u32,
    category_name: &'static str,
    #[serde(flatten)]
    codes: Codes,
    type_uid: u32,
    type_name: String,
    time: u64,
    status_code: String,
    status_detail: String,
    message: String,
    metadata: Metadata,
    actor: Actor,
    web_resources: Vec<WebResource>,
    /// Required by the class; the receipt does not record the transport
    /// the request came over, so it is empty.
    http_request: HttpRequest,
    policy: Policy,
    authorizations: Vec<Authorization>,
    unmapped: Unmapped,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Metadata {
    version: &'static str,
    /// The profiles whose attributes the event uses: `security_control`
    /// (action, disposition, policy, authorizations) and `host` (actor).
    profiles: &'static [&'static str],
    product: Product,
    uid: String,
    log_name: String,
    sequence: u64,
    logged_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_uid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Product {
    name: &'static str,
    vendor_name: &'static str,
    version: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Actor {
    user: User,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct User {
    uid: String,
    /// AuthZEN's subject type; `type_id` is Other (99) since it is not one
    /// of OCSF's user types.
    #[serde(rename = "type")]
    kind: String,
    type_id: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct WebResource {
    uid: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct HttpRequest {}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Policy {
    uid: String,
    name: String,
    version: String,
    is_applied: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Authorization {
    decision: &'static str,
    policy: Policy,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Unmapped {
    cairn: Cairn,
}

/// What OCSF has no attribute for.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Cairn {
    log_index: u64,
    leaf_hash: String,
    checkpoint_size: u64,
    receipt_id: String,
    gate: String,
    decision: &'static str,
    mode: &'static str,
    action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    approval_outcome: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approver: Option<String>,
}

/// The attributes that follow from the decision alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct Codes {
    activity_id: u32,
    activity_name: &'static str,
    severity_id: u32,
    severity: &'static str,
    action_id: u32,
    action: &'static str,
    disposition_id: u32,
    disposition: &'static str,
    status_id: u32,
    status: &'static str,
}

impl Codes {
    fn of(d: Decision) -> Self {
        let (activity_id, activity_name, severity_id, severity, status_id, status) = match d {
            Decision::Permit => (1, "Access Grant", 1, "Informational", 1, "Success"),
            Decision::Deny => (2, "Access Deny", 2, "Low", 1, "Success"),
            Decision::Silence => (4, "Access Error", 3, "Medium", 2, "Failure"),
        };
        let allowed = d == Decision::Permit;
        Codes {
            activity_id,
            activity_name,
            severity_id,
            severity,
            action_id: if allowed { 1 } else { 2 },
            action: if allowed { "Allowed" } else { "Denied" },
            disposition_id: if allowed { 1 } else { 2 },
            disposition: if allowed { "Allowed" } else { "Blocked" },
            status_id,
            status,
        }
    }
}

impl Event {
    /// The event of one logged receipt, from the log `origin`.
    pub fn of(origin: &str, l: &Logged) -> Self {
        let r = &l.receipt;
        let q = &r.request;
        let codes = Codes::of(r.decision);
        let policy = Policy {
            uid: r.policy.bundle_hash.to_hex(),
            name: r.policy.bundle_id.clone(),
            version: r.policy.revision.to_string(),
            is_applied: true,
        };
        let approval = r.approval.as_ref();
        Event {
            class_uid: CLASS_UID,
            class_name: "Web Resource Access Activity",
            category_uid: CATEGORY_UID,
            category_name: "Application Activity",
            type_uid: CLASS_UID * 100 + codes.activity_id,
            type_name: format!("Web Resource Access Activity: {}", codes.activity_name),
            time: r.decided_at.millis(),
            codes,
            status_code: r.reason.code.clone(),
            status_detail: r.reason.admin_message.clone(),
            message: r.reason.user_message.clone(),
            metadata: Metadata {
                version: OCSF_VERSION,
                profiles: PROFILES,
                product: Product {
                    name: "cairn",
                    vendor_name: "cairn",
                    version: env!("CARGO_PKG_VERSION"),
                },
                uid: r.receipt_id.clone(),
                log_name: origin.to_owned(),
                sequence: l.index,
                logged_time: l.integrated_at.millis(),
                correlation_uid: r.trace.as_ref().map(|t| t.trace_id.clone()),
            },
            actor: Actor {
                user: User {
                    uid: q.subject.id.clone(),
                    kind: q.subject.kind.clone(),
                    type_id: 99,
                },
            },
            web_resources: vec![WebResource {
                uid: q.resource.id.clone(),
                kind: q.resource.kind.clone(),
                name: format!("{}:{}", q.resource.kind, q.resource.id),
            }],
            http_request: HttpRequest {},
            authorizations: vec![Authorization {
                decision: r.decision.as_str(),
                policy: policy.clone(),
            }],
            policy,
            unmapped: Unmapped {
                cairn: Cairn {
                    log_index: l.index,
                    leaf_hash: l.leaf_hash.to_hex(),
                    checkpoint_size: l.checkpoint_size,
                    receipt_id: r.receipt_id.clone(),
                    gate: r.gate.clone(),
                    decision: r.decision.as_str(),
                    mode: mode(r.mode),
                    action: q.action.name.clone(),
                    approval_outcome: approval.and_then(|a| a.outcome).map(outcome),
                    approver: approval
                        .and_then(|a| a.approver.as_ref())
                        .map(|a| format!("{} {}", a.iss, a.sub)),
                },
            },
        }
    }

    /// The event as one JSON line (no newline).
    pub fn to_line(&self) -> String {
        // Serializing plain structs of strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_api::examples;
    use cairn_api::merkle::Hash;
    use cairn_api::timestamp::Timestamp;
    use serde_json::Value;

    #[test]
    fn the_decision_is_the_activity_and_the_position_is_the_sequence() {
        for n in 0..6 {
            let l = Logged {
                index: 40 + n,
                leaf_hash: Hash([9; 32]),
                checkpoint_size: 100,
                integrated_at: Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap(),
                receipt: examples::receipt_parts(n),
            };
            let v: Value = serde_json::from_str(&Event::of("log.example/x", &l).to_line()).unwrap();
            let want = match l.receipt.decision {
                Decision::Permit => 1,
                Decision::Deny => 2,
                Decision::Silence => 4,
            };
            assert_eq!(v["activity_id"], want);
            assert_eq!(v["type_uid"], 600_400 + want);
            assert_eq!(v["metadata"]["sequence"], 40 + n);
            assert_eq!(v["unmapped"]["cairn"]["checkpoint_size"], 100);
            assert_eq!(v["unmapped"]["cairn"]["leaf_hash"], "09".repeat(32));
            assert_eq!(v["authorizations"][0]["decision"], l.receipt.decision.as_str());
        }
    }
}
