//! The sequencer: one task owns every write.
//!
//! Submitters (HTTP handlers) check what they can on their own core — COSE
//! parse, the gate's signature under the registered key, the policy bundle
//! being archived, idempotent resubmission — and hand the entry to the
//! sequencer over a bounded channel; a full channel is [`SubmitError::Busy`]
//! (503 with Retry-After), never unbounded memory. The sequencer gathers a
//! batch (up to `max_batch` entries or `max_wait`), re-checks key state and
//! duplicates in log order, integrates the batch into the tree, signs a
//! checkpoint, commits everything in one durable transaction, and only then
//! answers each submitter with its index, checkpoint and inclusion proof. A
//! failed commit answers every submitter in the batch with an error and
//! reloads the log state from the store, so nothing is acknowledged that is
//! not durable, and a retry after an unknown outcome finds the original.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_api::cose::CoseError;
use cairn_api::entry::{Entry, EntryError, EntryKind, KeyStatement};
use cairn_api::keys::{SignerKey, VerifierKey};
use cairn_api::merkle::{Blake3, Hash, inclusion_proof};
use cairn_api::policy::{Bundle, BundleError, Policy, PolicyError};
use cairn_api::proof::{TlogProof, entry_header};
use cairn_api::receipt::{ReceiptError, SignedReceipt};
use cairn_api::timestamp::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::store::{BatchNodes, CommitBatch, EntryRecord, LogState, RecordError, Store, StoreError, prefetched};

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
    /// Largest accepted distance between a receipt's `decided_at` and the
    /// ledger's clock.
    pub max_clock_skew: Duration,
    /// Per-gate rate limit (`None`: none).
    pub gate_rate: Option<crate::ratelimit::GateRate>,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig {
            max_batch: 512,
            max_wait: Duration::from_micros(0),
            queue: 8192,
            max_clock_skew: Duration::from_secs(300),
            gate_rate: None,
        }
    }
}

/// A submission was refused or could not be made durable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The receipt is malformed, non-canonical or invalid (client's fault).
    #[error("receipt: {0}")]
    Receipt(#[from] ReceiptError),
    /// The entry body is malformed (client's fault).
    #[error("entry: {0}")]
    Entry(#[from] EntryError),
    /// A key or policy submission is not signed by a configured authority (client's fault).
    #[error("not signed by a configured authority key: {0}")]
    NotAuthority(String),
    /// The gate key is not registered in the log (client's fault).
    #[error("gate key {0} is not registered")]
    UnknownKey(String),
    /// The gate key was revoked (client's fault).
    #[error("gate key {0} is revoked")]
    RevokedKey(String),
    /// The key is registered for another role (client's fault).
    #[error("key {0} is not registered as a gate key")]
    WrongRole(String),
    /// The receipt names a policy bundle the log does not archive (client's fault).
    #[error("policy bundle {0} is not archived in this log")]
    UnarchivedPolicy(Hash),
    /// A policy submission is not a bundle cairn can replay (client's fault).
    #[error("policy bundle: {0}")]
    Bundle(String),
    /// `decided_at` is too far from the ledger's clock (client's fault).
    #[error("decided_at {decided_at} is more than {skew_s} s from the ledger's clock {now}")]
    ClockSkew {
        /// The receipt's time.
        decided_at: Timestamp,
        /// The ledger's time.
        now: Timestamp,
        /// The configured limit.
        skew_s: u64,
    },
    /// The queue is full: retry later (503 with Retry-After).
    #[error("the ledger is busy; retry later")]
    Busy,
    /// The ledger is shutting down.
    #[error("the ledger is shutting down")]
    ShuttingDown,
    /// The gate is over its rate (client's fault): retry after the wait.
    #[error("rate limit: retry after {} ms", retry_after.as_millis())]
    RateLimited {
        /// How long until the gate may submit again.
        retry_after: Duration,
    },
    /// Storage failed; nothing was acknowledged (server's fault).
    #[error("storage: {0}")]
    Storage(#[from] StoreError),
    /// The batch could not be made durable; nothing in it was acknowledged
    /// (server's fault; a retry is safe and idempotent).
    #[error("not acknowledged, storage failed: {0}")]
    NotDurable(String),
    /// Signing the checkpoint failed (server's fault).
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

impl From<RecordError> for SubmitError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Entry(e) => SubmitError::Entry(e),
            other => SubmitError::Bundle(other.to_string()),
        }
    }
}

