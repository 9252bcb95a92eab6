//! Every rule a receipt must satisfy, field by field and between fields.

use serde_json::Value;
use unicode_normalization::is_nfc;

use super::types::*;
use super::{RECEIPT_VERSION, ReceiptError};

/// Longest identifier, name, key or rule id, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest message, justification or free-form string, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// Most determining rules.
pub const MAX_DETERMINING_RULES: usize = 256;
/// Most evaluation errors.
pub const MAX_ERRORS: usize = 64;
/// Most lineage links (delegation depth).
pub const MAX_LINEAGE_LINKS: usize = 16;
/// Deepest nesting inside a free-form object (`properties`, `context`,
/// extra `nd_inputs`), counting the object itself as 1.
pub const MAX_FREEFORM_DEPTH: usize = 8;
/// Most values (object entries and array items) in all free-form objects of
/// one receipt together.
pub const MAX_FREEFORM_ENTRIES: usize = 1024;
/// Longest idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;

fn invalid(path: &str, rule: impl Into<String>) -> ReceiptError {
    ReceiptError::Invalid {
        path: path.to_owned(),
        rule: rule.into(),
    }
}

/// A non-empty identifier: NFC, bounded, no control characters.
fn name(path: &str, s: &str) -> Result<(), ReceiptError> {
    if s.is_empty() || s.len() > MAX_NAME_BYTES {
        return Err(invalid(path, format!("must be 1 to {MAX_NAME_BYTES} bytes")));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid(path, "must not contain control characters"));
    }
    nfc(path, s)
}

/// An AuthZEN identifier or a free-form key: like [`name`], but empty is
/// allowed, as AuthZEN allows it.
fn authzen_name(path: &str, s: &str) -> Result<(), ReceiptError> {
    if s.is_empty() { Ok(()) } else { name(path, s) }
}

/// A message: NFC, bounded, no control characters but newline and tab.
fn message(path: &str, s: &str, allow_empty: bool) -> Result<(), ReceiptError> {
    if (!allow_empty && s.is_empty()) || s.len() > MAX_MESSAGE_BYTES {
        return Err(invalid(
            path,
            format!(
                "must be {}to {MAX_MESSAGE_BYTES} bytes",
                if allow_empty { "" } else { "1 " }
            ),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(
            path,
            "must not contain control characters other than newline and tab",
        ));
    }
    nfc(path, s)
}

fn nfc(path: &str, s: &str) -> Result<(), ReceiptError> {
    if is_nfc(s) {
        Ok(())
    } else {
        Err(invalid(path, "text must be in Unicode NFC"))
    }
}

fn lower_hex(path: &str, s: &str, len: usize) -> Result<(), ReceiptError> {
    if s.len() != len
        || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        || s.bytes().all(|b| b == b'0')
    {
        return Err(invalid(
            path,
            format!("must be {len} lowercase hex digits, not all zero"),
        ));
    }
    Ok(())
}

/// `name+hexid`, a key reference.
pub(crate) fn key_ref(path: &str, s: &str) -> Result<(), ReceiptError> {
    let ok = s.rsplit_once('+').is_some_and(|(n, id)| {
        crate::keys::check_key_name(n).is_ok()
            && id.len() == 8
            && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(path, "must be a key reference name+hexid"))
    }
}

struct Budget(usize);

fn freeform(path: &str, obj: &Object, budget: &mut Budget) -> Result<(), ReceiptError> {
    fn walk(path: &str, v: &Value, depth: usize, budget: &mut Budget) -> Result<(), ReceiptError> {
        match v {
            Value::Null | Value::Bool(_) => Ok(()),
            // A fraction is recorded as a decimal fraction (crate::decimal).
            Value::Number(_) => Ok(()),
            Value::String(s) => message(path, s, true),
            Value::Array(items) => {
                enter(path, depth, items.len(), budget)?;
                items.iter().try_for_each(|i| walk(path, i, depth + 1, budget))
            }
            Value::Object(o) => {
                enter(path, depth, o.len(), budget)?;
                for (k, v) in o {
                    authzen_name(&format!("{path}.{k}"), k)?;
                    walk(&format!("{path}.{k}"), v, depth + 1, budget)?;
                }
                Ok(())
            }
        }
    }
    fn enter(path: &str, depth: usize, n: usize, budget: &mut Budget) -> Result<(), ReceiptError> {
        if depth > MAX_FREEFORM_DEPTH {
            return Err(invalid(path, format!("nested deeper than {MAX_FREEFORM_DEPTH}")));
        }
        budget.0 = budget.0.checked_sub(n).ok_or_else(|| {
            invalid(
                path,
                format!("free-form values exceed {MAX_FREEFORM_ENTRIES} entries per receipt"),
            )
        })?;
        Ok(())
    }
    // The object itself is at depth 1.
    enter(path, 1, obj.len(), budget)?;
    for (k, v) in obj {
        let p = format!("{path}.{k}");
        authzen_name(&p, k)?;
        walk(&p, v, 2, budget)?;
    }
    Ok(())
}

fn optional_freeform(path: &str, o: &Option<Object>, budget: &mut Budget) -> Result<(), ReceiptError> {
    o.as_ref().map_or(Ok(()), |o| freeform(path, o, budget))
}

fn uuid_v7(path: &str, s: &str) -> Result<(), ReceiptError> {
    let ok = uuid::Uuid::try_parse(s).is_ok_and(|u| {
        u.get_version_num() == 7
            && u.get_variant() == uuid::Variant::RFC4122
            && u.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()) == s
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(path, "must be a UUIDv7, lowercase and hyphenated"))
    }
}

