//! Per-gate rate limits: a token bucket per gate key, so one gate cannot
//! take the whole ingest capacity. Memory is one bucket per key that
//! reached the limiter, and only registered gate keys do.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A gate's allowance: `per_second` receipts on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateRate {
    /// Sustained receipts per second.
    pub per_second: f64,
    /// Bucket size: receipts accepted at once after a quiet period.
    pub burst: f64,
}

/// Token buckets by gate key reference.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Option<GateRate>,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter; `None` lets everything through.
    pub fn new(rate: Option<GateRate>) -> Self {
        RateLimiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one token for `key` at `now`; `Err(wait)` when the bucket is
    /// empty, with how long until a token is back.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let Some(rate) = self.rate else { return Ok(()) };
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (tokens, last) = buckets.entry(key.to_owned()).or_insert((rate.burst, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * rate.per_second;
        *tokens = (*tokens + refill).min(rate.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let l = RateLimiter::new(Some(GateRate {
            per_second: 10.0,
            burst: 3.0,
        }));
        let t = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.check("gate-a", t), Ok(()));
        }
        // At the limit: the fourth waits about a tenth of a second.
        let wait = l.check("gate-a", t).unwrap_err();
        assert!(
            wait > Duration::from_millis(90) && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        // Another gate has its own bucket.
        assert_eq!(l.check("gate-b", t), Ok(()));
        // A tenth of a second later, one more.
        assert_eq!(l.check("gate-a", t + Duration::from_millis(100)), Ok(()));
        assert!(l.check("gate-a", t + Duration::from_millis(100)).is_err());
        // A long pause refills up to the burst, not beyond.
        let later = t + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(l.check("gate-a", later), Ok(()));
        }
        assert!(l.check("gate-a", later).is_err());
        // No limit configured: everything passes.
        let open = RateLimiter::new(None);
        for _ in 0..1000 {
            assert_eq!(open.check("g", t), Ok(()));
        }
    }
}
