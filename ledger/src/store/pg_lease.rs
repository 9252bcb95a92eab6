//! The sequencer lease in PostgreSQL: one `sequencer_lease` row holding
//! an epoch, its holder, the holder's advertised URL and an expiry read
//! from the database's clock (so instances need not agree on time).
//!
//! - **Taking it**: an instance takes the lease only when it has expired,
//!   and takes it under the next epoch (`UPDATE ... WHERE expires_at <=
//!   clock_timestamp()`: one winner, whoever comes first).
//! - **Keeping it**: the holder renews every [`renew_every`] of the time
//!   to live; a renewal that finds another epoch, or its own lease
//!   expired, steps down. Between renewals the instance acts on the lease
//!   only until the time to live, counted from before its last renewal was
//!   sent, has passed on its own clock ([`Leadership`]).
//! - **Fencing**: every commit reads the row `FOR SHARE` inside its
//!   transaction and goes on only if the epoch is still the one this
//!   instance holds and unexpired (`PgStore::commit`). A leader frozen or
//!   cut off past its lease cannot commit: the new leader's epoch is in the
//!   row, and the takeover's `UPDATE` waits for any commit in flight, whose
//!   transaction PostgreSQL ends after [`super::pg_store::IDLE_IN_TRANSACTION`]
//!   when its client stopped talking.
//! - **Handing it over**: a ledger stopped with SIGTERM expires its lease
//!   as it stops, so another instance takes over at once (upgrades without
//!   downtime).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::StoreError;
use super::pg_store::PgStore;
use crate::leadership::Leadership;

/// The default time to live of the lease.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(5);
/// The shortest time to live accepted.
pub const MIN_LEASE_TTL: Duration = Duration::from_millis(500);

/// How often the lease is renewed (and a follower looks for an expired
/// one): a fifth of its time to live.
pub fn renew_every(ttl: Duration) -> Duration {
    ttl / 5
}

/// How this instance takes part in the lease.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// This process's name in the lease row (unique per process).
    pub holder: String,
    /// The URL clients reach this instance at, given to them as the
    /// leader's while it leads.
    pub advertise: Option<String>,
    /// The lease's time to live.
    pub ttl: Duration,
}

impl LeaseConfig {
    /// A configuration with a holder name unique to this process.
    pub fn new(advertise: Option<String>, ttl: Duration) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let host = advertise.clone().unwrap_or_else(|| "cairn-ledger".into());
        LeaseConfig {
            holder: format!("{host} pid {} {nanos:09}", std::process::id()),
            advertise,
            ttl,
        }
    }

    fn ttl_ms(&self) -> f64 {
        self.ttl.as_secs_f64() * 1000.0
    }
}

fn to_epoch(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("a negative lease epoch {v}")))
}

impl PgStore {
    /// Take the lease if it has expired; the new epoch when taken.
    pub fn acquire_lease(&self, cfg: &LeaseConfig) -> Result<Option<u64>, StoreError> {
        let row = self.pool().with(|c| {
            c.query_opt(
                "UPDATE sequencer_lease SET epoch = epoch + 1, holder = $1, leader_url = $2, \
                 expires_at = clock_timestamp() + $3 * interval '1 millisecond' \
                 WHERE expires_at <= clock_timestamp() RETURNING epoch",
                &[&cfg.holder, &cfg.advertise, &cfg.ttl_ms()],
            )
            .map_err(|e| StoreError::backend("take the lease", e))
        })?;
        row.map(|r| {
            r.try_get::<_, i64>(0)
                .map_err(|e| StoreError::backend("take the lease", e))
        })
        .transpose()?
        .map(to_epoch)
        .transpose()
    }

    /// Renew the lease held under `epoch`; false when it is not held any
    /// more (another epoch, or expired).
    pub fn renew_lease(&self, cfg: &LeaseConfig, epoch: u64) -> Result<bool, StoreError> {
        let e = i64::try_from(epoch).map_err(|_| StoreError::Corrupt("a lease epoch beyond i64".into()))?;
        let n = self.pool().with(|c| {
            c.execute(
                "UPDATE sequencer_lease SET expires_at = clock_timestamp() + $3 * interval '1 millisecond' \
                 WHERE epoch = $1 AND holder = $2 AND expires_at > clock_timestamp()",
                &[&e, &cfg.holder, &cfg.ttl_ms()],
            )
            .map_err(|e| StoreError::backend("renew the lease", e))
        })?;
        Ok(n == 1)
    }

