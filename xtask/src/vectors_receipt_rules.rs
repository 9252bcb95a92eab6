//! One `receipt-invalid` vector per rule of spec sections 8.3–8.6: an
//! example receipt's JSON view with that one rule broken, encoded to CBOR
//! without validation; the decoder must refuse each.

use cairn_api::examples;
use cairn_api::receipt::{Receipt, VIEW};
use serde_json::{Value, json};

use crate::vectors::Case;

type Mutation = fn(&mut Value);

/// (base example, name, what is broken, the change).
const RULES: &[(u64, &str, &str, Mutation)] = &[
    // 8.3 approval (example 0: PERMIT, approval required and APPROVED).
    (
        0,
        "approval-expires-before-requested",
        "8.3: approval.expires_at before requested_at",
        |j| j["approval"]["expires_at"] = json!("2026-11-21T12:00:00.000Z"),
    ),
    (
        0,
        "approval-approved-without-responded-at",
        "8.3: an APPROVED approval without responded_at",
        |j| {
            j["approval"].as_object_mut().map(|o| o.remove("responded_at"));
        },
    ),
    (
        0,
        "approval-responded-after-expiry",
        "8.3: responded_at after expires_at",
        |j| j["approval"]["responded_at"] = json!("2026-11-21T13:05:00.000Z"),
    ),
    (
        0,
        "approval-responded-before-request",
        "8.3: responded_at before requested_at",
        |j| j["approval"]["responded_at"] = json!("2026-11-21T12:59:00.000Z"),
    ),
    (
        0,
        "approval-timed-out-with-responded-at",
        "8.3: a TIMED_OUT approval with responded_at",
        |j| {
            j["approval"]["outcome"] = json!("TIMED_OUT");
            j["decision"] = json!("DENY");
        },
    ),
    (
        0,
        "approval-approved-without-approver",
        "8.3: an APPROVED approval without approver",
        |j| {
            j["approval"].as_object_mut().map(|o| o.remove("approver"));
        },
    ),
    (
        0,
        "approval-approved-without-presented",
        "8.3: an APPROVED approval without presented",
        |j| {
            j["approval"].as_object_mut().map(|o| o.remove("presented"));
        },
    ),
    (
        0,
        "approval-required-permit-denied",
        "8.3: required, PERMIT, but the outcome DENIED",
        |j| j["approval"]["outcome"] = json!("DENIED"),
    ),
    (0, "approval-bad-outcome", "8.3: outcome MAYBE", |j| {
        j["approval"]["outcome"] = json!("MAYBE")
    }),
    (
        0,
        "approval-short-digest",
        "8.3: presented.shown_digest of 31 bytes",
        |j| j["approval"]["presented"]["shown_digest"] = json!("00".repeat(31)),
    ),
    // 8.4 lineage (example 0).
    (0, "lineage-bad-sub-profile", "8.4: sub_profile robot", |j| {
        j["lineage"][0]["sub_profile"] = json!("robot")
    }),
    (0, "lineage-no-token-hash", "8.4: a link without token_hash", |j| {
        j["lineage"][0].as_object_mut().map(|o| o.remove("token_hash"));
    }),
    (0, "lineage-17-links", "8.4: 17 links (at most 16)", |j| {
        let link = j["lineage"][0].clone();
        j["lineage"] = json!(vec![link; 17]);
    }),
    // 8.5 break-glass (example 9).
    (
        9,
        "break-glass-expired-before-decision",
        "8.5: break_glass.expires_at before decided_at",
        |j| j["break_glass"]["expires_at"] = json!("2026-11-21T13:00:08.999Z"),
    ),
    (
        9,
        "break-glass-bad-operator",
        "8.5: operator is not a key reference",
        |j| j["break_glass"]["operator"] = json!("alice"),
    ),
    (9, "break-glass-short-signature", "8.5: a 63-byte signature", |j| {
        j["break_glass"]["signature"] = json!("00".repeat(63))
    }),
    (
        9,
        "break-glass-empty-justification",
        "8.5, 8.6: an empty justification",
        |j| j["break_glass"]["justification"] = json!(""),
    ),
    // 8.6 text (example 1).
    (
        1,
        "text-control-in-name",
        "8.6: a control character in an action name",
        |j| j["request"]["action"]["name"] = json!("delete\u{7f}pod"),
    ),
    (1, "text-name-257-bytes", "8.6: a resource id of 257 bytes", |j| {
        j["request"]["resource"]["id"] = json!("r".repeat(257))
    }),
    (1, "text-empty-user-message", "8.6: an empty reason.user_message", |j| {
        j["reason"]["user_message"] = json!("")
    }),
    (
        1,
        "text-message-4097-bytes",
        "8.6: an admin_message of 4,097 bytes",
        |j| j["reason"]["admin_message"] = json!("m".repeat(4097)),
    ),
    (
        1,
        "text-control-in-message",
        "8.6: a bell character in a message",
        |j| j["reason"]["admin_message"] = json!("ring\u{7}"),
    ),
    (1, "text-bad-reason-code", "8.6: reason.code with a space", |j| {
        j["reason"]["code"] = json!("denied by rule")
    }),
    (
        1,
        "text-control-in-free-form",
        "8.6: a control character in a context string",
        |j| j["request"]["context"]["note"] = json!("a\u{0}b"),
    ),
];

/// A subject id not in NFC ("e" + U+0301 where NFC has "é"): the JSON
/// view encoder refuses it, so a placeholder of the same length is encoded
/// and its bytes replaced.
fn not_nfc() -> Option<Vec<u8>> {
    let decomposed = "agent:re\u{301}sume\u{301}";
    let placeholder = "x".repeat(decomposed.len());
    let mut j = examples::receipt(1).to_json();
    j["request"]["subject"]["id"] = json!(placeholder);
    let mut bytes = cairn_api::view::encode(&j, &VIEW).ok()?;
    let at = bytes
        .windows(placeholder.len())
        .position(|w| w == placeholder.as_bytes())?;
    bytes.splice(at..at + placeholder.len(), decomposed.bytes());
    Some(bytes)
}

/// The cases.
pub fn cases(out: &mut Vec<Case>) {
    if let Some(bytes) = not_nfc() {
        let expected = match Receipt::from_cbor(&bytes) {
            Ok(_) => json!("ok"),
            Err(e) => json!({ "error": examples::variant_path(&format!("{e:?}")) }),
        };
        out.push((
            "receipt-invalid/text-not-nfc".into(),
            json!({
                "desc": "example receipt 1 with 8.6: a subject id not in NFC (e + combining acute)",
                "payload_cbor": hex::encode(&bytes),
                "expected": expected,
            }),
        ));
    }
    for (base, name, desc, change) in RULES {
        let mut j = examples::receipt(*base).to_json();
        change(&mut j);
        let Ok(bytes) = cairn_api::view::encode(&j, &VIEW) else {
            continue;
        };
        let expected = match Receipt::from_cbor(&bytes) {
            Ok(_) => json!("ok"),
            Err(e) => json!({ "error": examples::variant_path(&format!("{e:?}")) }),
        };
        out.push((
            format!("receipt-invalid/{name}"),
            json!({ "desc": format!("example receipt {base} with {desc}"), "payload_cbor": hex::encode(&bytes), "expected": expected }),
        ));
    }
}
