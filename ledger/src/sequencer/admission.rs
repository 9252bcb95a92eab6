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

/// The clock rule (docs/spec.md 20.1): a receipt from more than `max_skew`
/// ahead of the ledger's clock is refused (time cures it); one from the
/// past is accepted, and marked late when it is more than `max_skew` old,
/// unless it is more than `max_lateness` old. Evidence held back by an
/// outage arrives late; that is when it matters most. Returns how late.
pub fn check_clock(
    decided_at: Timestamp,
    now: Timestamp,
    max_skew: Duration,
    max_lateness: Duration,
) -> Result<Option<Duration>, SubmitError> {
    let skew = u64::try_from(max_skew.as_millis()).unwrap_or(u64::MAX);
    let lateness = u64::try_from(max_lateness.as_millis()).unwrap_or(u64::MAX);
    let (d, n) = (decided_at.millis(), now.millis());
    if d > n {
        if d - n > skew {
            return Err(SubmitError::ClockSkew {
                decided_at,
                now,
                skew_s: skew / 1000,
            });
        }
        return Ok(None);
    }
    let late = n - d;
    if late > lateness {
        return Err(SubmitError::TooLate {
            decided_at,
            now,
            max_lateness_s: lateness / 1000,
        });
    }
    Ok((late > skew).then(|| Duration::from_millis(late)))
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
        assert!(matches!(check_bundle(b"not a bundle"), Err(SubmitError::Bundle(_))));
    }

    #[test]
    fn the_clock_rule_guards_the_future_and_marks_the_past_late() {
        let at = |ms: u64| Timestamp::from_millis(examples::EXAMPLE_NOW_MS + ms).unwrap();
        let (skew, lateness) = (Duration::from_secs(300), Duration::from_secs(30 * 86_400));
        let now = at(40 * 86_400_000);
        let check = |d| check_clock(d, now, skew, lateness);
        assert_eq!(check(now).unwrap(), None);
        // Ahead within the skew: accepted; beyond it: refused.
        assert_eq!(check(at(40 * 86_400_000 + 300_000)).unwrap(), None);
        assert!(matches!(
            check(at(40 * 86_400_000 + 300_001)),
            Err(SubmitError::ClockSkew { skew_s: 300, .. })
        ));
        // Behind within the skew: on time; beyond it: late, by how much.
        assert_eq!(check(at(40 * 86_400_000 - 300_000)).unwrap(), None);
        assert_eq!(
            check(at(40 * 86_400_000 - 7_200_000)).unwrap(),
            Some(Duration::from_secs(7200))
        );
        assert_eq!(
            check(at(10 * 86_400_000)).unwrap(),
            Some(Duration::from_secs(30 * 86_400))
        );
        // Beyond the lateness bound: refused, with a reason of its own.
        assert!(matches!(
            check(at(10 * 86_400_000 - 1)),
            Err(SubmitError::TooLate {
                max_lateness_s: 2_592_000,
                ..
            })
        ));
    }
}