impl From<CoseError> for SubmitError {
    fn from(e: CoseError) -> Self {
        SubmitError::Entry(EntryError::Body(e))
    }
}

/// A durable acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The entry's index.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The entry's type and integration time.
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
}

impl Ack {
    /// The C2SP tlog-proof for this entry.
    pub fn tlog_proof(&self) -> Result<TlogProof, SubmitError> {
        Ok(TlogProof {
            extra: Some(entry_header(self.kind, self.integrated_at)),
            index: self.index,
            hashes: self.proof.clone(),
            checkpoint: cairn_api::note::SignedNote::parse(self.checkpoint.as_bytes())
                .map_err(|e| SubmitError::Checkpoint(e.to_string()))?,
        })
    }
}

/// What the log says about a key.
#[derive(Debug, Clone)]
struct KeyState {
    key: VerifierKey,
    role: String,
    registered: bool,
}

struct Job {
    entry: Entry,
    record: EntryRecord,
    /// For receipts: the gate key reference, checked again at batch time.
    gate_key: Option<String>,
    reply: oneshot::Sender<Result<Ack, SubmitError>>,
}

/// Shared between submitters and the sequencer task.
struct Shared {
    limiter: crate::ratelimit::RateLimiter,
    store: Arc<dyn Store>,
    metrics: Arc<crate::metrics::Metrics>,
    keys: RwLock<HashMap<String, KeyState>>,
    authorities: Vec<VerifierKey>,
    config: SequencerConfig,
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

fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp::from_millis(u64::try_from(ms).unwrap_or(0)).unwrap_or_else(|_| {
        Timestamp::from_millis(cairn_api::timestamp::MAX_TIMESTAMP_MS).unwrap_or_else(|_| unreachable!())
    })
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, SubmitError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(SubmitError::ShuttingDown),
    }
}

impl Sequencer {
    /// Start the sequencer task on the current runtime. `authorities` may
    /// register keys and publish bundles; `log_key` signs checkpoints.
    pub async fn start(
        store: Arc<dyn Store>,
        log_key: SignerKey,
        authorities: Vec<VerifierKey>,
        config: SequencerConfig,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), SubmitError> {
        let s = store.clone();
        let (state, events) = blocking(move || Ok((s.state()?, s.key_events()?))).await?;
        let mut keys = HashMap::new();
        for (_, e) in events {
            apply_key_event(&mut keys, &e.vkey, &e.role, e.registered);
        }
        let metrics = Arc::new(crate::metrics::Metrics::new());
        metrics.set_tree_size(state.frontier.size());
        let shared = Arc::new(Shared {
            limiter: crate::ratelimit::RateLimiter::new(config.gate_rate),
            store,
            metrics,
            keys: RwLock::new(keys),
            authorities,
            config: config.clone(),
        });
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let task = tokio::spawn(run(shared.clone(), state, log_key, rx));
        Ok((Sequencer { tx, shared }, task))
    }

    /// The ledger's metrics, with the queue depth brought up to date.
    pub fn metrics(&self) -> Arc<crate::metrics::Metrics> {
        let waiting = self.tx.max_capacity() - self.tx.capacity();
        self.shared
            .metrics
            .queue_depth
            .set(i64::try_from(waiting).unwrap_or(i64::MAX));
        self.shared.metrics.clone()
    }

    /// The current key state of a key reference, for read APIs.
    pub fn key_registered(&self, key_ref: &str) -> Option<bool> {
        read(&self.shared.keys).get(key_ref).map(|k| k.registered)
    }

