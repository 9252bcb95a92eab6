//! The wall clock, read in one place.

use std::time::{SystemTime, UNIX_EPOCH};

use cairn_api::timestamp::Timestamp;

/// The host's clock is before 1970 or beyond what a receipt can say.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClockError {
    /// The clock reads before the Unix epoch.
    #[error("the system clock is before 1970")]
    BeforeEpoch,
    /// The clock reads beyond the largest timestamp cairn's formats hold.
    #[error("the system clock is out of range: {0}")]
    OutOfRange(String),
}

/// Now, to the millisecond.
pub fn now() -> Result<Timestamp, ClockError> {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| ClockError::BeforeEpoch)?;
    let ms = u64::try_from(d.as_millis()).map_err(|e| ClockError::OutOfRange(e.to_string()))?;
    Timestamp::from_millis(ms).map_err(|e| ClockError::OutOfRange(e.to_string()))
}

/// Now, or the largest/smallest representable time when the clock is out
/// of range (for servers, which must keep answering; the range check of
/// what they compare it with still applies).
pub fn now_saturating() -> Timestamp {
    match now() {
        Ok(t) => t,
        Err(ClockError::BeforeEpoch) => Timestamp::EPOCH,
        Err(_) => Timestamp::MAX,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_after_2025() {
        assert!(super::now().unwrap().millis() > 1_735_689_600_000);
    }
}
