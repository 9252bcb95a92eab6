//! A logged receipt as an OpenTelemetry log record (opentelemetry-proto
//! `logs/v1`), in a typed model that both OTLP/HTTP encodings are written
//! from: JSON here ([`ExportLogs::to_json`]), protobuf in
//! [`super::otlp_proto`].
//!
//! OTLP/JSON follows the proto3 JSON mapping with OTLP's own deviations:
//! 64-bit integers are decimal strings, enums are numbers, and `traceId` /
//! `spanId` are hex (not base64).
//!
//! Every record carries what takes an analyst from the SIEM to the proof:
//! `cairn.log.index` (also the deduplication key), `cairn.log.leaf_hash`
//! and `cairn.log.checkpoint_size`. The mapping is in `docs/operations.md`.

use cairn_api::receipt::Decision;
use serde_json::{Value, json};

use super::record::{Logged, mode, nanos, outcome};

/// The event name of every record.
pub const EVENT_NAME: &str = "cairn.decision";
/// The instrumentation scope of every record.
pub const SCOPE_NAME: &str = "cairn.ledger";

/// An attribute value (the subset of OTLP's `AnyValue` cairn writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyValue {
    /// `stringValue`.
    String(String),
    /// `intValue` (int64).
    Int(i64),
    /// `boolValue`.
    Bool(bool),
}

/// One attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The attribute's name.
    pub key: &'static str,
    /// Its value.
    pub value: AnyValue,
}

impl KeyValue {
    fn string(key: &'static str, v: impl Into<String>) -> Self {
        KeyValue {
            key,
            value: AnyValue::String(v.into()),
        }
    }

    /// An integer attribute; a `u64` beyond `i64` (no log reaches it) is
    /// written as a decimal string rather than wrapped.
    fn int(key: &'static str, v: u64) -> Self {
        match i64::try_from(v) {
            Ok(i) => KeyValue {
                key,
                value: AnyValue::Int(i),
            },
            Err(_) => KeyValue::string(key, v.to_string()),
        }
    }
}

/// OTLP severity numbers (`SeverityNumber`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// `SEVERITY_NUMBER_INFO` (9): a PERMIT.
    Info = 9,
    /// `SEVERITY_NUMBER_WARN` (13): a DENY.
    Warn = 13,
    /// `SEVERITY_NUMBER_ERROR` (17): a SILENCE (no decision could be
    /// reached; the gate failed closed).
    Error = 17,
}

impl Severity {
    /// The severity of a decision.
    pub fn of(d: Decision) -> Self {
        match d {
            Decision::Permit => Severity::Info,
            Decision::Deny => Severity::Warn,
            Decision::Silence => Severity::Error,
        }
    }

    /// `INFO`, `WARN` or `ERROR`.
    pub fn text(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
        }
    }
}

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// When the gate decided (`decided_at`).
    pub time_unix_nano: u64,
    /// When the ledger integrated the receipt.
    pub observed_time_unix_nano: u64,
    /// The decision's severity.
    pub severity: Severity,
    /// A one-line summary.
    pub body: String,
    /// The attributes (docs/operations.md lists them).
    pub attributes: Vec<KeyValue>,
    /// The receipt's W3C trace id, when it has one.
    pub trace_id: Option<[u8; 16]>,
    /// The receipt's span id, when it has one.
    pub span_id: Option<[u8; 8]>,
}

fn hex_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok().map(|()| out)
}

impl LogRecord {
    /// The record of one logged receipt.
    pub fn of(l: &Logged) -> Self {
        let r = &l.receipt;
        let q = &r.request;
        let mut attributes = vec![
            KeyValue::int("cairn.log.index", l.index),
            KeyValue::string("cairn.log.leaf_hash", l.leaf_hash.to_hex()),
            KeyValue::int("cairn.log.checkpoint_size", l.checkpoint_size),
            KeyValue::string("cairn.receipt.id", &r.receipt_id),
            KeyValue::string("cairn.decision", r.decision.as_str()),
            KeyValue::string("cairn.mode", mode(r.mode)),
            KeyValue::string("cairn.gate", &r.gate),
            KeyValue::string("cairn.reason.code", &r.reason.code),
            KeyValue::string("cairn.reason.message", &r.reason.user_message),
            KeyValue::string("cairn.subject.type", &q.subject.kind),
            KeyValue::string("cairn.subject.id", &q.subject.id),
            KeyValue::string("cairn.action.name", &q.action.name),
            KeyValue::string("cairn.resource.type", &q.resource.kind),
            KeyValue::string("cairn.resource.id", &q.resource.id),
            KeyValue::string("cairn.policy.bundle_hash", r.policy.bundle_hash.to_hex()),
            KeyValue::string("cairn.policy.bundle_id", &r.policy.bundle_id),
            KeyValue::int("cairn.policy.revision", r.policy.revision),
        ];
        if let Some(a) = &r.approval {
            attributes.push(KeyValue::string("cairn.approval.channel", &a.channel));
            if let Some(o) = a.outcome {
                attributes.push(KeyValue::string("cairn.approval.outcome", outcome(o)));
            }
            if let Some(who) = &a.approver {
                attributes.push(KeyValue::string("cairn.approval.approver.iss", &who.iss));
                attributes.push(KeyValue::string("cairn.approval.approver.sub", &who.sub));
            }
        }
        if let Some(first) = r.lineage.first() {
            attributes.push(KeyValue::string("cairn.lineage.sub", &first.sub));
            attributes.push(KeyValue::int("cairn.lineage.depth", r.lineage.len() as u64));
        }
        if let Some(bg) = &r.break_glass {
            attributes.push(KeyValue::string("cairn.break_glass.operator", &bg.operator));
        }
        let (trace_id, span_id) = match &r.trace {
            Some(t) => (hex_array(&t.trace_id), hex_array(&t.span_id)),
            None => (None, None),
        };
        LogRecord {
            time_unix_nano: nanos(r.decided_at),
            observed_time_unix_nano: nanos(l.integrated_at),
            severity: Severity::of(r.decision),
            body: format!(
                "{} {} by {} on {}:{} ({})",
                r.decision, q.action.name, q.subject.id, q.resource.kind, q.resource.id, r.reason.code
            ),
            attributes,
            trace_id,
            span_id,
        }
    }
}

