//! The sequencer: one task owns every write.
//!
//! Submitters (HTTP handlers) run [`admission`] on their own core — COSE
//! parse, the gate's signature under the registered key ([`keys`]), the
//! policy bundle being archived, idempotent resubmission — and hand the
//! entry to the single writer ([`writer`]) over a bounded channel; a full
//! channel is [`SubmitError::Busy`] (503 with Retry-After), never
//! unbounded memory. The writer gathers a batch, re-checks key state and
//! duplicates in log order, integrates the batch into the tree, signs a
//! checkpoint, commits everything in one durable transaction, and only
//! then answers each submitter with its index, checkpoint and inclusion
//! proof. A failed commit answers every submitter in the batch with an
//! error and reloads the log state from the store, so nothing is
//! acknowledged that is not durable, and a retry after an unknown outcome
//! finds the original.

pub mod admission;
mod bundles;
mod error;
pub mod keys;
pub mod queue_wait;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use cairn_api::entry::{Entry, EntryKind, KeyStatement};
use cairn_api::keys::{SignerKey, VerifierKey};
use cairn_api::merkle::Hash;
use cairn_api::proof::{TlogProof, entry_header};
use cairn_api::receipt::SignedReceipt;
use cairn_api::timestamp::Timestamp;
use tokio::sync::{mpsc, oneshot};

pub use error::SubmitError;
pub use keys::KeyRegistry;

use bundles::BundleNames;

use crate::store::{EntryRecord, Store, StoreError};

/// The default bound on lateness: 30 days.
pub const DEFAULT_MAX_LATENESS: Duration = Duration::from_secs(30 * 86_400);

/// How late a receipt decided at `decided_at` (ms) and integrated at
/// `integrated_at` was logged, when that is more than `skew` (docs/spec.md 20.1).
pub fn late_by_ms(integrated_at: Timestamp, decided_at: u64, skew: Duration) -> Option<u64> {
    let late = integrated_at.millis().checked_sub(decided_at)?;
    (u128::from(late) > skew.as_millis()).then_some(late)
}

/// Tuning of the sequencer.
#[derive(Debug, Clone)]
pub struct SequencerConfig {
    /// Most entries in one group commit.
    pub max_batch: usize,
    /// Longest a batch waits for more entries after its first (0: take
    /// what is queued; arrivals during a commit form the next batch).
    pub max_wait: Duration,
    /// Capacity of the submission queue.
    pub queue: usize,
    /// Largest accepted lead of a receipt's `decided_at` over the ledger's
    /// clock; a receipt older than this is accepted and marked late.
    pub max_clock_skew: Duration,
    /// Largest accepted age of a receipt's `decided_at` (evidence held back
    /// by an outage arrives late; beyond this it is refused `too-late`).
    pub max_lateness: Duration,
    /// Longest a submission may wait in the queue before new ones are shed
    /// ([`queue_wait`]; zero: only the queue's capacity sheds).
    pub max_queue_wait: Duration,
    /// The clock admission reads (the system clock unless a test injects one).
    pub clock: crate::clock::Clock,
    /// Per-gate rate limit (`None`: none).
    pub gate_rate: Option<crate::ratelimit::GateRate>,
    /// The sequencer role among instances sharing one database (`None`:
    /// this process is the only writer).
    pub leadership: Option<Arc<crate::leadership::Leadership>>,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig {
            max_batch: 512,
            max_wait: Duration::from_micros(0),
            queue: 8192,
            max_clock_skew: Duration::from_secs(300),
            max_lateness: DEFAULT_MAX_LATENESS,
            max_queue_wait: queue_wait::DEFAULT_MAX_QUEUE_WAIT,
            clock: crate::clock::Clock::system(),
            gate_rate: None,
            leadership: None,
        }
    }
}

/// A durable acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The entry's index.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The entry's type.
    pub kind: EntryKind,
    /// When it was integrated.
    pub integrated_at: Timestamp,
    /// The tree size of the checkpoint.
    pub size: u64,
    /// The signed checkpoint (note text).
    pub checkpoint: String,
    /// Inclusion proof at `size`.
    pub proof: Vec<Hash>,
    /// True when this is the original answer to a resubmission.
    pub existing: bool,
    /// For a receipt logged late: `integrated_at` − `decided_at` in ms.
    pub late_by_ms: Option<u64>,
}

