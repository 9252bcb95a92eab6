//! The single writer: gather a batch, re-check key state and duplicates
//! in log order, integrate, sign a checkpoint, commit durably, and only
//! then answer every submitter of the batch.

use std::collections::HashMap;
use std::sync::Arc;

use std::time::Duration;

use cairn_api::entry::{Entry, EntryKind, KeyAction, KeyRole};
use cairn_api::key_history::check_transition;
use cairn_api::keys::SignerKey;
use cairn_api::merkle::{Hash, Sha256, inclusion_proof};
use cairn_api::receipt::SignedReceipt;
use tokio::sync::mpsc;

use super::{Ack, Job, Shared, SubmitError, blocking, late_by_ms};
use crate::query_index::follower::IndexBatch;
use crate::store::{BatchNodes, CommitBatch, EntryRecord, LogState, Lookup, Store, StoreError, prefetched};

/// The acknowledgement of an entry already in the log, proven under the
/// latest checkpoint.
pub(super) async fn existing_ack(store: Arc<dyn Store>, index: u64, skew: Duration) -> Result<Ack, StoreError> {
    blocking(move || {
        let bytes = store
            .entry(index)?
            .ok_or_else(|| StoreError::Corrupt(format!("entry {index} is indexed but missing")))?;
        let entry =
            Entry::from_cbor(&bytes).map_err(|e| StoreError::Corrupt(format!("entry {index} does not decode: {e}")))?;
        let (size, checkpoint) = store.head()?;
        let checkpoint = checkpoint.ok_or_else(|| StoreError::Corrupt("no checkpoint".into()))?;
        let proof = prefetched(store.as_ref(), |n| inclusion_proof::<Sha256, _>(n, index, size))
            .map_err(|e| StoreError::Corrupt(format!("proof for {index}: {e}")))?;
        let late_by_ms = match entry.kind() {
            EntryKind::Receipt => SignedReceipt::parse(entry.body())
                .ok()
                .and_then(|r| late_by_ms(entry.integrated_at(), r.unverified().parts().decided_at.millis(), skew)),
            _ => None,
        };
        Ok(Ack {
            index,
            leaf_hash: entry.leaf_hash(),
            kind: entry.kind(),
            integrated_at: entry.integrated_at(),
            size,
            checkpoint,
            proof,
            existing: true,
            late_by_ms,
        })
    })
    .await
}

/// The sequencer task: gather, check, integrate, sign, commit, answer.
pub(super) async fn run(shared: Arc<Shared>, mut state: LogState, log_key: SignerKey, mut rx: mpsc::Receiver<Job>) {
    let max_batch = shared.config.max_batch.max(1);
    // The lease epoch `state` and the key registry were read under: an
    // instance that (re)takes the lease reads both again first, since
    // another leader may have written in between.
    let mut synced: Option<u64> = None;
    while let Some(first) = rx.recv().await {
        shared.queue_wait.observe(first.queued_at.elapsed());
        shared.metrics.set_queue_wait(shared.queue_wait.last());
        let mut jobs = vec![first];
        let deadline = tokio::time::Instant::now() + shared.config.max_wait;
        while jobs.len() < max_batch {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(j)) => jobs.push(j),
                _ => break,
            }
        }
        if let Some(l) = &shared.config.leadership {
            match l.epoch() {
                None => {
                    let leader = l.leader_hint();
                    for job in jobs {
                        let _ = job.reply.send(Err(SubmitError::NotLeader { leader: leader.clone() }));
                    }
                    continue;
                }
                Some(epoch) if synced != Some(epoch) => match reload(&shared, Some(epoch)).await {
                    Ok(s) => {
                        tracing::info!(epoch, size = s.frontier.size(), "writing under the sequencer lease");
                        state = s;
                        synced = Some(epoch);
                    }
                    Err(e) => {
                        state = fail_all(&shared, state, jobs, e).await;
                        continue;
                    }
                },
                Some(_) => {}
            }
        }
        state = commit_batch(&shared, state, &log_key, jobs).await;
        if rx.is_empty() {
            // Nothing waits: whatever the last batch waited, the next one
            // waits at most a commit, so the overload signal ends here (or
            // a burst after an overload would be shed for the old wait).
            shared.queue_wait.observe(std::time::Duration::ZERO);
            shared.metrics.set_queue_wait(std::time::Duration::ZERO);
        }
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
    /// Refused at batch time (a revoked key, a key statement out of order).
    Rejected(SubmitError),
}

