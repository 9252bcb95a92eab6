//! The documented mapping between cairn's CBOR structures and their JSON
//! views.
//!
//! A structure and its JSON view have the same shape: maps with text keys
//! become objects, arrays arrays, text strings strings, integers numbers,
//! booleans and null themselves. Only a fixed list of *typed paths*,
//! declared per format in a [`ViewSchema`], differ:
//! - **time** paths: CBOR unsigned integer milliseconds since the epoch ↔
//!   JSON RFC 3339 string (see [`crate::timestamp`]);
//! - **bytes** paths: CBOR byte string ↔ JSON lowercase hex string.
//!
//! Anywhere else a byte string, a tag, a float or a negative integer below
//! -2^63 has no JSON view and is refused. Paths are dotted keys with `[]`
//! for "every element of an array" (`lineage[].token_hash`).

use serde_json::Value as Json;

use crate::cbor::{CBOR, CBORCase, Map};
use crate::timestamp::Timestamp;

/// Which paths of a format are times and which are bytes.
#[derive(Debug, Clone, Copy)]
pub struct ViewSchema {
    /// Paths holding timestamps.
    pub times: &'static [&'static str],
    /// Paths holding byte strings.
    pub bytes: &'static [&'static str],
}

/// A value has no view in the other form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// A value that cannot be mapped, at a path.
    #[error("{path}: {problem}")]
    Unmappable {
        /// Where.
        path: String,
        /// Why.
        problem: &'static str,
    },
}

fn err(path: &str, problem: &'static str) -> ViewError {
    ViewError::Unmappable {
        path: if path.is_empty() {
            "(root)".into()
        } else {
            path.to_owned()
        },
        problem,
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// CBOR → JSON view.
pub fn to_json(v: &CBOR, schema: &ViewSchema) -> Result<Json, ViewError> {
    cbor_to_json(v, "", schema)
}

/// JSON view → CBOR.
pub fn from_json(v: &Json, schema: &ViewSchema) -> Result<CBOR, ViewError> {
    json_to_cbor(v, "", schema)
}

fn cbor_to_json(v: &CBOR, path: &str, s: &ViewSchema) -> Result<Json, ViewError> {
    if s.times.contains(&path) {
        let CBORCase::Unsigned(ms) = v.as_case() else {
            return Err(err(path, "a time must be an unsigned integer of milliseconds"));
        };
        let t = Timestamp::from_millis(*ms).map_err(|_| err(path, "time out of range"))?;
        return Ok(Json::String(t.to_rfc3339()));
    }
    if s.bytes.contains(&path) {
        let CBORCase::ByteString(b) = v.as_case() else {
            return Err(err(path, "expected a byte string"));
        };
        return Ok(Json::String(hex::encode(b.data())));
    }
    Ok(match v.as_case() {
        CBORCase::Unsigned(n) => Json::from(*n),
        CBORCase::Negative(n) => {
            let n = i64::try_from(*n).map_err(|_| err(path, "integer below -2^63"))?;
            Json::from(-1 - n)
        }
        CBORCase::Text(t) => Json::String(t.clone()),
        CBORCase::Array(items) => {
            let p = format!("{path}[]");
            Json::Array(items.iter().map(|i| cbor_to_json(i, &p, s)).collect::<Result<_, _>>()?)
        }
        CBORCase::Map(m) => {
            let mut out = serde_json::Map::new();
            for (k, val) in m.iter() {
                let CBORCase::Text(k) = k.as_case() else {
                    return Err(err(path, "map keys must be text"));
                };
                out.insert(k.clone(), cbor_to_json(val, &child(path, k), s)?);
            }
            Json::Object(out)
        }
        CBORCase::Simple(dcbor::Simple::True) => Json::Bool(true),
        CBORCase::Simple(dcbor::Simple::False) => Json::Bool(false),
        CBORCase::Simple(dcbor::Simple::Null) => Json::Null,
        CBORCase::Simple(_) => return Err(err(path, "floats are not used in cairn formats")),
        CBORCase::ByteString(_) => return Err(err(path, "byte strings appear only at typed paths")),
        CBORCase::Tagged(_, _) => return Err(err(path, "tags are not used in cairn formats")),
    })
}

fn json_to_cbor(v: &Json, path: &str, s: &ViewSchema) -> Result<CBOR, ViewError> {
    if s.times.contains(&path) {
        let Json::String(t) = v else {
            return Err(err(path, "a time must be an RFC 3339 string"));
        };
        let t = Timestamp::parse_rfc3339(t)
            .map_err(|_| err(path, "not an RFC 3339 time in range, at most ms precision"))?;
        return Ok(CBOR::from(t.millis()));
    }
    if s.bytes.contains(&path) {
        let Json::String(h) = v else {
            return Err(err(path, "expected a lowercase hex string"));
        };
        if h.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(err(path, "expected a lowercase hex string"));
        }
        let b = hex::decode(h).map_err(|_| err(path, "expected a lowercase hex string"))?;
        return Ok(CBOR::to_byte_string(b));
    }
    Ok(match v {
        Json::Null => CBOR::null(),
        Json::Bool(b) => CBOR::from(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                CBOR::from(u)
            } else if let Some(i) = n.as_i64() {
                CBOR::from(i)
            } else {
                return Err(err(path, "numbers must be integers (no floats)"));
            }
        }
        Json::String(t) => CBOR::from(t.as_str()),
        Json::Array(items) => {
            let p = format!("{path}[]");
            CBOR::from(
                items
                    .iter()
                    .map(|i| json_to_cbor(i, &p, s))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        }
        Json::Object(o) => {
            let mut m = Map::new();
            for (k, val) in o {
                m.insert(k.as_str(), json_to_cbor(val, &child(path, k), s)?);
            }
            CBOR::from(m)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: ViewSchema = ViewSchema {
        times: &["at", "list[].t"],
        bytes: &["h"],
    };

    #[test]
    fn typed_paths_map_and_round_trip() {
        let j = serde_json::json!({
            "at": "2026-11-21T13:01:00.000Z",
            "h": "00ff",
            "list": [{"t": "1970-01-01T00:00:00.001Z", "n": -3}],
            "free": {"at": "not a time here", "x": null, "b": true}
        });
        let c = from_json(&j, &S).unwrap();
        let back = to_json(&c, &S).unwrap();
        assert_eq!(back, j);
        let again = from_json(&back, &S).unwrap();
        assert_eq!(crate::cbor::encode(&again), crate::cbor::encode(&c));
    }

    #[test]
    fn unmappable_values_are_refused_with_their_path() {
        let e = |j: serde_json::Value| from_json(&j, &S).unwrap_err();
        assert!(matches!(e(serde_json::json!({"x": 1.5})), ViewError::Unmappable { path, .. } if path == "x"));
        assert!(matches!(e(serde_json::json!({"h": "ZZ"})), ViewError::Unmappable { path, .. } if path == "h"));
        assert!(matches!(
            e(serde_json::json!({"h": "AB"})),
            ViewError::Unmappable { .. }
        ));
        assert!(matches!(e(serde_json::json!({"at": 5})), ViewError::Unmappable { .. }));
        let bytes_elsewhere = CBOR::from(vec![CBOR::to_byte_string([1])]);
        assert!(matches!(to_json(&bytes_elsewhere, &S), Err(ViewError::Unmappable { path, .. }) if path == "[]"));
    }
}