impl Ack {
    /// The C2SP tlog-proof for this entry.
    pub fn tlog_proof(&self) -> Result<TlogProof, SubmitError> {
        Ok(TlogProof {
            extra: Some(entry_header(self.kind, self.integrated_at)),
            index: self.index,
            hashes: self.proof.clone(),
            checkpoint: cairn_api::note::SignedNote::parse(self.checkpoint.as_bytes())
                .map_err(SubmitError::Checkpoint)?,
        })
    }

    /// The acknowledgement as the HTTP API sends it (the tlog-proof
    /// rendered from the checkpoint text, not parsed again).
    pub fn to_wire(&self) -> cairn_api::wire::Ack {
        let extra = entry_header(self.kind, self.integrated_at);
        cairn_api::wire::Ack {
            index: self.index,
            leaf_hash: self.leaf_hash,
            size: self.size,
            checkpoint: self.checkpoint.clone(),
            inclusion_proof: self.proof.clone(),
            tlog_proof: cairn_api::proof::proof_text(Some(&extra), self.index, &self.proof, &self.checkpoint),
            existing: self.existing,
            late_by_ms: self.late_by_ms,
        }
    }
}

/// One queued entry and where its answer goes.
struct Job {
    entry: Entry,
    record: EntryRecord,
    /// For receipts: the gate key reference, checked again at batch time.
    gate_key: Option<String>,
    /// For break-glass receipts: the operator key reference, checked again
    /// at batch time.
    operator_key: Option<String>,
    reply: oneshot::Sender<Result<Ack, SubmitError>>,
    /// When it was queued.
    queued_at: std::time::Instant,
}

/// Shared between submitters and the writer task.
struct Shared {
    limiter: crate::ratelimit::RateLimiter,
    store: Arc<dyn Store>,
    metrics: Arc<crate::metrics::Metrics>,
    keys: KeyRegistry,
    bundles: BundleNames,
    authorities: Vec<VerifierKey>,
    config: SequencerConfig,
    queue_wait: queue_wait::QueueWait,
    /// Where committed batches' query-index rows are offered.
    index_feed: Option<crate::query_index::follower::IndexFeed>,
    /// The lease epoch the key registry was last read from the store
    /// under (with a [`crate::leadership::Leadership`]): an instance that
    /// takes the lease over reads the key history again before it admits
    /// anything, since another instance wrote in between.
    keys_epoch: tokio::sync::Mutex<Option<u64>>,
    /// The same epoch, read without the lock on the admission path
    /// (`u64::MAX`: none yet).
    keys_epoch_seen: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// Bring the key registry up to the store's before writing under `epoch`.
    async fn sync_keys(&self, epoch: u64) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if self.keys_epoch_seen.load(Ordering::Acquire) == epoch {
            return Ok(());
        }
        let mut synced = self.keys_epoch.lock().await;
        if *synced != Some(epoch) {
            let store = self.store.clone();
            let events = blocking(move || store.key_events()).await?;
            self.keys.reset(events.iter().map(|(_, e)| e));
            *synced = Some(epoch);
            self.keys_epoch_seen.store(epoch, Ordering::Release);
        }
        Ok(())
    }
}

/// The handle submitters use.
#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Sequencer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequencer").finish_non_exhaustive()
    }
}

/// Run a storage call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::backend("blocking task", e)))
}

impl Sequencer {
    /// Start the writer task on the current runtime. `authorities` may
    /// register keys and publish bundles; `log_key` signs checkpoints.
    /// Prefer [`crate::start::Ledger::start`], which builds the rest too.
    pub async fn start(
        store: Arc<dyn Store>,
        log_key: SignerKey,
        authorities: Vec<VerifierKey>,
        config: SequencerConfig,
        index_feed: Option<crate::query_index::follower::IndexFeed>,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), StoreError> {
        let s = store.clone();
        let (state, events) = blocking(move || Ok((s.state()?, s.key_events()?))).await?;
        let metrics = Arc::new(crate::metrics::Metrics::new());
        metrics.set_tree_size(state.frontier.size());
        tracing::info!(
            size = state.frontier.size(),
            key_events = events.len(),
            origin = log_key.name(),
            "sequencer started"
        );
        let shared = Arc::new(Shared {
            limiter: crate::ratelimit::RateLimiter::new(config.gate_rate),
            store,
            metrics,
            keys: KeyRegistry::from_events(events.iter().map(|(_, e)| e)),
            bundles: BundleNames::default(),
            authorities,
            config: config.clone(),
            queue_wait: queue_wait::QueueWait::default(),
            index_feed,
            keys_epoch: tokio::sync::Mutex::new(None),
            keys_epoch_seen: std::sync::atomic::AtomicU64::new(u64::MAX),
        });
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let task = tokio::spawn(writer::run(shared.clone(), state, log_key, rx));
        Ok((Sequencer { tx, shared }, task))
    }

