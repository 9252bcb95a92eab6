//! Prometheus metrics (`GET /metrics`: Prometheus text 0.0.4, or
//! OpenMetrics 1.0 when asked for, [`exposition`]).
//!
//! - `cairn_decisions_total{gate, surface, decision}`: receipts logged
//!   (DENY and SILENCE rates are `rate()` over the `decision` label);
//! - `cairn_break_glass_total{gate}`: break-glass receipts logged;
//! - `cairn_append_seconds`: from the start of a batch's commit to its
//!   durable acknowledgement;
//! - `cairn_batch_entries`: entries per group commit;
//! - `cairn_queue_depth`: submissions waiting for the sequencer;
//! - `cairn_queue_wait_seconds`: how long the oldest submission of the
//!   last batch waited in the queue, 0 once the queue is empty (above
//!   `sequencer.max_queue_wait_ms`, new submissions are shed);
//! - `cairn_shed_total`: submissions answered 503 `busy` (queue wait,
//!   in-flight bound or full queue);
//! - `cairn_tree_size`: entries in the log;
//! - `cairn_sequencer_epoch`: the lease epoch this instance writes under
//!   (0 for a redb log's only writer, -1 on an instance that does not write);
//! - `cairn_query_index_entries`: entries the incident-query index covers
//!   (queries read the entries past it directly; the gap to
//!   `cairn_tree_size` is how far the index is behind);
//! - `cairn_witness_cosignatures_total{witness}`: cosignatures collected
//!   (and verified);
//! - `cairn_witness_refusals_total{witness, reason}`: rounds a witness did
//!   not cosign, by reason (`unreachable`, `invalid-answer`, `forbidden`,
//!   `unknown-log`, `inconsistent`, `fork`, `bad-request`, `other`);
//! - `cairn_witness_cosigned_size`: the size of the newest checkpoint
//!   whose cosignatures satisfy the quorum;
//! - `cairn_witness_lag_seconds`: how long the newest checkpoint has been
//!   waiting for a quorum of cosignatures (0 when it has one);
//! - `cairn_witness_cosigned_age_seconds`: how long ago the newest cosigned
//!   checkpoint was published (it grows on an idle log too: alert on the
//!   lag).

mod exposition;

pub use exposition::Exposition;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::{EntryRecord, Field};

type Labels = Vec<(String, String)>;

