//! Shedding by queue wait. The bound on submissions in flight (the queue's
//! capacity) keeps memory bounded, but at the rate a ledger commits, a full
//! queue of 8,192 is seconds of waiting, longer than a gate waits for its
//! acknowledgement (2 s by default): under a sustained overload every
//! admitted submission would time out at its gate, and the ledger would
//! commit work nobody waits for. So the writer records how long the oldest
//! submission of each batch waited in the queue, and while the queue holds
//! anything and that wait exceeds `max_queue_wait`, new submissions are
//! answered 503 `busy` before their body is read (the rule of CoDel: act
//! on the time spent queued, not on the queue's length). When the
//! overload ends, the writer reaches submissions that waited less and the
//! ledger admits again; and when the writer finds the queue empty after a
//! batch, the signal is reset (nothing waits any more), so a burst after
//! an overload is not shed for the overload's wait.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The default bound on queue wait: a quarter of the gate's default
/// acknowledgement deadline (2 s), leaving the rest to the commit and the
/// network.
pub const DEFAULT_MAX_QUEUE_WAIT: Duration = Duration::from_millis(500);

/// The queue wait of the last batch the writer took.
#[derive(Debug, Default)]
pub struct QueueWait {
    last_us: AtomicU64,
}

impl QueueWait {
    /// The writer took a batch whose oldest submission waited `waited`.
    pub fn observe(&self, waited: Duration) {
        self.last_us
            .store(u64::try_from(waited.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The wait of the last batch taken.
    pub fn last(&self) -> Duration {
        Duration::from_micros(self.last_us.load(Ordering::Relaxed))
    }

    /// Whether a new submission is shed: the queue holds `depth` waiting
    /// submissions and the last batch waited more than `max` (zero: never).
    pub fn shed(&self, depth: usize, max: Duration) -> bool {
        depth > 0 && !max.is_zero() && self.last() > max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_queue_that_holds_something_and_waited_too_long_sheds() {
        let w = QueueWait::default();
        let max = Duration::from_millis(500);
        assert!(!w.shed(8000, max), "nothing observed yet");
        w.observe(Duration::from_millis(499));
        assert!(!w.shed(8000, max));
        w.observe(Duration::from_millis(501));
        assert!(w.shed(1, max));
        assert!(!w.shed(0, max), "an empty queue admits whatever the last wait was");
        assert!(!w.shed(1, Duration::ZERO), "zero turns the rule off");
        w.observe(Duration::from_millis(10));
        assert!(!w.shed(8000, max), "the overload is over");
    }
}