    /// Expire the lease held under `epoch` now, so that another instance
    /// takes over without waiting for it.
    pub fn release_lease(&self, cfg: &LeaseConfig, epoch: u64) -> Result<(), StoreError> {
        let e = i64::try_from(epoch).map_err(|_| StoreError::Corrupt("a lease epoch beyond i64".into()))?;
        self.pool().with(|c| {
            c.execute(
                "UPDATE sequencer_lease SET expires_at = '-infinity' WHERE epoch = $1 AND holder = $2",
                &[&e, &cfg.holder],
            )
            .map(|_| ())
            .map_err(|e| StoreError::backend("release the lease", e))
        })
    }

    /// The current leader's advertised URL, when the lease is held.
    pub fn leader(&self) -> Result<Option<String>, StoreError> {
        let row = self.pool().with(|c| {
            c.query_opt(
                "SELECT leader_url FROM sequencer_lease WHERE expires_at > clock_timestamp()",
                &[],
            )
            .map_err(|e| StoreError::backend("read the lease", e))
        })?;
        Ok(row.and_then(|r| r.try_get::<_, Option<String>>(0).ok().flatten()))
    }
}

/// The thread that takes, renews and, at the end, releases the lease.
#[derive(Debug)]
pub struct LeaseTask {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LeaseTask {
    /// Stop taking part: release the lease if held, and wait for the thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for LeaseTask {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Take part in the lease on `store`, keeping `leadership` up to date.
pub fn spawn(store: Arc<PgStore>, leadership: Arc<Leadership>, cfg: LeaseConfig) -> std::io::Result<LeaseTask> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let thread = std::thread::Builder::new()
        .name("cairn-lease".into())
        .spawn(move || run(&store, &leadership, &cfg, &s))?;
    Ok(LeaseTask {
        stop,
        thread: Some(thread),
    })
}

fn run(store: &PgStore, leadership: &Leadership, cfg: &LeaseConfig, stop: &AtomicBool) {
    let every = renew_every(cfg.ttl);
    // The epoch held and until when, by this machine's clock.
    let mut held: Option<(u64, Instant)> = None;
    while !stop.load(Ordering::Acquire) {
        let sent = Instant::now();
        if let Some((_, until)) = held
            && sent >= until
        {
            tracing::warn!("the sequencer lease could not be renewed in time: stepping down");
            held = None;
            leadership.follow(None);
        }
        held = match held {
            Some((epoch, until)) => match store.renew_lease(cfg, epoch) {
                Ok(true) => {
                    leadership.lead(epoch, sent + cfg.ttl);
                    Some((epoch, sent + cfg.ttl))
                }
                Ok(false) => {
                    tracing::warn!(epoch, "the sequencer lease was taken over: this instance follows");
                    leadership.follow(store.leader().ok().flatten());
                    None
                }
                Err(e) => {
                    tracing::warn!(error = %e, epoch, "renewing the sequencer lease failed");
                    Some((epoch, until))
                }
            },
            None => match store.acquire_lease(cfg) {
                Ok(Some(epoch)) => {
                    tracing::info!(epoch, holder = %cfg.holder, "took the sequencer lease: this instance writes");
                    leadership.lead(epoch, sent + cfg.ttl);
                    Some((epoch, sent + cfg.ttl))
                }
                Ok(None) => {
                    leadership.follow(store.leader().ok().flatten());
                    None
                }
                Err(e) => {
                    tracing::debug!(error = %e, "taking the sequencer lease failed");
                    leadership.follow(None);
                    None
                }
            },
        };
        let next = sent + every;
        while !stop.load(Ordering::Acquire) {
            let now = Instant::now();
            if now >= next {
                break;
            }
            std::thread::sleep((next - now).min(Duration::from_millis(50)));
        }
    }
    leadership.follow(None);
    if let Some((epoch, _)) = held {
        match store.release_lease(cfg, epoch) {
            Ok(()) => tracing::info!(epoch, "released the sequencer lease"),
            Err(e) => tracing::warn!(error = %e, "releasing the sequencer lease failed; it expires by itself"),
        }
    }
}

#[cfg(test)]
#[path = "pg_lease_tests.rs"]
mod tests;