/// Check a whole receipt.
pub(super) fn receipt(r: &ReceiptParts) -> Result<(), ReceiptError> {
    if r.v != RECEIPT_VERSION {
        return Err(invalid("v", format!("must be {RECEIPT_VERSION}")));
    }
    uuid_v7("receipt_id", &r.receipt_id)?;
    crate::keys::check_key_name(&r.gate).map_err(|_| invalid("gate", "must be a key name (no spaces or '+')"))?;
    nfc("gate", &r.gate)?;

    let mut budget = Budget(MAX_FREEFORM_ENTRIES);
    request(&r.request, &mut budget)?;

    if r.reason.code.is_empty()
        || r.reason.code.len() > MAX_NAME_BYTES
        || !r
            .reason
            .code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
    {
        return Err(invalid("reason.code", "must be 1 to 256 of [A-Za-z0-9_.:-]"));
    }
    message("reason.user_message", &r.reason.user_message, false)?;
    message("reason.admin_message", &r.reason.admin_message, false)?;

    if r.determining_rules.len() > MAX_DETERMINING_RULES {
        return Err(invalid("determining_rules", format!("at most {MAX_DETERMINING_RULES}")));
    }
    for rule in &r.determining_rules {
        name("determining_rules[]", rule)?;
    }
    if r.errors.len() > MAX_ERRORS {
        return Err(invalid("errors", format!("at most {MAX_ERRORS}")));
    }
    for e in &r.errors {
        message("errors[]", e, false)?;
    }

    name("policy.bundle_id", &r.policy.bundle_id)?;
    name("policy.engine.name", &r.policy.engine.name)?;
    name("policy.engine.version", &r.policy.engine.version)?;

    let key = &r.idempotency_key;
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES || !key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(invalid(
            "idempotency_key",
            "must be 1 to 128 printable ASCII characters without spaces",
        ));
    }

    if r.nd_inputs.other.contains_key("clock") {
        return Err(invalid("nd_inputs.clock", "appears twice"));
    }
    freeform("nd_inputs", &r.nd_inputs.other, &mut budget)?;

    if let Some(i) = &r.initiator {
        name("initiator.principal", &i.principal)?;
    }
    if let Some(a) = &r.approval {
        approval(a, r.decision)?;
    }
    lineage(&r.lineage)?;
    if let Some(bg) = &r.break_glass {
        key_ref("break_glass.operator", &bg.operator)?;
        message("break_glass.justification", &bg.justification, false)?;
        if bg.expires_at < r.decided_at {
            return Err(invalid(
                "break_glass.expires_at",
                "the override had expired when the decision was made",
            ));
        }
    }
    if let Some(t) = &r.trace {
        lower_hex("trace.trace_id", &t.trace_id, 32)?;
        lower_hex("trace.span_id", &t.span_id, 16)?;
    }
    Ok(())
}

