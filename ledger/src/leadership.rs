//! Who may write: the sequencer role of an instance among several that
//! share one database (docs/operations.md, "Running cairn highly
//! available").
//!
//! A [`Leadership`] is this instance's view of the lease its backend keeps
//! (for PostgreSQL, the `sequencer_lease` row, renewed by
//! `store::pg_lease`): the epoch it holds, until when it may act on it, and
//! otherwise the leader's advertised URL for the `503` hint. The writer
//! commits only while [`Leadership::epoch`] is `Some`, and the database
//! checks the same epoch inside every commit's transaction (fencing), so a
//! paused or partitioned former leader can never commit after another
//! instance took the lease over. A ledger without one (redb, a single
//! process owning its file) is always the writer.

use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Default)]
struct View {
    /// The epoch held, and the instant past which it may not be used
    /// (measured on this machine's monotonic clock from before the renewal
    /// was sent, so it ends no later than the database's expiry).
    held: Option<(u64, Instant)>,
    /// The leader's advertised URL, when another instance leads.
    leader: Option<String>,
}

/// This instance's sequencer role.
#[derive(Debug, Default)]
pub struct Leadership {
    view: Mutex<View>,
}

impl Leadership {
    /// A follower that knows no leader yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn view(&self) -> std::sync::MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The epoch this instance holds the lease under, while the lease is
    /// still valid by this machine's clock; `None` on a follower.
    pub fn epoch(&self) -> Option<u64> {
        self.view()
            .held
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(e, _)| e)
    }

    /// The leader's advertised URL, when another instance is known to lead.
    pub fn leader_hint(&self) -> Option<String> {
        let v = self.view();
        if v.held.is_some_and(|(_, until)| Instant::now() < until) {
            return None;
        }
        v.leader.clone()
    }

    /// The lease is held under `epoch` until `until`.
    pub fn lead(&self, epoch: u64, until: Instant) {
        let mut v = self.view();
        v.held = Some((epoch, until));
        v.leader = None;
    }

    /// The lease is not held (any more); `leader` leads, if known.
    pub fn follow(&self, leader: Option<String>) {
        let mut v = self.view();
        v.held = None;
        v.leader = leader;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_epoch_ends_with_the_lease() {
        let l = Leadership::new();
        assert_eq!(l.epoch(), None);
        l.follow(Some("http://b".into()));
        assert_eq!(l.leader_hint().as_deref(), Some("http://b"));
        l.lead(7, Instant::now() + Duration::from_secs(60));
        assert_eq!(l.epoch(), Some(7));
        assert_eq!(l.leader_hint(), None);
        l.lead(8, Instant::now());
        assert_eq!(l.epoch(), None, "an expired lease is not used, renewed or not");
        l.follow(None);
        assert_eq!((l.epoch(), l.leader_hint()), (None, None));
    }
}
