//! The documented mapping between cairn's CBOR structures and their JSON
//! views, with a strict codec straight between bytes and JSON values.
//!
//! A structure and its JSON view have the same shape: maps with text keys
//! become objects, arrays arrays, text strings strings, integers numbers,
//! booleans and null themselves. Only a fixed list of *typed paths*,
//! declared per format in a [`ViewSchema`], differ:
//! - **time** paths: CBOR unsigned integer milliseconds since the epoch ↔
//!   JSON RFC 3339 string (see [`crate::timestamp`]);
//! - **bytes** paths: CBOR byte string ↔ JSON lowercase hex string.
//!
//! A JSON number with a fraction or an exponent is a CBOR decimal fraction
//! (tag 4) holding its shortest decimal ([`crate::decimal`]). Anywhere else
//! a byte string, another tag, a float or a negative integer below -2^63
//! has no JSON view and is refused. Paths are dotted keys with `[]`
//! for "every element of an array" (`lineage[].token_hash`).
//!
//! [`decode`] enforces the same deterministic-encoding rules as
//! [`crate::cbor::decode`] (shortest form, definite lengths, sorted unique
//! keys, NFC text, no trailing bytes, bounded depth and size) and reports
//! violations with the same [`CborError`] variants; [`encode`] writes the
//! one deterministic encoding. They exist because building `dcbor` values
//! costs several times more than the receipt's signature check; a
//! differential test holds them to `dcbor`'s verdicts.

use serde_json::Value as Json;
use unicode_normalization::is_nfc;

use crate::cbor::{CborError, MAX_DEPTH, write_header as header};
use crate::decimal;
use crate::timestamp::Timestamp;

/// Which paths of a format are times and which are bytes.
#[derive(Debug, Clone, Copy)]
pub struct ViewSchema {
    /// Paths holding timestamps.
    pub times: &'static [&'static str],
    /// Paths holding byte strings.
    pub bytes: &'static [&'static str],
}

/// A value has no view in the other form, or the bytes are not
/// deterministic CBOR. Always the fault of whoever produced the input.
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
    /// The bytes are not one well-formed deterministic CBOR item.
    #[error("{0}")]
    Encoding(#[from] CborError),
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

/// Descend into `key` of the map at `path` (one buffer for the whole walk,
/// no string built per key); returns the length to truncate back to.
fn push_key(path: &mut String, key: &str) -> usize {
    let mark = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
    mark
}

/// Descend into the items of the array at `path`.
fn push_items(path: &mut String) -> usize {
    let mark = path.len();
    path.push_str("[]");
    mark
}

// ---------------------------------------------------------------------------
// Encoding

fn text(out: &mut Vec<u8>, s: &str, path: &str) -> Result<(), ViewError> {
    if !is_nfc(s) {
        return Err(err(path, "text must be in Unicode NFC"));
    }
    header(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn int(out: &mut Vec<u8>, i: i64) {
    match u64::try_from(i) {
        Ok(u) => header(out, 0, u),
        // CBOR stores -1 - i for a negative i.
        Err(_) => header(out, 1, (-1 - i) as u64),
    }
}

/// JSON view → deterministic CBOR bytes.
pub fn encode(v: &Json, schema: &ViewSchema) -> Result<Vec<u8>, ViewError> {
    let mut out = Vec::with_capacity(1024);
    enc(v, &mut String::new(), schema, &mut out, 0)?;
    Ok(out)
}

fn enc(v: &Json, path: &mut String, s: &ViewSchema, out: &mut Vec<u8>, depth: usize) -> Result<(), ViewError> {
    if s.times.contains(&path.as_str()) {
        let Json::String(t) = v else {
            return Err(err(path, "a time must be an RFC 3339 string"));
        };
        let t = Timestamp::parse_rfc3339(t)
            .map_err(|_| err(path, "not an RFC 3339 time in range, at most ms precision"))?;
        header(out, 0, t.millis());
        return Ok(());
    }
    if s.bytes.contains(&path.as_str()) {
        let Json::String(h) = v else {
            return Err(err(path, "expected a lowercase hex string"));
        };
        if h.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(err(path, "expected a lowercase hex string"));
        }
        let b = hex::decode(h).map_err(|_| err(path, "expected a lowercase hex string"))?;
        header(out, 2, b.len() as u64);
        out.extend_from_slice(&b);
        return Ok(());
    }
    match v {
        Json::Null => out.push(0xf6),
        Json::Bool(false) => out.push(0xf4),
        Json::Bool(true) => out.push(0xf5),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                header(out, 0, u);
            } else if let Some(i) = n.as_i64() {
                int(out, i);
            } else {
                let (exponent, mantissa) = n
                    .as_f64()
                    .and_then(decimal::shortest)
                    .ok_or_else(|| err(path, "a number must be finite"))?;
                header(out, 6, decimal::DECIMAL_FRACTION_TAG);
                header(out, 4, 2);
                int(out, exponent);
                int(out, mantissa);
            }
        }
        Json::String(t) => text(out, t, path)?,
        Json::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(ViewError::Encoding(CborError::TooDeep { limit: MAX_DEPTH }));
            }
            header(out, 4, items.len() as u64);
            let mark = push_items(path);
            for i in items {
                enc(i, path, s, out, depth + 1)?;
            }
            path.truncate(mark);
        }
        Json::Object(o) => {
            if depth >= MAX_DEPTH {
                return Err(ViewError::Encoding(CborError::TooDeep { limit: MAX_DEPTH }));
            }
            header(out, 5, o.len() as u64);
            // Deterministic order of text keys: by encoded length, then bytes.
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.as_bytes().cmp(b.as_bytes())));
            for k in keys {
                let mark = push_key(path, k);
                text(out, k, path)?;
                if let Some(val) = o.get(k) {
                    enc(val, path, s, out, depth + 1)?;
                }
                path.truncate(mark);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Decoding

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        let end = self.pos.checked_add(n).ok_or(CborError::Truncated)?;
        let s = self.bytes.get(self.pos..end).ok_or(CborError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// A header: (major type, additional information, argument), under
    /// the shared rules of [`crate::cbor::header`].
    fn header(&mut self) -> Result<(u8, u8, u64), CborError> {
        crate::cbor::header(self.bytes, &mut self.pos)
    }

    fn len(&self, arg: u64) -> Result<usize, CborError> {
        usize::try_from(arg)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.pos)
            .ok_or(CborError::Truncated)
    }
}

