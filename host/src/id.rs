//! UUIDv7 ids (RFC 9562) for receipts and approval requests: the uuid
//! crate's v7 layout (48-bit Unix milliseconds, version 7, variant 10),
//! with 74 bits from the operating system's randomness. A randomness
//! failure is an error: a weaker id is never made silently.

use cairn_api::timestamp::Timestamp;

/// No randomness could be had.
#[derive(Debug, thiserror::Error)]
#[error("no randomness for a new id: {0}")]
pub struct IdError(String);

/// A fresh UUIDv7 for time `t`, lowercase hyphenated.
pub fn uuid_v7(t: Timestamp) -> Result<String, IdError> {
    let mut random = [0u8; 10];
    getrandom::fill(&mut random).map_err(|e| IdError(e.to_string()))?;
    Ok(uuid::Builder::from_unix_timestamp_millis(t.millis(), &random)
        .into_uuid()
        .hyphenated()
        .to_string())
}

/// 32 random bytes (a key seed).
pub fn random_seed() -> Result<[u8; 32], IdError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| IdError(e.to_string()))?;
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_carry_the_time_and_differ() {
        let t = Timestamp::from_millis(1_767_225_600_123).unwrap();
        let a = uuid_v7(t).unwrap();
        let b = uuid_v7(t).unwrap();
        assert_ne!(a, b);
        let u = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(u.get_version_num(), 7);
        assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
        let mut ms = [0u8; 8];
        ms[2..].copy_from_slice(&u.as_bytes()[..6]);
        assert_eq!(u64::from_be_bytes(ms), t.millis());
    }
}
