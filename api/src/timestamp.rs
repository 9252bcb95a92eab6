//! Instants as integer milliseconds since the Unix epoch.
//!
//! In CBOR a timestamp is an unsigned integer of milliseconds since
//! 1970-01-01T00:00:00Z; in JSON it is RFC 3339 in UTC with exactly three
//! fractional digits (`2026-11-21T13:01:00.000Z`). Parsing JSON accepts any
//! RFC 3339 instant with at most millisecond precision in the range; the
//! JSON cairn writes is always the canonical spelling.

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// The last millisecond of 9999-12-31, the largest instant accepted.
pub const MAX_TIMESTAMP_MS: u64 = 253_402_300_799_999;

/// A timestamp could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// Not RFC 3339.
    #[error("not an RFC 3339 timestamp: {0:?}")]
    NotRfc3339(String),
    /// Before 1970 or after 9999.
    #[error("timestamp outside 1970-01-01..9999-12-31")]
    OutOfRange,
    /// Finer than a millisecond.
    #[error("timestamp has sub-millisecond precision")]
    TooPrecise,
}

/// Milliseconds since the Unix epoch, at most [`MAX_TIMESTAMP_MS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// 1970-01-01T00:00:00.000Z.
    pub const EPOCH: Timestamp = Timestamp(0);
    /// The largest instant accepted ([`MAX_TIMESTAMP_MS`]).
    pub const MAX: Timestamp = Timestamp(MAX_TIMESTAMP_MS);

    /// From milliseconds since the epoch.
    pub fn from_millis(ms: u64) -> Result<Self, TimestampError> {
        if ms > MAX_TIMESTAMP_MS {
            return Err(TimestampError::OutOfRange);
        }
        Ok(Timestamp(ms))
    }

    /// Milliseconds since the epoch.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// Parse RFC 3339 (any offset, at most millisecond precision).
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimestampError> {
        let t = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|_| TimestampError::NotRfc3339(text.chars().take(64).collect()))?;
        let nanos = t.unix_timestamp_nanos();
        if nanos % 1_000_000 != 0 {
            return Err(TimestampError::TooPrecise);
        }
        let ms = u64::try_from(nanos / 1_000_000).map_err(|_| TimestampError::OutOfRange)?;
        Self::from_millis(ms)
    }

    /// Canonical RFC 3339: UTC, `Z`, three fractional digits.
    pub fn to_rfc3339(self) -> String {
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .map(|t| t.to_offset(UtcOffset::UTC))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let Ok(year) = u32::try_from(t.year()) else {
            return rfc3339_fmt(t);
        };
        if year > 9999 {
            return rfc3339_fmt(t);
        }
        // The digits written in place: this runs for every time of every
        // receipt decoded, and `format!` was a tenth of an audit's time.
        let mut b = *b"0000-00-00T00:00:00.000Z";
        for (at, width, value) in [
            (0, 4, year),
            (5, 2, u32::from(u8::from(t.month()))),
            (8, 2, u32::from(t.day())),
            (11, 2, u32::from(t.hour())),
            (14, 2, u32::from(t.minute())),
            (17, 2, u32::from(t.second())),
            (20, 3, u32::from(t.millisecond())),
        ] {
            let mut v = value;
            for i in (at..at + width).rev() {
                if let Some(d) = b.get_mut(i) {
                    *d = b'0' + (v % 10) as u8;
                }
                v /= 10;
            }
        }
        b.iter().map(|&c| char::from(c)).collect()
    }
}

/// [`Timestamp::to_rfc3339`] by `format!`: the reference, and the path for
/// years outside 0..=9999.
fn rfc3339_fmt(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_written_in_place_are_the_formatted_ones() {
        let mut ms = 0u64;
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let t = Timestamp::from_millis(ms).unwrap();
            let odt = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
            assert_eq!(t.to_rfc3339(), rfc3339_fmt(odt), "{ms}");
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ms = x % (MAX_TIMESTAMP_MS + 1);
        }
        for edge in [0, 999, 1_000, 86_399_999, MAX_TIMESTAMP_MS] {
            let t = Timestamp::from_millis(edge).unwrap();
            let odt = OffsetDateTime::from_unix_timestamp_nanos(i128::from(edge) * 1_000_000).unwrap();
            assert_eq!(t.to_rfc3339(), rfc3339_fmt(odt));
        }
        assert_eq!(
            Timestamp::from_millis(MAX_TIMESTAMP_MS).unwrap().to_rfc3339(),
            "9999-12-31T23:59:59.999Z"
        );
    }

    #[test]
    fn canonical_form_round_trips() {
        for ms in [0, 1, 999, 1_795_000_000_123, MAX_TIMESTAMP_MS] {
            let t = Timestamp::from_millis(ms).unwrap();
            assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
        }
        assert_eq!(
            Timestamp::from_millis(0).unwrap().to_rfc3339(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-21T14:01:00.5+01:00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-21T13:01:00.500Z"
        );
    }

    #[test]
    fn bad_timestamps_are_refused() {
        assert_eq!(
            Timestamp::parse_rfc3339("1969-12-31T23:59:59Z"),
            Err(TimestampError::OutOfRange)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-01-01T00:00:00.0001Z"),
            Err(TimestampError::TooPrecise)
        );
        assert!(matches!(
            Timestamp::parse_rfc3339("yesterday"),
            Err(TimestampError::NotRfc3339(_))
        ));
        assert_eq!(
            Timestamp::from_millis(MAX_TIMESTAMP_MS + 1),
            Err(TimestampError::OutOfRange)
        );
    }
}
