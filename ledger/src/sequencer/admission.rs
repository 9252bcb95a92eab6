//! Admission: the checks a submission passes on the submitting task,
//! before it is queued for the single writer. Each returns the precise
//! refusal; none writes anything.

use std::time::Duration;

use cairn_api::cose::Sign1;
use cairn_api::keys::VerifierKey;
use cairn_api::policy::{Bundle, Policy};
use cairn_api::timestamp::Timestamp;

use super::SubmitError;

/// A key or policy statement must be signed by a configured authority:
/// its kid names one, and the signature verifies under it.
pub fn check_authority(authorities: &[VerifierKey], msg: &Sign1) -> Result<(), SubmitError> {
    let key = authorities
        .iter()
        .find(|k| k.key_ref() == msg.kid())
        .ok_or_else(|| SubmitError::UnknownAuthority(msg.kid().to_owned()))?;
    msg.verify(key).map_err(SubmitError::AuthoritySignature)
}

/// A receipt's `decided_at` must be within `max_skew` of the ledger's clock.
pub fn check_clock(decided_at: Timestamp, now: Timestamp, max_skew: Duration) -> Result<(), SubmitError> {
    let skew = u64::try_from(max_skew.as_millis()).unwrap_or(u64::MAX);
    if decided_at.millis().abs_diff(now.millis()) > skew {
        return Err(SubmitError::ClockSkew {
            decided_at,
            now,
            skew_s: skew / 1000,
        });
    }
    Ok(())
}

/// A policy submission must be a valid bundle that compiles for an engine
/// cairn replays exactly.
pub fn check_bundle(payload: &[u8]) -> Result<Bundle, SubmitError> {
    let bundle = Bundle::from_bytes(payload)?;
    Policy::compile(&bundle)?;
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_api::examples;

    #[test]
    fn authority_refusals_are_told_apart() {
        let body = cairn_api::cose::sign(b"x", "application/x", &examples::authority_key()).unwrap();
        let msg = Sign1::parse(&body, "application/x").unwrap();
        assert!(check_authority(&[examples::authority_key().verifier()], &msg).is_ok());
        assert!(matches!(
            check_authority(&[examples::gate_key().verifier()], &msg),
            Err(SubmitError::UnknownAuthority(_))
        ));
        let t = Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap();
        assert!(check_clock(t, t, Duration::from_secs(1)).is_ok());
        let later = Timestamp::from_millis(examples::EXAMPLE_NOW_MS + 1001).unwrap();
        assert!(matches!(
            check_clock(t, later, Duration::from_secs(1)),
            Err(SubmitError::ClockSkew { skew_s: 1, .. })
        ));
        assert!(matches!(check_bundle(b"not a bundle"), Err(SubmitError::Bundle(_))));
    }
}