/// The body of one `POST /v1/logs`: one resource (the ledger), one scope,
/// the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportLogs {
    /// The resource's attributes: `service.name` and the log's origin.
    pub resource: Vec<KeyValue>,
    /// The records.
    pub records: Vec<LogRecord>,
}

impl ExportLogs {
    /// The export of `records` from the log `origin`.
    pub fn new(origin: &str, records: &[Logged]) -> Self {
        ExportLogs {
            resource: vec![
                KeyValue::string("service.name", "cairn-ledger"),
                KeyValue::string("cairn.log.origin", origin),
            ],
            records: records.iter().map(LogRecord::of).collect(),
        }
    }

    /// The OTLP/JSON encoding.
    pub fn to_json(&self) -> Value {
        json!({"resourceLogs": [{
            "resource": {"attributes": attributes_json(&self.resource)},
            "scopeLogs": [{
                "scope": {"name": SCOPE_NAME, "version": env!("CARGO_PKG_VERSION")},
                "logRecords": self.records.iter().map(record_json).collect::<Vec<_>>(),
            }],
        }]})
    }
}

fn attributes_json(attrs: &[KeyValue]) -> Vec<Value> {
    attrs
        .iter()
        .map(|a| {
            let value = match &a.value {
                AnyValue::String(s) => json!({"stringValue": s}),
                AnyValue::Int(i) => json!({"intValue": i.to_string()}),
                AnyValue::Bool(b) => json!({"boolValue": b}),
            };
            json!({"key": a.key, "value": value})
        })
        .collect()
}

fn record_json(r: &LogRecord) -> Value {
    let mut v = json!({
        "timeUnixNano": r.time_unix_nano.to_string(),
        "observedTimeUnixNano": r.observed_time_unix_nano.to_string(),
        "severityNumber": r.severity as i32,
        "severityText": r.severity.text(),
        "eventName": EVENT_NAME,
        "body": {"stringValue": r.body},
        "attributes": attributes_json(&r.attributes),
    });
    if let Some(t) = r.trace_id {
        v["traceId"] = json!(hex::encode(t));
    }
    if let Some(s) = r.span_id {
        v["spanId"] = json!(hex::encode(s));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_api::examples;
    use cairn_api::merkle::Hash;
    use cairn_api::timestamp::Timestamp;

    pub(crate) fn logged(example: u64, index: u64) -> Logged {
        Logged {
            index,
            leaf_hash: Hash([7; 32]),
            checkpoint_size: index + 1,
            integrated_at: Timestamp::from_millis(examples::EXAMPLE_NOW_MS + 9).unwrap(),
            receipt: examples::receipt_parts(example),
        }
    }

    #[test]
    fn a_record_leads_to_the_proof() {
        let v = ExportLogs::new("log.example/cairn", &[logged(4, 41)]).to_json();
        let rec = &v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        let attr = |k: &str| {
            rec["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == k)
                .map(|a| a["value"].clone())
                .unwrap()
        };
        assert_eq!(attr("cairn.log.index"), json!({"intValue": "41"}));
        assert_eq!(attr("cairn.log.checkpoint_size"), json!({"intValue": "42"}));
        assert_eq!(attr("cairn.log.leaf_hash")["stringValue"], "07".repeat(32));
        assert_eq!(attr("cairn.approval.outcome")["stringValue"], "APPROVED");
        // Example 4 is a DENY.
        assert_eq!(
            (rec["severityText"].as_str(), rec["severityNumber"].as_u64()),
            (Some("WARN"), Some(13))
        );
        assert_eq!(rec["eventName"], EVENT_NAME);
        let ms = examples::EXAMPLE_NOW_MS + 9;
        assert_eq!(rec["observedTimeUnixNano"], format!("{ms}000000"));
    }

    #[test]
    fn severities_follow_the_decision() {
        assert_eq!(Severity::of(Decision::Permit), Severity::Info);
        assert_eq!(Severity::of(Decision::Deny), Severity::Warn);
        assert_eq!(Severity::of(Decision::Silence), Severity::Error);
    }

    #[test]
    fn an_index_beyond_int64_is_not_wrapped() {
        assert_eq!(
            KeyValue::int("k", u64::MAX).value,
            AnyValue::String(u64::MAX.to_string())
        );
        assert_eq!(KeyValue::int("k", 5).value, AnyValue::Int(5));
    }
}
