//! The ledger's clock: the system clock, or one a test injects (an outage
//! of hours is simulated by moving the ledger's clock, never by sleeping).

use std::sync::Arc;

use cairn_api::timestamp::Timestamp;

/// Where the ledger reads the time for admission and `integrated_at`.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<dyn Fn() -> Timestamp + Send + Sync>>);

impl Clock {
    /// The system clock (saturating at the ends of the representable range).
    pub fn system() -> Self {
        Clock(None)
    }

    /// A clock that reads `f`.
    pub fn from_fn(f: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Clock(Some(Arc::new(f)))
    }

    /// The system clock moved by `offset_ms` (positive: ahead).
    pub fn offset(offset_ms: i64) -> Self {
        Clock::from_fn(move || {
            let now = cairn_host::clock::now_saturating().millis();
            let t = now.saturating_add_signed(offset_ms);
            Timestamp::from_millis(t).unwrap_or(Timestamp::MAX)
        })
    }

    /// Now.
    pub fn now(&self) -> Timestamp {
        match &self.0 {
            None => cairn_host::clock::now_saturating(),
            Some(f) => f(),
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Clock(injected)"
        } else {
            "Clock(system)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_clock_is_ahead_of_the_system_clock() {
        let sys = Clock::system().now().millis();
        let ahead = Clock::offset(3_600_000).now().millis();
        assert!(ahead >= sys + 3_600_000 && ahead < sys + 3_660_000, "{sys} {ahead}");
        assert_eq!(format!("{:?}", Clock::offset(0)), "Clock(injected)");
    }
}
