//! How a compiled `cairn-rules` condition reads the decision input: JSON
//! pointers resolved against the request (the free-form parts in place),
//! and comparisons where numbers compare by value, fractions included.

use serde_json::Value;

use super::DecisionInput;
use super::rules::{Bound, Cond};
use crate::timestamp::Timestamp;

pub(super) struct Doc<'a> {
    pub(super) input: &'a DecisionInput,
    pub(super) full: std::cell::OnceCell<Value>,
}

/// Follow the JSON-pointer tokens in `rest` (which starts with `/`, or is
/// empty) from a map.
fn walk<'a>(map: &'a serde_json::Map<String, Value>, rest: &str) -> Option<&'a Value> {
    let rest = rest.strip_prefix('/')?;
    let (first, tail) = rest.split_once('/').map_or((rest, ""), |(f, t)| (f, t));
    let key = first.replace("~1", "/").replace("~0", "~");
    let v = map.get(&key)?;
    if tail.is_empty() {
        Some(v)
    } else {
        v.pointer(&format!("/{tail}"))
    }
}

impl<'a> Doc<'a> {
    /// Resolve a pointer. The free-form parts that conditions read most
    /// (`/context`, `properties`, `nd_inputs` entries) are read in place;
    /// anything else from the full document, built once.
    pub(super) fn get(&self, path: &str) -> Option<&Value> {
        let q = &self.input.request;
        let empty = || None;
        for (prefix, map) in [
            ("/context", q.context.as_ref()),
            ("/request/context", q.context.as_ref()),
            ("/request/action/properties", q.action.properties.as_ref()),
            ("/request/subject/properties", q.subject.properties.as_ref()),
            ("/request/resource/properties", q.resource.properties.as_ref()),
        ] {
            if let Some(rest) = path.strip_prefix(prefix)
                && rest.starts_with('/')
            {
                return map.map_or_else(empty, |m| walk(m, rest));
            }
        }
        if let Some(rest) = path.strip_prefix("/nd_inputs")
            && rest.starts_with('/')
            && !rest.starts_with("/clock")
        {
            return walk(&self.input.nd_inputs.other, rest);
        }
        self.full.get_or_init(|| self.input.document()).pointer(path)
    }
}

fn resolve<'a>(doc: &'a Doc<'_>, path: &str) -> Result<&'a Value, String> {
    doc.get(path).ok_or_else(|| format!("{path} is missing"))
}

fn as_time(v: &Value, path: &str) -> Result<Timestamp, String> {
    match v {
        Value::String(s) => Timestamp::parse_rfc3339(s).map_err(|_| format!("{path} is not an RFC 3339 time")),
        _ => Err(format!("{path} is not a time")),
    }
}

/// A number's place among the integers, exactly: `(floor, has a
/// fraction)`. Ordered as tuples, it compares with `(n, false)` for an
/// integer `n` exactly as the number does (2.5 is above 2 and below 3).
/// Beyond ±2^127 the floor saturates, which keeps the order against any
/// integer a rule can hold.
fn order_key(n: &serde_json::Number) -> Option<(i128, bool)> {
    if let Some(i) = n.as_i64() {
        return Some((i128::from(i), false));
    }
    if let Some(u) = n.as_u64() {
        return Some((i128::from(u), false));
    }
    let x = n.as_f64()?;
    Some((x.floor() as i128, x.fract() != 0.0))
}

/// Equality of JSON values where numbers compare by value: a request's
/// `2.0` equals a rule's `2` (fractions are recorded as such, docs/spec.md).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() && y.is_f64() => x.as_f64() == y.as_f64(),
        (Value::Number(x), Value::Number(y)) => order_key(x) == order_key(y) && order_key(x).is_some(),
        _ => a == b,
    }
}

pub(super) fn eval(c: &Cond, doc: &Doc<'_>, input: &DecisionInput) -> Result<bool, String> {
    Ok(match c {
        Cond::Eq(path, want, equal) => same(resolve(doc, path)?, want) == *equal,
        Cond::In(path, values) => {
            let v = resolve(doc, path)?;
            values.iter().any(|w| same(v, w))
        }
        Cond::Glob(path, g) => match resolve(doc, path)? {
            Value::String(s) => g.matches(s),
            _ => return Err(format!("{path} is not a string")),
        },
        Cond::Prefix(path, prefix) => match resolve(doc, path)? {
            Value::String(s) => s.starts_with(prefix.as_str()),
            _ => return Err(format!("{path} is not a string")),
        },
        Cond::Order(path, cmp, Bound::Int(b)) => {
            let n = match resolve(doc, path)? {
                Value::Number(n) => order_key(n),
                _ => None,
            }
            .ok_or_else(|| format!("{path} is not a number"))?;
            cmp.holds(&n, &(*b, false))
        }
        Cond::Order(path, cmp, Bound::Time(b)) => cmp.holds(&as_time(resolve(doc, path)?, path)?, b),
        Cond::Exists(path) => doc.get(path).is_some(),
        Cond::LineageDepth(cmp, n) => cmp.holds(&(input.lineage.len() as u64), n),
        Cond::SubProfile(p) => input.lineage.iter().any(|l| l.sub_profile == *p),
        Cond::ClockBetween(from, to) => (*from..*to).contains(&input.nd_inputs.clock),
        Cond::ClockHours(from, to) => {
            let hour = ((input.nd_inputs.clock.millis() / 3_600_000) % 24) as u8;
            if from <= to {
                (*from..*to).contains(&hour)
            } else {
                hour >= *from || hour < *to
            }
        }
    })
}