    /// The ledger's metrics, with the queue depth brought up to date.
    pub fn metrics(&self) -> Arc<crate::metrics::Metrics> {
        let waiting = self.tx.max_capacity() - self.tx.capacity();
        self.shared
            .metrics
            .queue_depth
            .set(i64::try_from(waiting).unwrap_or(i64::MAX));
        let epoch = match &self.shared.config.leadership {
            None => Some(0),
            Some(l) => l.epoch(),
        };
        self.shared.metrics.set_sequencer_epoch(epoch);
        self.shared.metrics.clone()
    }

    /// Refuse a new submission with [`SubmitError::Busy`] while the queue
    /// is over its wait bound ([`queue_wait`]); called before its body is
    /// read.
    pub fn check_queue_wait(&self) -> Result<(), SubmitError> {
        let depth = self.tx.max_capacity() - self.tx.capacity();
        if self.shared.queue_wait.shed(depth, self.shared.config.max_queue_wait) {
            return Err(SubmitError::Busy);
        }
        Ok(())
    }

    /// The ledger's metrics, without updating any.
    pub fn metrics_handle(&self) -> &crate::metrics::Metrics {
        &self.shared.metrics
    }

    /// The current key state of a key reference, for read APIs.
    pub fn key_registered(&self, key_ref: &str) -> Option<bool> {
        self.shared.keys.registered(key_ref)
    }

    /// Submit a gate-signed receipt (COSE_Sign1 bytes). The order of the
    /// checks is docs/spec.md 20.1: the signature, then the original of a
    /// retry (answered whenever it comes, whatever the clock or the key's
    /// state now), then the key's state, the break-glass block, the clock
    /// and the archived policy.
    pub async fn submit_receipt(&self, body: Vec<u8>) -> Result<Ack, SubmitError> {
        self.admit_here().await?;
        let signed = SignedReceipt::parse(&body)?;
        let kid = signed.kid().to_owned();
        let key = self.shared.keys.signing_key(&kid)?;
        self.shared
            .limiter
            .check(&kid, std::time::Instant::now())
            .map_err(|retry_after| SubmitError::RateLimited { retry_after })?;
        let receipt = signed.verify(&key)?;
        let bundle_hash = receipt.parts().policy.bundle_hash;
        // The common case reads nothing from the store here: the bundle's
        // manifest is in memory and every check passes, and the writer
        // finds a retry's original when it checks the batch for
        // duplicates. A store read on this task happens only for a bundle
        // not seen yet, or a refusal, which the original of a retry
        // overrides (docs/spec.md 20.1).
        let fast = self
            .shared
            .bundles
            .get(&bundle_hash)
            .map(|m| self.check_receipt(&kid, receipt, &m));
        let (operator_key, now) = match fast {
            Some(Ok(admitted)) => admitted,
            other => {
                // A refusal, or a bundle not in memory yet (`None`).
                let refusal = match other {
                    Some(Err(e)) => Some(e),
                    _ => None,
                };
                let store = self.shared.store.clone();
                let p = receipt.parts();
                let (gate, idem) = (p.gate.clone(), p.idempotency_key.clone());
                let look_up = refusal.is_none();
                let (by_key, archived_at) = blocking(move || {
                    let by_key = store.index_of_idempotency(&gate, &idem)?;
                    let at = if look_up && by_key.is_none() {
                        store.bundle_index(&bundle_hash)?
                    } else {
                        None
                    };
                    Ok((by_key, at))
                })
                .await?;
                if let Some(index) = by_key {
                    return self.existing(index).await;
                }
                if let Some(e) = refusal {
                    return Err(e);
                }
                match archived_at {
                    None => return Err(SubmitError::UnarchivedPolicy(bundle_hash)),
                    Some(at) => {
                        let store = self.shared.store.clone();
                        let m = blocking(move || bundles::read_manifest(store.as_ref(), at)).await?;
                        self.shared.bundles.insert(bundle_hash, m.clone());
                        self.check_receipt(&kid, receipt, &m)?
                    }
                }
            }
        };
        let entry = Entry::new(EntryKind::Receipt, now, body)?;
        let record = EntryRecord::for_receipt(&entry, receipt.parts());
        self.enqueue(entry, record, Some(kid), operator_key).await
    }