/// Deterministic CBOR bytes of at most `limit` → JSON view.
pub fn decode(bytes: &[u8], schema: &ViewSchema, limit: usize) -> Result<Json, ViewError> {
    if bytes.len() > limit {
        return Err(CborError::TooLarge {
            len: bytes.len(),
            limit,
        }
        .into());
    }
    let mut r = Reader { bytes, pos: 0 };
    let v = dec(&mut r, &mut String::new(), schema, 0)?;
    if r.pos < bytes.len() {
        return Err(CborError::TrailingBytes(bytes.len() - r.pos).into());
    }
    Ok(v)
}

fn dec_text(r: &mut Reader<'_>, arg: u64) -> Result<String, CborError> {
    let n = r.len(arg)?;
    let s = std::str::from_utf8(r.take(n)?).map_err(|_| CborError::Malformed("text is not UTF-8"))?;
    if !is_nfc(s) {
        return Err(CborError::NonCanonical("text not in Unicode NFC"));
    }
    Ok(s.to_owned())
}

fn dec(r: &mut Reader<'_>, path: &mut String, s: &ViewSchema, depth: usize) -> Result<Json, ViewError> {
    let (major, info, arg) = r.header()?;
    if s.times.contains(&path.as_str()) {
        if major != 0 {
            return Err(err(path, "a time must be an unsigned integer of milliseconds"));
        }
        let t = Timestamp::from_millis(arg).map_err(|_| err(path, "time out of range"))?;
        return Ok(Json::String(t.to_rfc3339()));
    }
    if s.bytes.contains(&path.as_str()) {
        if major != 2 {
            return Err(err(path, "expected a byte string"));
        }
        let n = r.len(arg)?;
        return Ok(Json::String(hex::encode(r.take(n)?)));
    }
    Ok(match major {
        0 => Json::from(arg),
        1 => {
            let n = i64::try_from(arg).map_err(|_| err(path, "integer below -2^63"))?;
            Json::from(-1 - n)
        }
        2 => {
            // Consume it first so that an encoding error wins over this one,
            // as it does with a full decoder.
            let n = r.len(arg)?;
            r.take(n)?;
            return Err(err(path, "byte strings appear only at typed paths"));
        }
        3 => Json::String(dec_text(r, arg)?),
        // A tag nests like a container, and a decimal fraction's array one
        // level further (as crate::cbor counts depth).
        4..=6 if depth >= MAX_DEPTH => return Err(CborError::TooDeep { limit: MAX_DEPTH }.into()),
        6 if arg == decimal::DECIMAL_FRACTION_TAG && depth + 1 >= MAX_DEPTH => {
            return Err(CborError::TooDeep { limit: MAX_DEPTH }.into());
        }
        4 => {
            // Every item takes at least one byte.
            let n = r.len(arg)?;
            let mark = push_items(path);
            let mut items = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                items.push(dec(r, path, s, depth + 1)?);
            }
            path.truncate(mark);
            Json::Array(items)
        }
        5 => {
            let n = r.len(arg.checked_mul(2).ok_or(CborError::Truncated)?)? / 2;
            let mut out = serde_json::Map::new();
            let mut prev: Option<&[u8]> = None;
            for _ in 0..n {
                let key_start = r.pos;
                let (km, _, karg) = r.header()?;
                if km != 3 {
                    return Err(err(path, "map keys must be text"));
                }
                let key = dec_text(r, karg)?;
                let encoded = &r.bytes[key_start..r.pos];
                match prev.map(|p| p.cmp(encoded)) {
                    Some(std::cmp::Ordering::Equal) => return Err(CborError::NonCanonical("duplicate map key").into()),
                    Some(std::cmp::Ordering::Greater) => {
                        return Err(CborError::NonCanonical("map keys out of order").into());
                    }
                    _ => {}
                }
                prev = Some(encoded);
                let mark = push_key(path, &key);
                let val = dec(r, path, s, depth + 1)?;
                path.truncate(mark);
                out.insert(key, val);
            }
            Json::Object(out)
        }
        6 => dec_decimal(r, path, arg)?,
        _ => match (info, arg) {
            (20, _) => Json::Bool(false),
            (21, _) => Json::Bool(true),
            (22, _) => Json::Null,
            _ => return Err(CborError::Malformed("simple value other than false, true, null").into()),
        },
    })
}