    /// Submit a gate-signed receipt (COSE_Sign1 bytes).
    pub async fn submit_receipt(&self, body: Vec<u8>) -> Result<Ack, SubmitError> {
        let signed = SignedReceipt::parse(&body)?;
        let kid = signed.kid().to_owned();
        let key = {
            let keys = read(&self.shared.keys);
            let k = keys.get(&kid).ok_or_else(|| SubmitError::UnknownKey(kid.clone()))?;
            if !k.registered {
                return Err(SubmitError::RevokedKey(kid));
            }
            if k.role != "gate" {
                return Err(SubmitError::WrongRole(kid));
            }
            k.key.clone()
        };
        self.shared
            .limiter
            .check(&kid, std::time::Instant::now())
            .map_err(|retry_after| SubmitError::RateLimited { retry_after })?;
        let receipt = signed.verify(&key)?.clone();
        let p = receipt.parts();
        let now = now();
        let skew = self.shared.config.max_clock_skew.as_millis() as u64;
        if p.decided_at.millis().abs_diff(now.millis()) > skew {
            return Err(SubmitError::ClockSkew {
                decided_at: p.decided_at,
                now,
                skew_s: skew / 1000,
            });
        }
        // Idempotency: the same receipt bytes, or the same (gate, key).
        let store = self.shared.store.clone();
        let (gate, idem) = (p.gate.clone(), p.idempotency_key.clone());
        let bundle_hash = p.policy.bundle_hash;
        let existing = blocking(move || {
            let by_key = store.index_of_idempotency(&gate, &idem)?;
            let archived = store.bundle_index(&bundle_hash)?.is_some();
            Ok((by_key, archived))
        })
        .await?;
        if let Some(index) = existing.0 {
            return self.existing(index).await;
        }
        if !existing.1 {
            return Err(SubmitError::UnarchivedPolicy(bundle_hash));
        }
        let entry = Entry::new(EntryKind::Receipt, now, body)?;
        let record = EntryRecord::for_receipt(&entry, p);
        self.enqueue(entry, record, Some(kid)).await
    }

    /// Submit an authority-signed key statement (COSE_Sign1 bytes).
    pub async fn submit_key(&self, body: Vec<u8>) -> Result<Ack, SubmitError> {
        let entry = Entry::new(EntryKind::Key, now(), body)?;
        let msg = entry.sign1()?;
        self.check_authority(&msg)?;
        KeyStatement::from_cbor(msg.payload())?;
        let record = EntryRecord::from_entry(&entry)?;
        self.enqueue(entry, record, None).await
    }

    /// Submit an authority-signed policy bundle (COSE_Sign1 bytes). The
    /// bundle must compile for an engine cairn replays exactly.
    pub async fn submit_policy(&self, body: Vec<u8>) -> Result<Ack, SubmitError> {
        let entry = Entry::new(EntryKind::Policy, now(), body)?;
        let msg = entry.sign1()?;
        self.check_authority(&msg)?;
        let bundle = Bundle::from_bytes(msg.payload()).map_err(|e: BundleError| SubmitError::Bundle(e.to_string()))?;
        Policy::compile(&bundle).map_err(|e: PolicyError| SubmitError::Bundle(e.to_string()))?;
        let store = self.shared.store.clone();
        let hash = bundle.hash();
        if let Some(index) = blocking(move || store.bundle_index(&hash)).await? {
            return self.existing(index).await;
        }
        let record = EntryRecord::for_bundle(&entry, hash);
        self.enqueue(entry, record, None).await
    }

    fn check_authority(&self, msg: &cairn_api::cose::Sign1) -> Result<(), SubmitError> {
        let key = self
            .shared
            .authorities
            .iter()
            .find(|k| k.key_ref() == msg.kid())
            .ok_or_else(|| SubmitError::NotAuthority(msg.kid().to_owned()))?;
        msg.verify(key).map_err(|e| SubmitError::NotAuthority(e.to_string()))
    }

    async fn enqueue(&self, entry: Entry, record: EntryRecord, gate_key: Option<String>) -> Result<Ack, SubmitError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            entry,
            record,
            gate_key,
            reply,
        };
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(SubmitError::Busy),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(SubmitError::ShuttingDown),
        }
        rx.await.map_err(|_| SubmitError::ShuttingDown)?
    }

    /// The acknowledgement of an entry already in the log, proven under the
    /// latest checkpoint.
    pub async fn existing(&self, index: u64) -> Result<Ack, SubmitError> {
        existing_ack(self.shared.store.clone(), index).await
    }
}

