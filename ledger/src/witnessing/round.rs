//! The witnessing rounds: one checkpoint, every witness at once, each
//! call bounded; the cosignatures that verify are kept, and the
//! checkpoint is published when they satisfy the quorum.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use cairn_api::keys::VerifierKey;
use cairn_api::merkle::{Sha256, consistency_proof};
use cairn_api::note::{NoteSignature, SignedNote};
use cairn_api::witness::{AddCheckpoint, Witness};

use super::{Answer, Cosigned, Published, WitnessClient, WitnessingConfig};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::proofs::prefetched;

/// One exchange with one witness about the checkpoint `note` of `size`:
/// from the size it is believed to have cosigned, resent once from the
/// size a `409` names. Returns the size it is now known to have cosigned
/// and its verified cosignature, or the answer that refused it.
fn exchange(
    client: &WitnessClient,
    store: &dyn Store,
    witness: &Witness,
    log_key: &VerifierKey,
    mut old: u64,
    size: u64,
    note: &str,
) -> (u64, Result<NoteSignature, Answer>) {
    let Some(url) = witness.url.as_deref() else {
        return (old, Err(Answer::Invalid("no URL".into())));
    };
    for attempt in 0..2 {
        if old > size {
            return (
                old,
                Err(Answer::Refused {
                    status: 409,
                    detail: format!("the witness cosigned size {old}, larger than this log's {size}"),
                }),
            );
        }
        let proof = if old == 0 {
            Vec::new()
        } else {
            match prefetched(store, |n| consistency_proof::<Sha256, _>(n, old, size)) {
                Ok(p) => p,
                Err(e) => {
                    return (
                        old,
                        Err(Answer::Invalid(format!("consistency proof {old}..{size}: {e}"))),
                    );
                }
            }
        };
        let req = AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: note.to_owned(),
        };
        match client.add_checkpoint(url, &req) {
            Answer::Cosigned(sigs) => {
                return (size, verify(note, sigs, &witness.key, log_key).map_err(Answer::Invalid));
            }
            Answer::Conflict(theirs) if theirs != old && attempt == 0 => old = theirs,
            Answer::Conflict(theirs) => {
                return (
                    theirs,
                    Err(Answer::Refused {
                        status: 409,
                        detail: format!("the witness refuses size {size} after cosigning {theirs}: a fork?"),
                    }),
                );
            }
            other => return (old, Err(other)),
        }
    }
    (old, Err(Answer::Invalid("two 409 answers in a row".into())))
}

/// The witness's cosignature among `sigs`, verified on `note`.
fn verify(
    note: &str,
    sigs: Vec<NoteSignature>,
    key: &VerifierKey,
    log_key: &VerifierKey,
) -> Result<NoteSignature, String> {
    let sig = sigs
        .into_iter()
        .find(|s| s.name == key.name() && s.key_id == key.id())
        .ok_or("no cosignature by the witness's key in its answer")?;
    let mut signed = SignedNote::parse(note.as_bytes()).map_err(|e| e.to_string())?;
    signed.add_signature(sig.clone()).map_err(|e| e.to_string())?;
    signed
        .verify(&[log_key.clone(), key.clone()])
        .map_err(|e| format!("the cosignature does not verify: {e}"))?;
    Ok(sig)
}

/// The rounds' memory: what each witness is known to have cosigned.
struct Rounds {
    store: Arc<dyn Store>,
    log_key: VerifierKey,
    config: WitnessingConfig,
    client: WitnessClient,
    published: Arc<Published>,
    metrics: Arc<Metrics>,
    known: HashMap<String, u64>,
    behind_since: Option<Instant>,
}

impl Rounds {
    async fn tick(&mut self) {
        if let Some(age) = self.published.age() {
            self.metrics.set_cosigned_age(age.as_secs_f64());
        }
        let st = self.store.clone();
        let Ok(Ok((size, Some(note)))) = tokio::task::spawn_blocking(move || st.head()).await else {
            return;
        };
        let published = self.published.get().map(|c| c.size);
        if published == Some(size) {
            self.behind_since = None;
            self.metrics.set_witness_lag(0.0);
            return;
        }
        let since = *self.behind_since.get_or_insert_with(Instant::now);
        let calls = self.config.policy.witnesses().iter().map(|w| {
            let (client, store, w, log_key, note) = (
                self.client.clone(),
                self.store.clone(),
                w.clone(),
                self.log_key.clone(),
                note.clone(),
            );
            let old = self.known.get(&w.name).copied().unwrap_or(0);
            tokio::task::spawn_blocking(move || {
                let r = exchange(&client, store.as_ref(), &w, &log_key, old, size, &note);
                (w, r)
            })
        });
        let mut cosigs = Vec::new();
        for done in futures_util::future::join_all(calls).await {
            let Ok((w, (known, result))) = done else { continue };
            self.known.insert(w.name.clone(), known);
            match result {
                Ok(sig) => {
                    self.metrics.witness_cosigned(&w.name);
                    cosigs.push((w, sig));
                }
                Err(answer) => {
                    tracing::warn!(witness = %w.name, size, reason = answer.reason(), answer = ?answer, "witness did not cosign");
                    self.metrics.witness_refused(&w.name, answer.reason());
                }
            }
        }
        let keys: Vec<VerifierKey> = cosigs.iter().map(|(w, _)| w.key.clone()).collect();
        if self.config.policy.quorum_met(&keys)
            && !cosigs.is_empty()
            && let Some(c) = cosigned(&note, size, &cosigs)
        {
            tracing::debug!(size, witnesses = ?c.witnesses, "published a cosigned checkpoint");
            self.published.publish(c);
            self.metrics.set_cosigned_size(size);
            self.behind_since = None;
            self.metrics.set_witness_lag(0.0);
            return;
        }
        self.metrics.set_witness_lag(since.elapsed().as_secs_f64());
    }
}

fn cosigned(note: &str, size: u64, cosigs: &[(Witness, NoteSignature)]) -> Option<Cosigned> {
    let mut signed = SignedNote::parse(note.as_bytes()).ok()?;
    for (_, s) in cosigs {
        signed.add_signature(s.clone()).ok()?;
    }
    Some(Cosigned {
        size,
        note: signed.to_text(),
        witnesses: cosigs.iter().map(|(w, _)| w.name.clone()).collect(),
    })
}

/// Start the rounds on the current runtime; they stop when the task is
/// aborted.
pub fn spawn(
    store: Arc<dyn Store>,
    log_key: VerifierKey,
    config: WitnessingConfig,
    published: Arc<Published>,
    metrics: Arc<Metrics>,
) -> tokio::task::JoinHandle<()> {
    let mut ticker = tokio::time::interval(config.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rounds = Rounds {
        store,
        log_key,
        client: WitnessClient::new(config.timeout),
        config,
        published,
        metrics,
        known: HashMap::new(),
        behind_since: None,
    };
    tokio::spawn(async move {
        loop {
            ticker.tick().await;
            rounds.tick().await;
        }
    })
}
