//! The follower: one thread that brings the query index up to the log.
//!
//! After each durable commit the sequencer offers the batch's index rows
//! ([`IndexFeed::offer`], never waiting: when the follower is behind, the
//! offer is dropped). The follower applies rows that continue its cursor;
//! for a gap (a dropped offer, a restart, a rebuilt index) it reads the
//! committed entries from the store and derives their rows itself. It
//! commits without waiting for the disk and makes the index durable every
//! [`FLUSH_EVERY`] and when it stops.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use cairn_api::entry::{Entry, EntryKind};
use cairn_api::merkle::{Hash, MerkleHasher, Sha256};

use super::{QueryIndex, Rows};
use crate::store::{ReceiptIndex, Store, StoreError};

/// Batches the feed holds before offers are dropped (the follower then
/// reads those entries back from the store).
pub const FEED_BATCHES: usize = 1024;
/// How often the follower looks at the store's size when no offer comes.
pub const POLL: Duration = Duration::from_millis(200);
/// How often index commits are made durable.
pub const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// Entries read from the store and indexed per transaction when catching up.
pub const CATCH_UP_CHUNK: u64 = 1024;
/// How long the follower waits before reading the entries again after a
/// read or a write failed (a damaged entry, a full disk).
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// The rows of committed entries `first..`, offered after their commit.
#[derive(Debug)]
pub struct IndexBatch {
    /// The first entry's index.
    pub first: u64,
    /// One per entry, in order.
    pub rows: Vec<Rows>,
    /// The last entry's leaf hash.
    pub tip: Hash,
}

/// The sequencer's end of the feed.
#[derive(Debug, Clone)]
pub struct IndexFeed(SyncSender<IndexBatch>);

impl IndexFeed {
    /// Offer a committed batch's rows; never waits.
    pub fn offer(&self, batch: IndexBatch) {
        match self.0.try_send(batch) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(b)) => {
                tracing::debug!(
                    first = b.first,
                    "the query index is behind: it will read these entries back"
                );
            }
        }
    }
}