    /// The checks after the signature and the original of a retry, in the
    /// order of docs/spec.md 20.1: the key's state, the break-glass block,
    /// the clock and the archived policy (`manifest`, the bundle the
    /// receipt's hash names). Returns the operator key to re-check at
    /// batch time and the time of integration.
    fn check_receipt(
        &self,
        kid: &str,
        receipt: &cairn_api::receipt::Receipt,
        manifest: &cairn_api::policy::Manifest,
    ) -> Result<(Option<String>, Timestamp), SubmitError> {
        let p = receipt.parts();
        self.shared.keys.gate_key(kid)?;
        let operator_key = match &p.break_glass {
            None => None,
            Some(bg) => {
                let op = self.shared.keys.operator_key(&bg.operator);
                receipt.check_break_glass(op.as_ref())?;
                Some(bg.operator.clone())
            }
        };
        let now = self.shared.config.clock.now();
        let late = admission::check_clock(
            p.decided_at,
            now,
            self.shared.config.max_clock_skew,
            self.shared.config.max_lateness,
        )?;
        if let Some(late) = late {
            tracing::debug!(late_s = late.as_secs(), gate = %kid, "a late receipt (held back by an outage?)");
        }
        cairn_api::policy::check_policy_ref(&p.policy, manifest)?;
        Ok((operator_key, now))
    }

    /// Submit an authority-signed key statement (COSE_Sign1 bytes).
    pub async fn submit_key(&self, body: Vec<u8>) -> Result<Ack, SubmitError> {
        self.admit_here().await?;
        let entry = Entry::new(EntryKind::Key, self.shared.config.clock.now(), body)?;
        let msg = entry.sign1()?;
        admission::check_authority(&self.shared.authorities, &msg)?;
        KeyStatement::from_cbor(msg.payload())?;
        let record = EntryRecord::from_entry(&entry)?;
        self.enqueue(entry, record, None, None).await
    }

    /// Submit an authority-signed policy bundle (COSE_Sign1 bytes). The
    /// bundle must compile for an engine cairn replays exactly.
    pub async fn submit_policy(&self, body: Vec<u8>) -> Result<Ack, SubmitError> {
        self.admit_here().await?;
        let entry = Entry::new(EntryKind::Policy, self.shared.config.clock.now(), body)?;
        let msg = entry.sign1()?;
        admission::check_authority(&self.shared.authorities, &msg)?;
        let bundle = admission::check_bundle(msg.payload())?;
        let store = self.shared.store.clone();
        let hash = bundle.hash();
        if let Some(index) = blocking(move || store.bundle_index(&hash)).await? {
            return self.existing(index).await;
        }
        let record = EntryRecord::for_bundle(&entry, hash);
        self.enqueue(entry, record, None, None).await
    }

    /// Refuse a write with [`SubmitError::NotLeader`] on an instance that
    /// does not hold the sequencer lease.
    pub fn check_leader(&self) -> Result<(), SubmitError> {
        match &self.shared.config.leadership {
            Some(l) if l.epoch().is_none() => Err(SubmitError::NotLeader {
                leader: l.leader_hint(),
            }),
            _ => Ok(()),
        }
    }

    /// Before admission: refuse on an instance that does not write, and
    /// on one that writes, read the key history again if it (re)took the
    /// lease since it last did.
    async fn admit_here(&self) -> Result<(), SubmitError> {
        if let Some(l) = &self.shared.config.leadership {
            let epoch = l.epoch().ok_or_else(|| SubmitError::NotLeader {
                leader: l.leader_hint(),
            })?;
            self.shared.sync_keys(epoch).await?;
        }
        Ok(())
    }

    async fn enqueue(
        &self,
        entry: Entry,
        record: EntryRecord,
        gate_key: Option<String>,
        operator_key: Option<String>,
    ) -> Result<Ack, SubmitError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            entry,
            record,
            gate_key,
            operator_key,
            reply,
            queued_at: std::time::Instant::now(),
        };
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.shared.metrics.shed();
                return Err(SubmitError::Busy);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(SubmitError::ShuttingDown),
        }
        rx.await.map_err(|_| SubmitError::ShuttingDown)?
    }

    /// The acknowledgement of an entry already in the log, proven under the
    /// latest checkpoint.
    pub async fn existing(&self, index: u64) -> Result<Ack, SubmitError> {
        Ok(writer::existing_ack(self.shared.store.clone(), index, self.shared.config.max_clock_skew).await?)
    }
}