async fn commit_batch(shared: &Arc<Shared>, state: LogState, log_key: &SignerKey, jobs: Vec<Job>) -> LogState {
    // Re-check in log order: key state (a statement takes effect from the
    // next entry, in this batch too) and duplicates against the store and
    // this batch.
    let store = shared.store.clone();
    let lookups: Vec<Lookup> = jobs
        .iter()
        .map(|j| {
            let idem = j.record.receipt.as_ref().map(|r| r.idempotency.clone());
            (j.record.leaf_hash, idem)
        })
        .collect();
    let known = match blocking(move || store.known(&lookups)).await {
        Ok(k) => k,
        Err(e) => return fail_all(shared, state, jobs, e).await,
    };
    let mut slots = Vec::with_capacity(jobs.len());
    let mut accepted: Vec<usize> = Vec::new();
    let mut seen_leaf: HashMap<Hash, usize> = HashMap::new();
    let mut seen_idem: HashMap<(String, String), usize> = HashMap::new();
    // Key standings changed by statements earlier in this batch.
    let mut in_batch_keys: HashMap<String, (KeyRole, bool)> = HashMap::new();
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
                Some(&(role, registered)) => registered && role == KeyRole::Gate,
                None => shared.keys.is_gate(kid),
            };
            if !ok {
                slots.push(Slot::Rejected(SubmitError::RevokedKey(kid.clone())));
                continue;
            }
        }
        if let Some(op) = &job.operator_key {
            // The operator must still be registered at this point of the log.
            let ok = match in_batch_keys.get(op) {
                Some(&(role, registered)) => registered && role == KeyRole::Operator,
                None => shared.keys.operator_key(op).is_some(),
            };
            if !ok {
                slots.push(Slot::Rejected(SubmitError::Receipt(
                    cairn_api::receipt::ReceiptError::UnregisteredOperator(op.clone()),
                )));
                continue;
            }
        }
        if let Some(ev) = &job.record.key {
            // The statement must follow the key's history as it stands
            // at this point of the log (docs/spec.md 9.2).
            let key = ev.key_ref();
            let standing = in_batch_keys.get(&key).copied().or_else(|| shared.keys.standing(&key));
            let action = if ev.registered {
                KeyAction::Register
            } else {
                KeyAction::Revoke
            };
            if let Err(error) = check_transition(standing, action, ev.role) {
                slots.push(Slot::Rejected(SubmitError::KeyHistory { key, error }));
                continue;
            }
        }
        seen_leaf.insert(job.record.leaf_hash, accepted.len());
        if let Some(k) = idem {
            seen_idem.insert(k, accepted.len());
        }
        if let Some(ev) = &job.record.key {
            in_batch_keys.insert(ev.key_ref(), (ev.role, ev.registered));
        }
        slots.push(Slot::New(accepted.len()));
        accepted.push(i);
    }

    if accepted.is_empty() {
        answer(shared, jobs, slots, None);
        return state;
    }
    let records: Vec<EntryRecord> = accepted.iter().map(|&i| jobs[i].record.clone()).collect();
    let (batch, frontier) = match CommitBatch::build(&state, records, log_key) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, batch = jobs.len(), "signing the checkpoint failed; nothing acknowledged");
            for job in jobs {
                let _ = job.reply.send(Err(SubmitError::Checkpoint(e.clone())));
            }
            return state;
        }
    };
    let store = shared.store.clone();
    let started = std::time::Instant::now();
    let mut batch = match blocking(move || store.commit(&batch).map(|()| batch)).await {
        Ok(b) => b,
        Err(e) => return fail_all(shared, state, jobs, e).await,
    };
    let took = started.elapsed();
    shared.metrics.committed(&batch.entries, took.as_secs_f64(), batch.size);
    tracing::debug!(
        first_index = batch.first_index,
        batch = batch.entries.len(),
        size = batch.size,
        commit_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
        "batch committed"
    );
    // Key statements take effect for the next batch.
    for &i in &accepted {
        if let Some(ev) = &jobs[i].record.key {
            shared.keys.apply(ev);
        }
    }
    let new_state = LogState {
        frontier,
        checkpoint: Some(batch.checkpoint.clone()),
    };
    // The incident-query rows are derived data: offered to the query
    // index's follower now that the entries are durable.
    let entries = std::mem::take(&mut batch.entries);
    if let (Some(feed), Some(last)) = (&shared.index_feed, entries.last()) {
        let tip = last.leaf_hash;
        feed.offer(IndexBatch {
            first: batch.first_index,
            rows: entries.into_iter().map(|e| e.receipt).collect(),
            tip,
        });
    }
    // The batch is durable: its proofs are computed and its submitters
    // answered on another task while the next batch is gathered and
    // committed.
    answer(shared, jobs, slots, Some((batch, accepted)));
    new_state
}