/// The acknowledgement of an entry already in the log, proven under the
/// latest checkpoint.
async fn existing_ack(store: Arc<dyn Store>, index: u64) -> Result<Ack, SubmitError> {
    blocking(move || {
        let bytes = store
            .entry(index)?
            .ok_or_else(|| StoreError::Corrupt(format!("entry {index} is indexed but missing")))?;
        let entry =
            Entry::from_cbor(&bytes).map_err(|e| StoreError::Corrupt(format!("entry {index} does not decode: {e}")))?;
        let (size, checkpoint) = store.head()?;
        let checkpoint = checkpoint.ok_or_else(|| StoreError::Corrupt("no checkpoint".into()))?;
        let proof = prefetched(store.as_ref(), |n| inclusion_proof::<Blake3, _>(n, index, size))
            .map_err(|e| StoreError::Corrupt(format!("proof for {index}: {e}")))?;
        Ok(Ack {
            index,
            leaf_hash: entry.leaf_hash(),
            kind: entry.kind(),
            integrated_at: entry.integrated_at(),
            size,
            checkpoint,
            proof,
            existing: true,
        })
    })
    .await
}

fn apply_key_event(keys: &mut HashMap<String, KeyState>, vkey: &str, role: &str, registered: bool) {
    if let Ok(key) = VerifierKey::parse(vkey) {
        keys.insert(
            key.key_ref(),
            KeyState {
                key,
                role: role.to_owned(),
                registered,
            },
        );
    }
}

/// The sequencer task: gather, check, integrate, sign, commit, answer.
async fn run(shared: Arc<Shared>, mut state: LogState, log_key: SignerKey, mut rx: mpsc::Receiver<Job>) {
    let max_batch = shared.config.max_batch.max(1);
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let deadline = tokio::time::Instant::now() + shared.config.max_wait;
        while jobs.len() < max_batch {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(j)) => jobs.push(j),
                _ => break,
            }
        }
        state = commit_batch(&shared, state, &log_key, jobs).await;
    }
}

/// What becomes of each job of a batch.
enum Slot {
    /// A new entry: the k-th accepted.
    New(usize),
    /// Already in the log at this index.
    Duplicate(u64),
    /// The same as the k-th accepted entry of this batch.
    InBatch(usize),
    /// Refused at batch time (a revoked key).
    Rejected(SubmitError),
}