/// The running follower.
#[derive(Debug)]
pub struct Follower {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Follower {
    /// Stop it: it makes what it indexed durable and ends. Waits for it.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// The follower's end of the feed, before it runs.
#[derive(Debug)]
pub struct FeedReceiver(Receiver<IndexBatch>);

/// A feed: the sequencer offers on one end, the follower reads the other.
pub fn feed() -> (IndexFeed, FeedReceiver) {
    let (tx, rx) = std::sync::mpsc::sync_channel(FEED_BATCHES);
    (IndexFeed(tx), FeedReceiver(rx))
}

/// Start the follower of `store` into `index`, fed by `rx`. It holds the
/// store weakly: once the ledger dropped it, the follower ends.
pub fn spawn(
    rx: FeedReceiver,
    index: Arc<QueryIndex>,
    store: &Arc<dyn Store>,
    metrics: Arc<crate::metrics::Metrics>,
) -> std::io::Result<Follower> {
    let stop = Arc::new(AtomicBool::new(false));
    metrics.set_query_indexed(index.indexed());
    let run = Run {
        index,
        store: Arc::downgrade(store),
        metrics,
        stop: stop.clone(),
        dirty_since: None,
        retry_at: None,
    };
    let thread = std::thread::Builder::new()
        .name("cairn-query-index".into())
        .spawn(move || run.run(&rx.0))?;
    Ok(Follower {
        stop,
        thread: Some(thread),
    })
}

struct Run {
    index: Arc<QueryIndex>,
    store: Weak<dyn Store>,
    metrics: Arc<crate::metrics::Metrics>,
    stop: Arc<AtomicBool>,
    /// The first commit not yet made durable.
    dirty_since: Option<Instant>,
    /// After a failure: when to try again.
    retry_at: Option<Instant>,
}

impl Run {
    fn run(mut self, rx: &Receiver<IndexBatch>) {
        self.catch_up(None);
        while !self.stop.load(Ordering::Acquire) {
            match rx.recv_timeout(POLL) {
                Ok(batch) => self.take(batch),
                Err(RecvTimeoutError::Timeout) => self.catch_up(None),
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.dirty_since.is_some_and(|t| t.elapsed() >= FLUSH_EVERY) {
                self.flush();
            }
        }
        if self.dirty_since.is_some() {
            self.flush();
        }
    }

    /// Apply an offered batch, after reading back any gap before it.
    fn take(&mut self, batch: IndexBatch) {
        if batch.first > self.index.indexed() {
            self.catch_up(Some(batch.first));
        }
        let at = self.index.indexed();
        let end = batch.first + batch.rows.len() as u64;
        if at < batch.first || at >= end {
            return;
        }
        let skip = usize::try_from(at - batch.first).unwrap_or(usize::MAX);
        let rows = batch.rows.get(skip..).unwrap_or_default();
        self.apply(at, rows, &batch.tip);
    }

    /// Derive and apply the rows of the committed entries from the cursor
    /// up to `to` (the store's size when `None`).
    fn catch_up(&mut self, to: Option<u64>) {
        if self.retry_at.is_some_and(|t| Instant::now() < t) {
            return;
        }
        let Some(store) = self.store.upgrade() else {
            self.stop.store(true, Ordering::Release);
            return;
        };
        let to = match to {
            Some(t) => t,
            None => match store.size() {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "the query index cannot read the log's size");
                    return;
                }
            },
        };
        while !self.stop.load(Ordering::Acquire) {
            let from = self.index.indexed();
            if from >= to {
                return;
            }
            let end = to.min(from.saturating_add(CATCH_UP_CHUNK));
            let (rows, tip) = match rows_of(store.as_ref(), from, end) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, from, "the query index cannot read the entries it indexes; queries read the entries past it");
                    self.retry_at = Some(Instant::now() + RETRY_AFTER);
                    return;
                }
            };
            if !self.apply(from, &rows, &tip) {
                return;
            }
        }
    }

    fn apply(&mut self, first: u64, rows: &[Rows], tip: &Hash) -> bool {
        match self.index.apply(first, rows, tip, false) {
            Ok(()) => {
                self.retry_at = None;
                self.dirty_since.get_or_insert_with(Instant::now);
                self.metrics.set_query_indexed(self.index.indexed());
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, first, "the query index could not be written; queries read the entries past it");
                self.retry_at = Some(Instant::now() + RETRY_AFTER);
                false
            }
        }
    }

    fn flush(&mut self) {
        match self.index.flush() {
            Ok(()) => self.dirty_since = None,
            Err(e) => tracing::warn!(error = %e, "the query index could not be made durable"),
        }
    }
}

/// The index rows of committed entries `from..to` (not empty), derived
/// from their bytes, and the last one's leaf hash. An entry that does not
/// decode has none (fsck reports it).
pub fn rows_of(store: &dyn Store, from: u64, to: u64) -> Result<(Vec<Rows>, Hash), StoreError> {
    let mut rows = Vec::new();
    let mut tip = None;
    for i in from..to {
        let bytes = store
            .entry(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("entry {i} is missing")))?;
        rows.push(rows_of_entry(&bytes));
        tip = Some(Sha256::hash_leaf(&bytes));
    }
    let tip = tip.ok_or_else(|| StoreError::Corrupt(format!("no entries {from}..{to} to index")))?;
    Ok((rows, tip))
}

/// The index rows of one entry.
pub fn rows_of_entry(bytes: &[u8]) -> Rows {
    let entry = Entry::from_cbor(bytes).ok()?;
    if entry.kind() != EntryKind::Receipt {
        return None;
    }
    let signed = entry.receipt().ok()?;
    Some(ReceiptIndex::of(signed.unverified().parts()))
}