/// Whether a receipt can record `q` as its request: the check `policy
/// eval`, `decide` and the served gate all make before deciding, so that
/// they accept and refuse the same requests.
pub fn check_request(q: &Request) -> Result<(), ReceiptError> {
    request(q, &mut Budget(MAX_FREEFORM_ENTRIES))
}

fn request(q: &Request, budget: &mut Budget) -> Result<(), ReceiptError> {
    authzen_name("request.subject.type", &q.subject.kind)?;
    authzen_name("request.subject.id", &q.subject.id)?;
    optional_freeform("request.subject.properties", &q.subject.properties, budget)?;
    authzen_name("request.action.name", &q.action.name)?;
    optional_freeform("request.action.properties", &q.action.properties, budget)?;
    authzen_name("request.resource.type", &q.resource.kind)?;
    authzen_name("request.resource.id", &q.resource.id)?;
    optional_freeform("request.resource.properties", &q.resource.properties, budget)?;
    optional_freeform("request.context", &q.context, budget)
}

fn approval(a: &Approval, decision: Decision) -> Result<(), ReceiptError> {
    name("approval.channel", &a.channel)?;
    name("approval.request_id", &a.request_id)?;
    if let Some(who) = &a.approver {
        name("approval.approver.iss", &who.iss)?;
        name("approval.approver.sub", &who.sub)?;
    }
    if let Some(p) = &a.presented {
        message("approval.presented.binding_message", &p.binding_message, false)?;
    }
    if a.expires_at < a.requested_at {
        return Err(invalid("approval.expires_at", "must not be before requested_at"));
    }
    match (a.outcome, a.responded_at) {
        (Some(ApprovalOutcome::TimedOut), Some(_)) => {
            return Err(invalid(
                "approval.responded_at",
                "a TIMED_OUT approval has no response time",
            ));
        }
        (Some(ApprovalOutcome::Approved | ApprovalOutcome::Denied), None) => {
            return Err(invalid("approval.responded_at", "required when the approver answered"));
        }
        (None, Some(_)) => return Err(invalid("approval.outcome", "required when responded_at is present")),
        _ => {}
    }
    if let Some(at) = a.responded_at
        && (at < a.requested_at || at > a.expires_at)
    {
        return Err(invalid(
            "approval.responded_at",
            "must lie between requested_at and expires_at",
        ));
    }
    if a.outcome == Some(ApprovalOutcome::Approved) && (a.approver.is_none() || a.presented.is_none()) {
        return Err(invalid(
            "approval",
            "an APPROVED approval names its approver and what was presented",
        ));
    }
    if a.required && decision == Decision::Permit && a.outcome != Some(ApprovalOutcome::Approved) {
        return Err(invalid(
            "decision",
            "PERMIT with required approval needs an APPROVED outcome",
        ));
    }
    Ok(())
}

fn lineage(links: &[LineageLink]) -> Result<(), ReceiptError> {
    if links.len() > MAX_LINEAGE_LINKS {
        return Err(invalid("lineage", format!("at most {MAX_LINEAGE_LINKS} links")));
    }
    for l in links {
        name("lineage[].iss", &l.iss)?;
        name("lineage[].sub", &l.sub)?;
        for (p, v) in [
            ("lineage[].client_id", &l.client_id),
            ("lineage[].jti", &l.jti),
            ("lineage[].aud", &l.aud),
        ] {
            if let Some(v) = v {
                name(p, v)?;
            }
        }
        if let Some(scope) = &l.scope {
            message("lineage[].scope", scope, false)?;
        }
        if let (Some(iat), Some(exp)) = (l.iat, l.exp)
            && exp < iat
        {
            return Err(invalid("lineage[].exp", "must not be before iat"));
        }
    }
    Ok(())
}