async fn commit_batch(shared: &Arc<Shared>, state: LogState, log_key: &SignerKey, jobs: Vec<Job>) -> LogState {
    // Re-check in log order: key state (a statement takes effect from the
    // next entry, in this batch too) and duplicates against the store and
    // this batch.
    let store = shared.store.clone();
    let leaves: Vec<Hash> = jobs.iter().map(|j| j.record.leaf_hash).collect();
    let idems: Vec<Option<(String, String)>> = jobs
        .iter()
        .map(|j| j.record.receipt.as_ref().map(|r| r.idempotency.clone()))
        .collect();
    let known = match blocking(move || {
        leaves
            .iter()
            .zip(&idems)
            .map(|(l, i)| {
                Ok(match store.index_of_leaf(l)? {
                    Some(x) => Some(x),
                    None => match i {
                        Some((g, k)) => store.index_of_idempotency(g, k)?,
                        None => None,
                    },
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()
    })
    .await
    {
        Ok(k) => k,
        Err(e) => return fail_all(shared, state, jobs, &e).await,
    };
    let mut slots = Vec::with_capacity(jobs.len());
    let mut accepted: Vec<usize> = Vec::new();
    let mut seen_leaf: HashMap<Hash, usize> = HashMap::new();
    let mut seen_idem: HashMap<(String, String), usize> = HashMap::new();
    let mut in_batch_keys: HashMap<String, bool> = HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        if let Some(index) = known[i] {
            slots.push(Slot::Duplicate(index));
            continue;
        }
        let idem = job.record.receipt.as_ref().map(|r| r.idempotency.clone());
        if let Some(&j) = seen_leaf
            .get(&job.record.leaf_hash)
            .or_else(|| idem.as_ref().and_then(|k| seen_idem.get(k)))
        {
            slots.push(Slot::InBatch(j));
            continue;
        }
        if let Some(kid) = &job.gate_key {
            // A key statement earlier in this batch counts from the next
            // entry on (docs/spec.md 9.2), like one in an earlier batch.
            let ok = match in_batch_keys.get(kid) {
                Some(registered_gate) => *registered_gate,
                None => read(&shared.keys)
                    .get(kid)
                    .is_some_and(|k| k.registered && k.role == "gate"),
            };
            if !ok {
                slots.push(Slot::Rejected(SubmitError::RevokedKey(kid.clone())));
                continue;
            }
        }
        seen_leaf.insert(job.record.leaf_hash, accepted.len());
        if let Some(k) = idem {
            seen_idem.insert(k, accepted.len());
        }
        if let Some(ev) = &job.record.key
            && let Ok(key) = VerifierKey::parse(&ev.vkey)
        {
            in_batch_keys.insert(key.key_ref(), ev.registered && ev.role == "gate");
        }
        slots.push(Slot::New(accepted.len()));
        accepted.push(i);
    }

    let mut new_state = state.clone();
    let mut acks: Vec<Ack> = Vec::new();
    if !accepted.is_empty() {
        let records: Vec<EntryRecord> = accepted.iter().map(|&i| jobs[i].record.clone()).collect();
        let (batch, frontier) = match CommitBatch::build(&state, records, log_key) {
            Ok(b) => b,
            Err(e) => {
                for job in jobs {
                    let _ = job.reply.send(Err(SubmitError::Checkpoint(e.to_string())));
                }
                return state;
            }
        };
        let checkpoint = batch.checkpoint.clone();
        let store = shared.store.clone();
        let started = std::time::Instant::now();
        let recorded = batch.entries.clone();
        let first = batch.first_index;
        let size = batch.size;
        let committed = blocking(move || {
            store.commit(&batch)?;
            // Proofs for every new entry: from the nodes just committed and
            // the older ones read back from storage.
            let nodes = BatchNodes::new(store.as_ref(), &batch.nodes);
            (0..batch.entries.len() as u64)
                .map(|k| {
                    inclusion_proof::<Blake3, _>(&nodes, first + k, size)
                        .map_err(|e| StoreError::Corrupt(format!("proof after commit: {e}")))
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .await;
        let proofs = match committed {
            Ok(p) => p,
            Err(e) => return fail_all(shared, state, jobs, &e).await,
        };
        shared
            .metrics
            .committed(&recorded, started.elapsed().as_secs_f64(), size);
        for (k, &i) in accepted.iter().enumerate() {
            let e = &jobs[i].entry;
            acks.push(Ack {
                index: first + k as u64,
                leaf_hash: e.leaf_hash(),
                kind: e.kind(),
                integrated_at: e.integrated_at(),
                size,
                checkpoint: checkpoint.clone(),
                proof: proofs[k].clone(),
                existing: false,
            });
            // Key statements take effect for the next batch.
            if let Some(ev) = &jobs[i].record.key {
                apply_key_event(&mut write(&shared.keys), &ev.vkey, &ev.role, ev.registered);
            }
        }
        new_state = LogState {
            frontier,
            checkpoint: Some(checkpoint),
        };
    }

    // Answer everyone, in order.
    for (job, slot) in jobs.into_iter().zip(slots) {
        let answer = match slot {
            Slot::Rejected(e) => Err(e),
            Slot::New(k) => Ok(acks[k].clone()),
            Slot::InBatch(k) => {
                let mut a = acks[k].clone();
                a.existing = true;
                Ok(a)
            }
            Slot::Duplicate(index) => existing_ack(shared.store.clone(), index).await,
        };
        let _ = job.reply.send(answer);
    }
    new_state
}

/// Answer every job with the storage error and reload the state from the
/// store: if the write landed after all, the log continues from it.
async fn fail_all(shared: &Arc<Shared>, state: LogState, jobs: Vec<Job>, e: &SubmitError) -> LogState {
    // The operator's log line: writes fail, nothing was acknowledged.
    eprintln!(
        "cairn-ledger: storage failure, {} submission(s) answered 503 and not acknowledged: {e}",
        jobs.len()
    );
    for job in jobs {
        let _ = job.reply.send(Err(SubmitError::NotDurable(e.to_string())));
    }
    let store = shared.store.clone();
    blocking(move || store.state()).await.unwrap_or(state)
}
