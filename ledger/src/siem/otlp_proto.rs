//! The OTLP/HTTP protobuf encoding of [`ExportLogs`]: the messages of
//! opentelemetry-proto `collector/logs/v1` (`ExportLogsServiceRequest`),
//! `logs/v1`, `resource/v1` and `common/v1`, written field by field in the
//! protobuf wire format (fields in number order, as protoc does).
//!
//! The field numbers are opentelemetry-proto's; a test in
//! `interop/foreign` parses this encoding with the official Python
//! definitions and compares it with the JSON encoding.

use super::otlp::{AnyValue, EVENT_NAME, ExportLogs, KeyValue, LogRecord, SCOPE_NAME};

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

/// A protobuf message being written.
#[derive(Debug, Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn tag(&mut self, field: u32, wire: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire));
    }

    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.tag(field, LEN);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    fn string(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }

    fn message(&mut self, field: u32, m: Msg) {
        self.bytes(field, &m.0);
    }

    fn fixed64(&mut self, field: u32, v: u64) {
        self.tag(field, FIXED64);
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    /// An `int64` or an enum: negative values take ten bytes, as protobuf
    /// writes them.
    fn int64(&mut self, field: u32, v: i64) {
        self.tag(field, VARINT);
        self.varint(v as u64);
    }
}

fn any_value(v: &AnyValue) -> Msg {
    let mut m = Msg::default();
    match v {
        AnyValue::String(s) => m.string(1, s),
        AnyValue::Bool(b) => {
            m.tag(2, VARINT);
            m.varint(u64::from(*b));
        }
        AnyValue::Int(i) => m.int64(3, *i),
    }
    m
}

fn key_value(kv: &KeyValue) -> Msg {
    let mut m = Msg::default();
    m.string(1, kv.key);
    m.message(2, any_value(&kv.value));
    m
}

fn log_record(r: &LogRecord) -> Msg {
    let mut m = Msg::default();
    m.fixed64(1, r.time_unix_nano);
    m.int64(2, r.severity as i64);
    m.string(3, r.severity.text());
    m.message(5, any_value(&AnyValue::String(r.body.clone())));
    for a in &r.attributes {
        m.message(6, key_value(a));
    }
    if let Some(t) = r.trace_id {
        m.bytes(9, &t);
    }
    if let Some(s) = r.span_id {
        m.bytes(10, &s);
    }
    m.fixed64(11, r.observed_time_unix_nano);
    m.string(12, EVENT_NAME);
    m
}

/// The protobuf encoding of `e` (`ExportLogsServiceRequest`).
pub fn encode(e: &ExportLogs) -> Vec<u8> {
    let mut resource = Msg::default();
    for a in &e.resource {
        resource.message(1, key_value(a));
    }
    let mut scope = Msg::default();
    scope.string(1, SCOPE_NAME);
    scope.string(2, env!("CARGO_PKG_VERSION"));
    let mut scope_logs = Msg::default();
    scope_logs.message(1, scope);
    for r in &e.records {
        scope_logs.message(2, log_record(r));
    }
    let mut resource_logs = Msg::default();
    resource_logs.message(1, resource);
    resource_logs.message(2, scope_logs);
    let mut req = Msg::default();
    req.message(1, resource_logs);
    req.0
}

/// A varint at the start of `b`, and the rest.
fn read_varint(b: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, &b[i + 1..]));
        }
    }
    None
}

/// A field's value, as far as reading an answer needs.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of a message, (number, value); `None` when it is not a
/// well-formed message.
fn fields(mut b: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (tag, rest) = read_varint(b)?;
        let (field, wire) = (tag >> 3, tag & 7);
        b = match wire {
            0 => {
                let (v, rest) = read_varint(rest)?;
                out.push((field, Field::Varint(v)));
                rest
            }
            1 | 5 => {
                out.push((field, Field::Fixed));
                rest.get(if wire == 1 { 8 } else { 4 }..)?
            }
            2 => {
                let (len, rest) = read_varint(rest)?;
                let len = usize::try_from(len).ok()?;
                let body = rest.get(..len)?;
                out.push((field, Field::Bytes(body)));
                rest.get(len..)?
            }
            _ => return None,
        };
    }
    Some(out)
}

/// `partial_success.rejected_log_records` of a protobuf
/// `ExportLogsServiceResponse` (0 when absent or unreadable).
pub fn rejected(answer: &[u8]) -> u64 {
    let partial = fields(answer).and_then(|f| {
        f.into_iter().find_map(|(n, v)| match (n, v) {
            (1, Field::Bytes(body)) => Some(body),
            _ => None,
        })
    });
    partial
        .and_then(fields)
        .and_then(|f| {
            f.into_iter().find_map(|(n, v)| match (n, v) {
                (1, Field::Varint(count)) => Some(count),
                _ => None,
            })
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_fields_are_protobuf_s() {
        let mut m = Msg::default();
        m.varint(300);
        assert_eq!(m.0, [0xac, 0x02]);
        let mut m = Msg::default();
        m.int64(3, -1);
        assert_eq!(m.0.len(), 1 + 10, "a negative int64 takes ten bytes");
        let mut m = Msg::default();
        m.string(1, "hi");
        assert_eq!(m.0, [0x0a, 0x02, b'h', b'i']);
        let mut m = Msg::default();
        m.fixed64(1, 1);
        assert_eq!(m.0, [0x09, 1, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn a_partial_success_is_read_from_a_protobuf_answer() {
        // ExportLogsServiceResponse{partial_success: {rejected_log_records: 3, error_message: "x"}}
        assert_eq!(rejected(&[0x0a, 0x05, 0x08, 0x03, 0x12, 0x01, b'x']), 3);
        assert_eq!(rejected(&[]), 0);
        assert_eq!(rejected(&[0x0a, 0x00]), 0);
        assert_eq!(rejected(&[0x0a, 0x09]), 0, "a length past the end");
        assert_eq!(rejected(&[0xff; 12]), 0);
    }

    #[test]
    fn a_key_value_nests_its_any_value() {
        let kv = KeyValue {
            key: "a",
            value: AnyValue::Int(5),
        };
        // KeyValue{1: "a", 2: AnyValue{3: 5}}
        assert_eq!(key_value(&kv).0, [0x0a, 0x01, b'a', 0x12, 0x02, 0x18, 0x05]);
    }
}