/// The content of a tag: only a canonical decimal fraction has a view.
/// Its faults are the value's (unmappable), not the encoding's: dcbor reads
/// any tag.
fn dec_decimal(r: &mut Reader<'_>, path: &str, tag: u64) -> Result<Json, ViewError> {
    if tag != decimal::DECIMAL_FRACTION_TAG {
        return Err(err(path, "the only tag in cairn formats is 4 (a decimal fraction)"));
    }
    let shape = || err(path, "a decimal fraction is [exponent, mantissa], two integers");
    let (major, _, arg) = r.header()?;
    if major != 4 || arg != 2 {
        return Err(shape());
    }
    let mut parts = [0i64; 2];
    for p in &mut parts {
        let (major, _, arg) = r.header()?;
        let n = i64::try_from(arg).map_err(|_| shape())?;
        *p = match major {
            0 => n,
            1 => -1 - n,
            _ => return Err(shape()),
        };
    }
    decimal::value(parts[0], parts[1])
        .and_then(serde_json::Number::from_f64)
        .map(Json::Number)
        .ok_or_else(|| err(path, "a decimal fraction must be the shortest decimal of a binary64"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::{self, CBOR, Map};

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
            "free": {"at": "not a time here", "x": null, "b": true, "long key here": 1, "k": u64::MAX}
        });
        let bytes = encode(&j, &S).unwrap();
        assert_eq!(decode(&bytes, &S, 1 << 20).unwrap(), j);
        // dcbor agrees that the bytes are canonical.
        assert_eq!(cbor::encode(&cbor::decode(&bytes).unwrap()), bytes);
    }

    #[test]
    fn unmappable_values_are_refused_with_their_path() {
        let e = |j: serde_json::Value| encode(&j, &S).unwrap_err();
        assert!(matches!(e(serde_json::json!({"h": "ZZ"})), ViewError::Unmappable { path, .. } if path == "h"));
        assert!(matches!(
            e(serde_json::json!({"h": "AB"})),
            ViewError::Unmappable { .. }
        ));
        assert!(matches!(e(serde_json::json!({"at": 5})), ViewError::Unmappable { .. }));
        assert!(matches!(
            e(serde_json::json!({"x": "cafe\u{301}"})),
            ViewError::Unmappable { .. }
        ));
        let bytes_elsewhere = cbor::encode(&CBOR::from(vec![CBOR::to_byte_string([1])]));
        assert!(matches!(decode(&bytes_elsewhere, &S, 100), Err(ViewError::Unmappable { path, .. }) if path == "[]"));
        let float = cbor::encode(&CBOR::from(vec![CBOR::from(0.5f64)]));
        assert_eq!(
            decode(&float, &S, 100),
            Err(ViewError::Encoding(CborError::Unsupported("floating-point numbers")))
        );
    }

    #[test]
    fn fractions_are_decimal_fractions() {
        let j = serde_json::json!({"x": [1.5, 1.0, -2.5e-8, 0.1, 1e300, 0, -1]});
        let bytes = encode(&j, &S).unwrap();
        // 1.5 is 4([-1, 15]): c4 82 20 0f.
        assert!(bytes.windows(4).any(|w| w == [0xc4, 0x82, 0x20, 0x0f]));
        let back = decode(&bytes, &S, 1 << 20).unwrap();
        assert_eq!(back, j);
        // The JSON view keeps a fraction a fraction: 1.0 is not 1.
        assert_eq!(back["x"][1].as_f64(), Some(1.0));
        assert!(back["x"][1].as_u64().is_none());
        // dcbor agrees that the bytes are canonical CBOR.
        assert_eq!(cbor::encode(&cbor::decode(&bytes).unwrap()), bytes);

        let unmappable = |hex_bytes: &str| match decode(&hex::decode(hex_bytes).unwrap(), &S, 100) {
            Err(ViewError::Unmappable { path, .. }) => path,
            other => panic!("{hex_bytes}: {other:?}"),
        };
        // 0.5 as 50e-2, and as 5e-1 with a second tag; 1.0 as 10e-1.
        assert_eq!(unmappable("a16178c482211832"), "x");
        assert_eq!(unmappable("a16178c482200a"), "x");
        // A bignum (tag 2), a decimal of three items, one holding text.
        assert_eq!(unmappable("a16178c24101"), "x");
        assert_eq!(unmappable("a16178c483200500"), "x");
        assert_eq!(unmappable("a16178c482206135"), "x");
        assert_eq!(
            decode(&hex::decode("c4822005").unwrap(), &S, 100).unwrap(),
            serde_json::json!(0.5)
        );
        // A decimal fraction nests two levels, as dcbor counts them: at the
        // depth limit both refuse it.
        for arrays in [MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH] {
            let mut b = vec![0x81u8; arrays];
            b.extend_from_slice(&hex::decode("c4822005").unwrap());
            let (ours, theirs) = (decode(&b, &S, 1 << 20), cbor::decode(&b));
            assert_eq!(ours.is_ok(), theirs.is_ok(), "{arrays} arrays: {ours:?} / {theirs:?}");
        }
    }

    /// The codec's verdicts agree with dcbor's on every single-bit mutation
    /// of some canonical inputs: whatever it accepts dcbor accepts and
    /// re-encodes identically; whatever dcbor accepts it accepts too, or
    /// refuses only as unmappable (never as an encoding error).
    #[test]
    fn differential_against_dcbor() {
        let mut m = Map::new();
        m.insert("at", 1_795_266_000_000u64);
        m.insert("h", CBOR::to_byte_string([7u8; 32]));
        m.insert(
            "list",
            CBOR::from(vec![CBOR::from(-300i64), CBOR::from("ab"), CBOR::null()]),
        );
        m.insert(
            "nested",
            CBOR::from({
                let mut n = Map::new();
                n.insert("a", true);
                n.insert("bb", "é");
                n
            }),
        );
        let inputs = [cbor::encode(&CBOR::from(m)), crate::examples::receipt(9).to_cbor()];
        let mut checked = 0;
        for input in inputs {
            let schema = if input.len() > 500 { crate::receipt::VIEW } else { S };
            for bit in 0..input.len() * 8 {
                let mut b = input.clone();
                b[bit / 8] ^= 1 << (bit % 8);
                let ours = decode(&b, &schema, 1 << 20);
                let theirs = cbor::decode(&b);
                match (&ours, &theirs) {
                    (Ok(j), Ok(_)) => assert_eq!(encode(j, &schema).unwrap(), b, "bit {bit}"),
                    (Ok(_), Err(e)) => panic!("bit {bit}: we accepted what dcbor refused ({e:?})"),
                    (Err(ViewError::Encoding(e)), Ok(_)) => {
                        panic!("bit {bit}: encoding error {e:?} on dcbor-valid input")
                    }
                    _ => {}
                }
                checked += 1;
            }
        }
        assert!(checked > 10_000);
    }

    #[test]
    fn decoding_limits() {
        let mut deep = vec![0x81u8; MAX_DEPTH + 1];
        deep.push(0);
        assert_eq!(
            decode(&deep, &S, 1 << 20),
            Err(ViewError::Encoding(CborError::TooDeep { limit: MAX_DEPTH }))
        );
        assert_eq!(
            decode(&[0x01, 0x00], &S, 10),
            Err(ViewError::Encoding(CborError::TrailingBytes(1)))
        );
        assert_eq!(
            decode(&[0; 11], &S, 10),
            Err(ViewError::Encoding(CborError::TooLarge { len: 11, limit: 10 }))
        );
        assert_eq!(
            decode(&hex::decode("9b0000000100000000").unwrap(), &S, 100),
            Err(ViewError::Encoding(CborError::Truncated))
        );
    }
}