/// The ledger's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    decisions: Family<Labels, Counter>,
    break_glass: Family<Labels, Counter>,
    append_seconds: Histogram,
    batch_entries: Histogram,
    /// Submissions waiting for the sequencer.
    pub queue_depth: Gauge,
    tree_size: Gauge,
    query_indexed: Gauge,
    witness_cosignatures: Family<Labels, Counter>,
    witness_refusals: Family<Labels, Counter>,
    cosigned_size: Gauge,
    witness_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
    cosigned_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    late: Histogram,
    damaged: Gauge,
    queue_wait: Gauge<f64, std::sync::atomic::AtomicU64>,
    shed: Counter,
    sequencer_epoch: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Register every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let decisions = Family::<Labels, Counter>::default();
        let break_glass = Family::<Labels, Counter>::default();
        let append_seconds = Histogram::new(exponential_buckets(0.000_25, 2.0, 16));
        let batch_entries = Histogram::new(exponential_buckets(1.0, 2.0, 14));
        let queue_depth = Gauge::default();
        let tree_size = Gauge::default();
        registry.register(
            "cairn_decisions",
            "Receipts logged, by gate, surface and decision",
            decisions.clone(),
        );
        registry.register(
            "cairn_break_glass",
            "Break-glass receipts logged, by gate",
            break_glass.clone(),
        );
        registry.register(
            "cairn_append_seconds",
            "Commit to durable acknowledgement, per batch",
            append_seconds.clone(),
        );
        registry.register("cairn_batch_entries", "Entries per group commit", batch_entries.clone());
        registry.register(
            "cairn_queue_depth",
            "Submissions waiting for the sequencer",
            queue_depth.clone(),
        );
        registry.register("cairn_tree_size", "Entries in the log", tree_size.clone());
        let sequencer_epoch = Gauge::default();
        registry.register(
            "cairn_sequencer_epoch",
            "The sequencer lease epoch this instance writes under (0 for the only writer of a redb log; -1 when it does not write)",
            sequencer_epoch.clone(),
        );
        let query_indexed = Gauge::default();
        registry.register(
            "cairn_query_index_entries",
            "Entries the incident-query index covers (queries read the entries past it directly)",
            query_indexed.clone(),
        );
        let witness_cosignatures = Family::<Labels, Counter>::default();
        let witness_refusals = Family::<Labels, Counter>::default();
        let cosigned_size = Gauge::default();
        let witness_lag = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let cosigned_age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "cairn_witness_cosigned_age_seconds",
            "How long ago the newest checkpoint with a quorum of cosignatures was published",
            cosigned_age.clone(),
        );
        registry.register(
            "cairn_witness_cosignatures",
            "Cosignatures collected and verified, by witness",
            witness_cosignatures.clone(),
        );
        registry.register(
            "cairn_witness_refusals",
            "Rounds a witness did not cosign, by witness and reason",
            witness_refusals.clone(),
        );
        registry.register(
            "cairn_witness_cosigned_size",
            "Size of the newest checkpoint with a quorum of cosignatures",
            cosigned_size.clone(),
        );
        registry.register(
            "cairn_witness_lag_seconds",
            "How long the newest checkpoint has waited for a quorum of cosignatures (0: it has one)",
            witness_lag.clone(),
        );
        // From the skew window (5 min) to the default lateness bound (30 d).
        let late = Histogram::new(exponential_buckets(300.0, 4.0, 9));
        registry.register(
            "cairn_late_receipts_delay_seconds",
            "Receipts logged late (decided more than the clock skew before they were integrated), by delay",
            late.clone(),
        );
        let damaged = Gauge::default();
        registry.register(
            "cairn_damaged_entries",
            "Stored entries found not to match their leaf hash (writes stop at the first)",
            damaged.clone(),
        );
        let queue_wait = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "cairn_queue_wait_seconds",
            "How long the oldest submission of the last batch waited in the queue",
            queue_wait.clone(),
        );
        let shed = Counter::default();
        registry.register(
            "cairn_shed",
            "Submissions answered 503 busy (queue wait, in-flight bound or full queue)",
            shed.clone(),
        );
        Metrics {
            queue_wait,
            shed,
            damaged,
            late,
            registry,
            decisions,
            break_glass,
            append_seconds,
            batch_entries,
            queue_depth,
            tree_size,
            sequencer_epoch,
            query_indexed,
            witness_cosignatures,
            witness_refusals,
            cosigned_size,
            witness_lag,
            cosigned_age,
        }
    }

    /// The queue wait of the last batch taken.
    pub fn set_queue_wait(&self, waited: std::time::Duration) {
        self.queue_wait.set(waited.as_secs_f64());
    }

    /// A submission was shed.
    pub fn shed(&self) {
        self.shed.inc();
    }

    /// How long ago the newest cosigned checkpoint was published.
    pub fn set_cosigned_age(&self, seconds: f64) {
        self.cosigned_age.set(seconds);
    }

    /// A witness's cosignature was collected.
    pub fn witness_cosigned(&self, witness: &str) {
        self.witness_cosignatures
            .get_or_create(&vec![("witness".into(), witness.to_owned())])
            .inc();
    }

    /// A witness did not cosign, for `reason`.
    pub fn witness_refused(&self, witness: &str, reason: &str) {
        self.witness_refusals
            .get_or_create(&vec![
                ("witness".into(), witness.to_owned()),
                ("reason".into(), reason.to_owned()),
            ])
            .inc();
    }

    /// The newest checkpoint with a quorum of cosignatures.
    pub fn set_cosigned_size(&self, size: u64) {
        self.cosigned_size.set(i64::try_from(size).unwrap_or(i64::MAX));
    }

    /// How long the newest checkpoint has waited for a quorum.
    pub fn set_witness_lag(&self, seconds: f64) {
        self.witness_lag.set(seconds);
    }

    /// How many damaged entries reads have found.
    pub fn set_damaged(&self, n: u64) {
        self.damaged.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// A receipt was logged `ms` after it was decided (more than the skew).
    pub fn late_receipt(&self, ms: u64) {
        self.late.observe(ms as f64 / 1000.0);
    }

    /// Record a durably committed batch.
    pub fn committed(&self, records: &[EntryRecord], seconds: f64, tree_size: u64) {
        self.append_seconds.observe(seconds);
        self.batch_entries.observe(records.len() as f64);
        self.tree_size.set(i64::try_from(tree_size).unwrap_or(i64::MAX));
        for r in records.iter().filter_map(|r| r.receipt.as_ref()) {
            let get = |f: Field| {
                r.fields
                    .iter()
                    .find(|(k, _)| *k == f)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let gate = get(Field::Gate);
            self.decisions
                .get_or_create(&vec![
                    ("gate".into(), gate.clone()),
                    ("surface".into(), get(Field::Surface)),
                    ("decision".into(), get(Field::Decision)),
                ])
                .inc();
            if r.break_glass {
                self.break_glass.get_or_create(&vec![("gate".into(), gate)]).inc();
            }
        }
    }

    /// Set how many entries the query index covers.
    pub fn set_query_indexed(&self, size: u64) {
        self.query_indexed.set(i64::try_from(size).unwrap_or(i64::MAX));
    }

    /// Set the sequencer epoch this instance writes under (`None`: it
    /// does not write).
    pub fn set_sequencer_epoch(&self, epoch: Option<u64>) {
        self.sequencer_epoch
            .set(epoch.map_or(-1, |e| i64::try_from(e).unwrap_or(i64::MAX)));
    }

    /// Set the tree size (at start-up).
    pub fn set_tree_size(&self, size: u64) {
        self.tree_size.set(i64::try_from(size).unwrap_or(i64::MAX));
    }

    /// The exposition in OpenMetrics 1.0 ([`Exposition::render`] gives
    /// the other format).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
