//! What `cairn-tools load --log-key` checks in every acknowledgement, as
//! a gate does: the entry rebuilt from the receipt the request carried and
//! the tlog-proof's entry header, its inclusion at the acknowledged index
//! under the proof's checkpoint, and that checkpoint's signature under the
//! log key. The signature is checked once per distinct checkpoint (every
//! acknowledgement of a group commit carries the same one), the inclusion
//! for every receipt.

use std::collections::HashMap;
use std::sync::Mutex;

use cairn_api::keys::VerifierKey;
use cairn_api::note::Checkpoint;
use cairn_api::proof::TlogProof;
use cairn_api::wire::{Ack, BatchResponse};

/// Checkpoints remembered as verified; past this the memory starts over.
pub const MAX_REMEMBERED_CHECKPOINTS: usize = 4096;

/// Checks acknowledgements against the log key.
#[derive(Debug)]
pub struct AckCheck {
    log_key: VerifierKey,
    /// Verified checkpoints by their signed text.
    verified: Mutex<HashMap<String, Checkpoint>>,
}

impl AckCheck {
    /// Check acknowledgements signed by `log_key`.
    pub fn new(log_key: VerifierKey) -> Self {
        AckCheck {
            log_key,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The checkpoint `proof` carries, its signature verified (once).
    fn checkpoint(&self, proof: &TlogProof) -> Result<Checkpoint, String> {
        let text = proof.checkpoint.to_text();
        if let Some(cp) = self.verified.lock().ok().and_then(|m| m.get(&text).cloned()) {
            return Ok(cp);
        }
        let (cp, _, _) = Checkpoint::verify(text.as_bytes(), &self.log_key, &[])
            .map_err(|e| format!("the acknowledgement's checkpoint does not verify under the log key: {e}"))?;
        if let Ok(mut m) = self.verified.lock() {
            if m.len() >= MAX_REMEMBERED_CHECKPOINTS {
                m.clear();
            }
            m.insert(text, cp.clone());
        }
        Ok(cp)
    }

    /// One acknowledgement of `receipt`.
    pub fn ack(&self, receipt: &[u8], ack: &Ack) -> Result<(), String> {
        let proof = TlogProof::parse(ack.tlog_proof.as_bytes()).map_err(|e| format!("the tlog-proof: {e}"))?;
        if proof.index != ack.index {
            return Err(format!(
                "the tlog-proof is for entry {}, the acknowledgement says {}",
                proof.index, ack.index
            ));
        }
        let entry = proof
            .entry_for(receipt)
            .map_err(|e| format!("the acknowledged entry: {e}"))?;
        let cp = self.checkpoint(&proof)?;
        proof
            .verify_inclusion_under(&entry.leaf_hash(), &cp)
            .map_err(|e| format!("entry {} is not included as acknowledged: {e}", proof.index))
    }

    /// The answer to `POST /v1/receipts` of `receipt`.
    pub fn single(&self, receipt: &[u8], answer: &[u8]) -> Result<(), String> {
        let ack: Ack =
            serde_json::from_slice(answer).map_err(|e| format!("the answer is not an acknowledgement: {e}"))?;
        self.ack(receipt, &ack)
    }

    /// The answer to `POST /v1/receipts/batch` of `receipts`: one
    /// acknowledgement per receipt, in order.
    pub fn batch(&self, receipts: &[Vec<u8>], answer: &[u8]) -> Result<(), String> {
        let r: BatchResponse =
            serde_json::from_slice(answer).map_err(|e| format!("the batch answer is not a batch response: {e}"))?;
        if r.results.len() != receipts.len() {
            return Err(format!("{} results for {} receipts", r.results.len(), receipts.len()));
        }
        for (k, (item, receipt)) in r.results.iter().zip(receipts).enumerate() {
            let ack = item
                .ack
                .as_ref()
                .ok_or_else(|| format!("item {k}: HTTP {} without an acknowledgement", item.status))?;
            self.ack(receipt, ack).map_err(|e| format!("item {k}: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_api::entry::{Entry, EntryKind};
    use cairn_api::examples;
    use cairn_api::merkle::{MemoryTree, Sha256, inclusion_proof};
    use cairn_api::proof::entry_header;
    use cairn_api::timestamp::Timestamp;

    /// Three receipts logged under one checkpoint; their acknowledgements.
    fn logged() -> (Vec<Vec<u8>>, Vec<Ack>) {
        let receipts: Vec<Vec<u8>> = (0..3).map(examples::signed_receipt).collect();
        let at = Timestamp::from_millis(examples::EXAMPLE_NOW_MS).unwrap();
        let entries: Vec<Entry> = receipts
            .iter()
            .map(|r| Entry::new(EntryKind::Receipt, at, r.clone()).unwrap())
            .collect();
        let tree = MemoryTree::<Sha256>::from_leaf_hashes(entries.iter().map(Entry::leaf_hash));
        let log = examples::log_key();
        let note = Checkpoint::new(log.name(), 3, tree.root()).sign(&log).unwrap();
        let acks = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let hashes = inclusion_proof::<Sha256, _>(&tree, i as u64, 3).unwrap();
                let proof = TlogProof {
                    extra: Some(entry_header(e.kind(), e.integrated_at())),
                    index: i as u64,
                    hashes: hashes.clone(),
                    checkpoint: note.clone(),
                };
                Ack {
                    index: i as u64,
                    leaf_hash: e.leaf_hash(),
                    size: 3,
                    checkpoint: note.to_text(),
                    inclusion_proof: hashes,
                    tlog_proof: proof.to_text(),
                    existing: false,
                    late_by_ms: None,
                }
            })
            .collect();
        (receipts, acks)
    }

    #[test]
    fn acknowledgements_are_checked_as_a_gate_checks_them() {
        let (receipts, acks) = logged();
        let check = AckCheck::new(examples::log_key().verifier());
        for (r, a) in receipts.iter().zip(&acks) {
            check.ack(r, a).unwrap();
        }
        assert_eq!(check.verified.lock().unwrap().len(), 1, "one checkpoint, verified once");
        let batch = serde_json::to_vec(&serde_json::json!({"results": acks.iter().map(|a| serde_json::json!({"status": 201, "ack": a})).collect::<Vec<_>>()})).unwrap();
        check.batch(&receipts, &batch).unwrap();
        // Another receipt than the one acknowledged, another index, another
        // log key, one result short: each refused.
        assert!(check.ack(&receipts[1], &acks[0]).unwrap_err().contains("not included"));
        let mut moved = acks[0].clone();
        moved.index = 1;
        assert!(check.ack(&receipts[0], &moved).unwrap_err().contains("entry 0"));
        let stranger = AckCheck::new(examples::gate_key().verifier());
        assert!(
            stranger
                .ack(&receipts[0], &acks[0])
                .unwrap_err()
                .contains("does not verify")
        );
        assert!(
            check
                .batch(&receipts[..2], &batch)
                .unwrap_err()
                .contains("3 results for 2")
        );
        assert!(check.single(&receipts[0], b"{}").is_err());
    }
}
