//! Deterministic CBOR: encoding, strict decoding, and typed field access.
//!
//! cairn signs and hashes the RFC 8949 §4.2.1 core deterministic encoding as
//! profiled by dCBOR (the `dcbor` crate): shortest-form integers and
//! lengths, definite lengths only, map keys sorted bytewise by their
//! encoding and unique, text in Unicode NFC. Decoding is strict: bytes that
//! are not already in that form are rejected, never "fixed up", so one value
//! has exactly one encoding and a re-encoding always reproduces the input.
//!
//! Before `dcbor` sees the input, [`decode`] checks the size limit and walks
//! the item headers without recursion, so that input nested deeper than
//! [`MAX_DEPTH`], lengths that run past the end of the input, and trailing
//! bytes are refused with their own errors and cannot exhaust the stack.

pub use dcbor::{CBOR, CBORCase, Map};

/// Largest CBOR input [`decode`] accepts, in bytes.
pub const MAX_CBOR_BYTES: usize = 1024 * 1024;
/// Deepest nesting of arrays, maps and tags [`decode`] accepts.
pub const MAX_DEPTH: usize = 32;

/// Input that is not one well-formed deterministic CBOR item. Always the
/// fault of whoever produced the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CborError {
    /// Over the size limit.
    #[error("CBOR input is {len} bytes, the limit is {limit}")]
    TooLarge {
        /// Input length.
        len: usize,
        /// The limit applied.
        limit: usize,
    },
    /// Nested deeper than the limit.
    #[error("CBOR nesting deeper than {limit}")]
    TooDeep {
        /// The limit applied.
        limit: usize,
    },
    /// The input ends inside an item.
    #[error("CBOR input ends early")]
    Truncated,
    /// Bytes after the single top-level item.
    #[error("{0} trailing bytes after the CBOR item")]
    TrailingBytes(usize),
    /// Well-formed CBOR, but not in deterministic form.
    #[error("non-canonical CBOR: {0}")]
    NonCanonical(&'static str),
    /// Not well-formed CBOR.
    #[error("malformed CBOR: {0}")]
    Malformed(&'static str),
    /// Well-formed CBOR using a construct no cairn format uses (floats).
    #[error("unsupported CBOR: {0}")]
    Unsupported(&'static str),
}

/// A decoded value does not have the shape a format requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct FieldError {
    /// Where, as a dotted path (`request.subject.id`).
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

impl FieldError {
    /// A field error at `path`.
    pub fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

/// Encode deterministically.
pub fn encode(value: &CBOR) -> Vec<u8> {
    value.to_cbor_data()
}

/// Decode exactly one deterministic CBOR item of at most [`MAX_CBOR_BYTES`].
pub fn decode(bytes: &[u8]) -> Result<CBOR, CborError> {
    decode_with_limit(bytes, MAX_CBOR_BYTES)
}

/// [`decode`] with another size limit (for formats with their own, larger
/// or smaller, bound).
pub fn decode_with_limit(bytes: &[u8], limit: usize) -> Result<CBOR, CborError> {
    if bytes.len() > limit {
        return Err(CborError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    let end = scan(bytes, MAX_DEPTH)?;
    if end < bytes.len() {
        return Err(CborError::TrailingBytes(bytes.len() - end));
    }
    CBOR::try_from_data(bytes).map_err(map_dcbor_error)
}

/// Decode the first item of an RFC 8742 CBOR sequence: returns it and the
/// number of bytes it took. The item is held to every rule of [`decode`]
/// (its own size limited by `limit`); what follows it is not read.
pub fn decode_prefix(bytes: &[u8], limit: usize) -> Result<(CBOR, usize), CborError> {
    let end = scan(bytes, MAX_DEPTH)?;
    if end > limit {
        return Err(CborError::TooLarge { len: end, limit });
    }
    let item = CBOR::try_from_data(&bytes[..end]).map_err(map_dcbor_error)?;
    Ok((item, end))
}

fn map_dcbor_error(e: dcbor::Error) -> CborError {
    use dcbor::Error as E;
    match e {
        E::Underrun => CborError::Truncated,
        E::UnusedData(n) => CborError::TrailingBytes(n),
        E::NonCanonicalNumeric => CborError::NonCanonical("number not in shortest form"),
        E::NonCanonicalString => CborError::NonCanonical("text not in Unicode NFC"),
        E::MisorderedMapKey => CborError::NonCanonical("map keys out of order"),
        E::DuplicateMapKey => CborError::NonCanonical("duplicate map key"),
        E::InvalidString(_) | E::InvalidUtf8(_) => CborError::Malformed("text is not UTF-8"),
        E::InvalidSimpleValue => CborError::Malformed("simple value other than false, true, null"),
        E::UnsupportedHeaderValue(_) => CborError::Malformed("unsupported header"),
        _ => CborError::Malformed("rejected by the dCBOR decoder"),
    }
}

/// Read one item header at `*pos`: `(major type, additional information,
/// argument)`. Refuses what no deterministic cairn encoding contains:
/// arguments not in shortest form, indefinite lengths, reserved values,
/// stray breaks and floats. Shared by [`decode`] and [`crate::view`] so the
/// two apply one set of rules.
pub(crate) fn header(bytes: &[u8], pos: &mut usize) -> Result<(u8, u8, u64), CborError> {
    let &initial = bytes.get(*pos).ok_or(CborError::Truncated)?;
    *pos += 1;
    let (major, info) = (initial >> 5, initial & 0x1f);
    let len = match info {
        0..=23 => return Ok((major, info, u64::from(info))),
        24 => 1,
        25..=27 if major == 7 => return Err(CborError::Unsupported("floating-point numbers")),
        25 => 2,
        26 => 4,
        27 => 8,
        28..=30 => return Err(CborError::Malformed("reserved additional information")),
        _ if major == 7 => return Err(CborError::Malformed("unexpected break")),
        _ => return Err(CborError::NonCanonical("indefinite length")),
    };
    let arg_bytes = bytes.get(*pos..*pos + len).ok_or(CborError::Truncated)?;
    *pos += len;
    let arg = arg_bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    // Major 7 with one argument byte is a simple value, whose rules dcbor
    // and the view codec check; everything else must be shortest form.
    let shortest = match len {
        1 => arg >= 24 || major == 7,
        2 => arg > 0xff,
        4 => arg > 0xffff,
        _ => arg > 0xffff_ffff,
    };
    if !shortest {
        return Err(CborError::NonCanonical("argument not in shortest form"));
    }
    Ok((major, info, arg))
}

/// Write an item header in shortest form: the one deterministic encoding
/// of `(major type, argument)`.
pub(crate) fn write_header(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if arg <= 0xff {
        out.extend_from_slice(&[m | 24, arg as u8]);
    } else if arg <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(arg as u16).to_be_bytes());
    } else if arg <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&(arg as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

/// A cursor over deterministic CBOR for the typed fast-path decoders
/// (receipts, COSE_Sign1, entries): item headers under the rules of
/// [`header`], and content bytes that must all be there.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    /// The next item's (major type, additional information, argument).
    pub(crate) fn head(&mut self) -> Result<(u8, u8, u64), CborError> {
        header(self.bytes, &mut self.pos)
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: u64) -> Result<&'a [u8], CborError> {
        let n = usize::try_from(n).map_err(|_| CborError::Truncated)?;
        let end = self.pos.checked_add(n).ok_or(CborError::Truncated)?;
        let s = self.bytes.get(self.pos..end).ok_or(CborError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// The next item if it is a byte string.
    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        match self.head().ok()? {
            (2, _, n) => self.take(n).ok(),
            _ => None,
        }
    }

    /// Where the cursor is.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes from `start` to the cursor.
    pub(crate) fn since(&self, start: usize) -> &'a [u8] {
        self.bytes.get(start..self.pos).unwrap_or_default()
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
}

/// Walk the headers of the first item without recursion. Returns the offset
/// just past it. Checks depth, lengths against the input, definite lengths
/// and shortest-form arguments.
fn scan(bytes: &[u8], max_depth: usize) -> Result<usize, CborError> {
    // Items still to read in each open container; the bottom entry is the
    // single top-level item.
    let mut pending: Vec<u64> = vec![1];
    let mut pos = 0usize;
    loop {
        let Some(top) = pending.last_mut() else {
            return Ok(pos);
        };
        if *top == 0 {
            pending.pop();
            continue;
        }
        *top -= 1;
        let (major, _, arg) = header(bytes, &mut pos)?;
        match major {
            2 | 3 => {
                let len = usize::try_from(arg).map_err(|_| CborError::Truncated)?;
                if bytes.len() - pos < len {
                    return Err(CborError::Truncated);
                }
                pos += len;
            }
            4..=6 => {
                let items = match major {
                    4 => arg,
                    5 => arg.checked_mul(2).ok_or(CborError::Truncated)?,
                    _ => 1,
                };
                // Every item takes at least one byte.
                if items > (bytes.len() - pos) as u64 {
                    return Err(CborError::Truncated);
                }
                if pending.len() > max_depth {
                    return Err(CborError::TooDeep { limit: max_depth });
                }
                pending.push(items);
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Typed access for format decoders. Each returns a FieldError naming the
// path, which the format's own error enum wraps.

/// The text of a text string.
pub fn text<'a>(v: &'a CBOR, path: &str) -> Result<&'a str, FieldError> {
    match v.as_case() {
        CBORCase::Text(s) => Ok(s),
        _ => Err(FieldError::new(path, "expected a text string")),
    }
}

/// An unsigned integer.
pub fn uint(v: &CBOR, path: &str) -> Result<u64, FieldError> {
    match v.as_case() {
        CBORCase::Unsigned(n) => Ok(*n),
        _ => Err(FieldError::new(path, "expected an unsigned integer")),
    }
}

/// A boolean.
pub fn boolean(v: &CBOR, path: &str) -> Result<bool, FieldError> {
    match v.as_case() {
        CBORCase::Simple(dcbor::Simple::True) => Ok(true),
        CBORCase::Simple(dcbor::Simple::False) => Ok(false),
        _ => Err(FieldError::new(path, "expected a boolean")),
    }
}

/// The bytes of a byte string.
pub fn bytes<'a>(v: &'a CBOR, path: &str) -> Result<&'a [u8], FieldError> {
    match v.as_case() {
        CBORCase::ByteString(b) => Ok(b.data()),
        _ => Err(FieldError::new(path, "expected a byte string")),
    }
}

/// A byte string of exactly `N` bytes.
pub fn fixed_bytes<const N: usize>(v: &CBOR, path: &str) -> Result<[u8; N], FieldError> {
    let b = bytes(v, path)?;
    <[u8; N]>::try_from(b).map_err(|_| FieldError::new(path, format!("expected {N} bytes, got {}", b.len())))
}

/// The items of an array.
pub fn array<'a>(v: &'a CBOR, path: &str) -> Result<&'a [CBOR], FieldError> {
    match v.as_case() {
        CBORCase::Array(items) => Ok(items),
        _ => Err(FieldError::new(path, "expected an array")),
    }
}

/// A map with text keys, read field by field: every key must be taken by
/// [`Fields::required`] or [`Fields::optional`] before [`Fields::finish`],
/// which refuses any key left over (closed schemas).
#[derive(Debug)]
pub struct Fields<'a> {
    path: String,
    entries: Vec<(&'a str, &'a CBOR, bool)>,
}

impl<'a> Fields<'a> {
    /// Open a map whose keys must all be text.
    pub fn new(v: &'a CBOR, path: &str) -> Result<Self, FieldError> {
        let CBORCase::Map(m) = v.as_case() else {
            return Err(FieldError::new(path, "expected a map"));
        };
        let entries = m
            .iter()
            .map(|(k, v)| {
                Ok((
                    text(k, path).map_err(|_| FieldError::new(path, "map keys must be text"))?,
                    v,
                    false,
                ))
            })
            .collect::<Result<_, FieldError>>()?;
        Ok(Fields {
            path: path.to_owned(),
            entries,
        })
    }

    /// `path.key`, for nested errors.
    pub fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value at `key`, if present.
    pub fn optional(&mut self, key: &str) -> Option<&'a CBOR> {
        self.entries.iter_mut().find(|(k, _, _)| *k == key).map(|e| {
            e.2 = true;
            e.1
        })
    }

    /// The value at `key`, which must be present.
    pub fn required(&mut self, key: &str) -> Result<&'a CBOR, FieldError> {
        let path = self.path(key);
        self.optional(key).ok_or_else(|| FieldError::new(path, "missing"))
    }

    /// Refuse any key not taken.
    pub fn finish(self) -> Result<(), FieldError> {
        match self.entries.iter().find(|e| !e.2) {
            Some((k, _, _)) => Err(FieldError::new(self.path(k), "unknown field")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn canonical_round_trip() {
        let mut m = Map::new();
        m.insert("b", 1u64);
        m.insert("a", CBOR::from(vec![CBOR::from(-5i64), CBOR::to_byte_string([1, 2])]));
        let v = CBOR::from(m);
        let bytes = encode(&v);
        assert_eq!(hex::encode(&bytes), "a2616182244201026162 01".replace(' ', ""));
        assert_eq!(encode(&decode(&bytes).unwrap()), bytes);
    }

    #[test]
    fn each_kind_of_bad_input_has_its_own_error() {
        // 24 written in two bytes where one would do: 0x18 0x05.
        assert_eq!(
            decode(&h("1805")),
            Err(CborError::NonCanonical("argument not in shortest form"))
        );
        assert_eq!(
            decode(&h("190001")),
            Err(CborError::NonCanonical("argument not in shortest form"))
        );
        // Indefinite-length array.
        assert_eq!(decode(&h("9f01ff")), Err(CborError::NonCanonical("indefinite length")));
        // Map keys out of order: {"b":1,"a":2}.
        assert_eq!(
            decode(&h("a2616201616102")),
            Err(CborError::NonCanonical("map keys out of order"))
        );
        // Duplicate keys: {"a":1,"a":2}.
        assert_eq!(
            decode(&h("a2616101616102")),
            Err(CborError::NonCanonical("duplicate map key"))
        );
        // Floats: none in cairn formats, canonical or not. The float32 is a
        // fuzzer finding: dcbor accepted it and re-encoded it as an integer.
        for f in ["f93c00", "fad8f965d6", "fb3ff8000000000000"] {
            assert_eq!(
                decode(&h(f)),
                Err(CborError::Unsupported("floating-point numbers")),
                "{f}"
            );
        }
        // Trailing byte.
        assert_eq!(decode(&h("0100")), Err(CborError::TrailingBytes(1)));
        // Truncated: a 5-byte string with 2 bytes.
        assert_eq!(decode(&h("656162")), Err(CborError::Truncated));
        // An array claiming 2^32 items in 6 bytes.
        assert_eq!(decode(&h("9b0000000100000000")), Err(CborError::Truncated));
        assert_eq!(decode(&[]), Err(CborError::Truncated));
        // Reserved additional information.
        assert_eq!(
            decode(&h("1c")),
            Err(CborError::Malformed("reserved additional information"))
        );
        assert_eq!(decode(&h("ff")), Err(CborError::Malformed("unexpected break")));
        // Invalid UTF-8 text.
        assert_eq!(decode(&h("61ff")), Err(CborError::Malformed("text is not UTF-8")));
        // Size limit.
        let big = vec![0u8; MAX_CBOR_BYTES + 1];
        assert_eq!(
            decode(&big),
            Err(CborError::TooLarge {
                len: MAX_CBOR_BYTES + 1,
                limit: MAX_CBOR_BYTES
            })
        );
    }

    #[test]
    fn sequences_decode_item_by_item() {
        let seq = [h("0163616263"), h("a16161f5")].concat();
        let (a, n) = decode_prefix(&seq, 100).unwrap();
        assert_eq!((encode(&a), n), (h("01"), 1));
        let (b, m) = decode_prefix(&seq[n..], 100).unwrap();
        assert_eq!((encode(&b), m), (h("63616263"), 4));
        let (c, _) = decode_prefix(&seq[n + m..], 100).unwrap();
        assert_eq!(encode(&c), h("a16161f5"));
        assert_eq!(decode_prefix(&h("6361"), 100), Err(CborError::Truncated));
        assert!(matches!(
            decode_prefix(&h("1805"), 100),
            Err(CborError::NonCanonical(_))
        ));
        assert!(matches!(
            decode_prefix(&h("43010203"), 2),
            Err(CborError::TooLarge { .. })
        ));
    }

    #[test]
    fn depth_limit_is_enforced_without_recursion() {
        let nested = |depth: usize| {
            let mut b = vec![0x81; depth];
            b.push(0x00);
            b
        };
        assert!(decode(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(
            decode(&nested(MAX_DEPTH + 1)),
            Err(CborError::TooDeep { limit: MAX_DEPTH })
        );
        // Far deeper than any stack would survive in a recursive decoder.
        assert_eq!(decode(&nested(500_000)), Err(CborError::TooDeep { limit: MAX_DEPTH }));
    }

    #[test]
    fn fields_refuse_unknown_and_missing_keys() {
        let mut m = Map::new();
        m.insert("x", 1u64);
        m.insert("y", "t");
        let v = CBOR::from(m);
        let mut f = Fields::new(&v, "root").unwrap();
        assert_eq!(uint(f.required("x").unwrap(), "root.x"), Ok(1));
        assert_eq!(f.required("z").unwrap_err().path, "root.z");
        assert_eq!(f.finish().unwrap_err(), FieldError::new("root.y", "unknown field"));
        assert!(text(&CBOR::from(1u64), "p").is_err());
        assert!(fixed_bytes::<4>(&CBOR::to_byte_string([1, 2]), "p").is_err());
    }
}
