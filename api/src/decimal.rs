//! Numbers with a fraction, as receipts record them (docs/spec.md, "Numbers
//! with a fraction").
//!
//! A JSON number written with a fraction or an exponent (`0.5`, `1.0`,
//! `2e-3`) is read as an IEEE 754 binary64, as I-JSON (RFC 7493) says every
//! receiver does, and recorded as a CBOR decimal fraction (RFC 8949
//! section 3.4.4, tag 4) `[exponent, mantissa]` holding the *shortest*
//! decimal that reads back as the same binary64: the digits ECMAScript's
//! `Number.prototype.toString` and RFC 8785 print. Deterministic CBOR forbids
//! floating-point items in cairn's formats, and this keeps every number a
//! caller can send: the policy decides on the binary64, the receipt records
//! its decimal, and a replay reads back the very same binary64.
//!
//! The encoding is canonical: for a given binary64 there is exactly one
//! `[exponent, mantissa]` (the mantissa carries no trailing zero; zero, and
//! negative zero, is `[0, 0]`), and [`value`] accepts nothing else.

/// The CBOR tag of a decimal fraction.
pub const DECIMAL_FRACTION_TAG: u64 = 4;

/// Largest exponent magnitude [`value`] reads. Every finite binary64's
/// shortest decimal has an exponent within -342..=308.
pub const MAX_EXPONENT: i64 = 400;

/// The shortest `(exponent, mantissa)` with `mantissa × 10^exponent`
/// reading back as `x`; `None` for infinities and NaN, which JSON cannot
/// carry.
pub fn shortest(x: f64) -> Option<(i64, i64)> {
    if !x.is_finite() {
        return None;
    }
    if x == 0.0 {
        return Some((0, 0));
    }
    // `{:e}` prints the shortest round-trip digits: `-1.2345e-7`.
    let printed = format!("{x:e}");
    let (digits, exp) = printed.split_once('e')?;
    let exp: i64 = exp.parse().ok()?;
    let (negative, digits) = match digits.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, digits),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut mantissa: i64 = format!("{int}{frac}").parse().ok()?;
    let mut exponent = exp.checked_sub(i64::try_from(frac.len()).ok()?)?;
    while mantissa != 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    Some((exponent, if negative { -mantissa } else { mantissa }))
}

/// The binary64 a canonical decimal fraction stands for; `None` when
/// `[exponent, mantissa]` is not the shortest decimal of the binary64
/// nearest to it (so that every binary64 has one encoding).
pub fn value(exponent: i64, mantissa: i64) -> Option<f64> {
    if !(-MAX_EXPONENT..=MAX_EXPONENT).contains(&exponent) {
        return None;
    }
    let x: f64 = format!("{mantissa}e{exponent}").parse().ok()?;
    (shortest(x) == Some((exponent, mantissa))).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_digits_of_binary64() {
        let cases: &[(f64, (i64, i64))] = &[
            (0.5, (-1, 5)),
            (0.1, (-1, 1)),
            (1.0, (0, 1)),
            (-2.5e-8, (-9, -25)),
            (100.5, (-1, 1005)),
            (1e300, (300, 1)),
            (0.30000000000000004, (-17, 30000000000000004)),
            (f64::MAX, (292, 17976931348623157)),
            (f64::MIN_POSITIVE, (-324, 22250738585072014)),
            (5e-324, (-324, 5)),
            (0.0, (0, 0)),
            (-0.0, (0, 0)),
            (1.8446744073709552e19, (3, 18446744073709552)),
        ];
        for &(x, want) in cases {
            assert_eq!(shortest(x), Some(want), "{x:e}");
            assert_eq!(value(want.0, want.1), Some(if x == 0.0 { 0.0 } else { x }), "{x:e}");
        }
        assert_eq!(shortest(f64::NAN), None);
        assert_eq!(shortest(f64::INFINITY), None);
    }

    #[test]
    fn only_the_shortest_form_is_canonical() {
        // 0.5 written as 50e-2, 1.0 as 10e-1, zero with an exponent.
        assert_eq!(value(-2, 50), None);
        assert_eq!(value(-1, 10), None);
        assert_eq!(value(1, 0), None);
        // 17 significant digits where 1 does: 0.1 as 0.10000000000000001.
        assert_eq!(value(-17, 10000000000000001), None);
        // Beyond binary64's range, and exponents out of bounds.
        assert_eq!(value(309, 2), None);
        assert_eq!(value(-400, 1), None);
        assert_eq!(value(i64::MIN, 1), None);
        assert_eq!(value(-1, 5), Some(0.5));
    }

    #[test]
    fn every_binary64_round_trips() {
        // A deterministic walk over bit patterns, subnormals to the largest.
        let mut bits: u64 = 1;
        for _ in 0..20_000 {
            bits = bits.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let x = f64::from_bits(bits >> 1);
            if !x.is_finite() {
                continue;
            }
            let (e, m) = shortest(x).unwrap();
            assert_eq!(value(e, m), Some(x), "{x:e}");
            assert!(m == 0 || m % 10 != 0);
        }
    }
}