/// Answer every job of a batch, in order, on a task of its own: the
/// proofs of the entries `committed` (the durable batch and which jobs it
/// holds), the original of each duplicate, the refusals.
fn answer(shared: &Arc<Shared>, jobs: Vec<Job>, slots: Vec<Slot>, committed: Option<(CommitBatch, Vec<usize>)>) {
    let shared = shared.clone();
    tokio::spawn(async move {
        let skew = shared.config.max_clock_skew;
        let mut acks: Result<Vec<Ack>, Arc<StoreError>> = Ok(Vec::new());
        if let Some((batch, accepted)) = committed {
            let store = shared.store.clone();
            let (first, size) = (batch.first_index, batch.size);
            let n = accepted.len() as u64;
            let nodes = batch.nodes;
            // Proofs for every new entry: from the nodes just committed and
            // the older ones read back from storage.
            let proofs = blocking(move || {
                let nodes = BatchNodes::new(store.as_ref(), &nodes);
                (0..n)
                    .map(|k| {
                        inclusion_proof::<Sha256, _>(&nodes, first + k, size)
                            .map_err(|e| StoreError::Corrupt(format!("proof after commit: {e}")))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()
            })
            .await;
            acks = match proofs {
                Ok(proofs) => Ok(accepted
                    .iter()
                    .zip(proofs)
                    .enumerate()
                    .map(|(k, (&i, proof))| {
                        let e = &jobs[i].entry;
                        let late = jobs[i]
                            .record
                            .receipt
                            .as_ref()
                            .and_then(|r| late_by_ms(e.integrated_at(), r.decided_at, skew));
                        if let Some(late) = late {
                            shared.metrics.late_receipt(late);
                        }
                        Ack {
                            index: first + k as u64,
                            leaf_hash: e.leaf_hash(),
                            kind: e.kind(),
                            integrated_at: e.integrated_at(),
                            size,
                            checkpoint: batch.checkpoint.clone(),
                            proof,
                            existing: false,
                            late_by_ms: late,
                        }
                    })
                    .collect()),
                Err(e) => {
                    // Committed, but not provable now: not acknowledged; a
                    // retry finds the original.
                    tracing::error!(error = %e, "proofs after a commit failed: the batch was answered 503");
                    Err(Arc::new(e))
                }
            };
        }
        for (job, slot) in jobs.into_iter().zip(slots) {
            let answer = match (slot, &acks) {
                (Slot::Rejected(e), _) => Err(e),
                (Slot::New(_) | Slot::InBatch(_), Err(e)) => Err(SubmitError::NotDurable(e.clone())),
                (Slot::New(k), Ok(acks)) => Ok(acks[k].clone()),
                (Slot::InBatch(k), Ok(acks)) => {
                    let mut a = acks[k].clone();
                    a.existing = true;
                    Ok(a)
                }
                (Slot::Duplicate(index), _) => existing_ack(shared.store.clone(), index, skew)
                    .await
                    .map_err(SubmitError::from),
            };
            let _ = job.reply.send(answer);
        }
    });
}

/// The log's state and key history read again from the store, the key
/// registry replaced by it.
async fn reload(shared: &Arc<Shared>, epoch: Option<u64>) -> Result<LogState, StoreError> {
    let store = shared.store.clone();
    let state = blocking(move || store.state()).await?;
    match epoch {
        // Under a lease, once per epoch (admission may have done it).
        Some(e) => shared.sync_keys(e).await?,
        None => {
            let store = shared.store.clone();
            let events = blocking(move || store.key_events()).await?;
            shared.keys.reset(events.iter().map(|(_, e)| e));
        }
    }
    shared.metrics.set_tree_size(state.frontier.size());
    Ok(state)
}

/// Answer every job with the storage error and reload the state (and the
/// key history) from the store: if the write landed after all, or another
/// instance wrote in between, the log continues from what is stored.
async fn fail_all(shared: &Arc<Shared>, state: LogState, jobs: Vec<Job>, e: StoreError) -> LogState {
    // The operator's log line: writes fail, nothing was acknowledged.
    tracing::error!(
        error = %e,
        batch = jobs.len(),
        "storage failure: the batch was answered 503 and not acknowledged"
    );
    let e = Arc::new(e);
    for job in jobs {
        let _ = job.reply.send(Err(SubmitError::NotDurable(e.clone())));
    }
    reload(shared, None).await.unwrap_or(state)
}
