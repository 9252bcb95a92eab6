//! A live ledger's query API, believed only where proven: every hit is
//! fetched, proven included under a checkpoint the log key signed, and
//! re-checked against the filters (`cairn-verify query`).

use cairn_api::entry::{Entry, MAX_ENTRY_BYTES};
use cairn_api::merkle::{MerkleHasher, Sha256, verify_inclusion};
use cairn_api::note::Checkpoint;
use cairn_api::receipt::Receipt;
use cairn_api::wire::{InclusionProof, QueryPage};

use crate::filters::Filters;
use crate::source::{Ledger, SourceError};
use crate::trust::Trust;

/// Most receipts one query returns.
pub const MAX_QUERY_RESULTS: usize = 10_000;
/// Page size asked of the ledger.
const PAGE: usize = 500;

/// What a query proved.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// (index, receipt) of every hit proven included, in index order.
    pub proven: Vec<(u64, Receipt)>,
    /// Hits the ledger could not back with a proof, or that do not match.
    pub failures: Vec<String>,
    /// The size of the signed checkpoint everything is proven under.
    pub size: u64,
}

/// Why a query stopped.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The ledger could not be asked (exit 3).
    Evaluate(String),
    /// The ledger's answer does not hold (exit 1).
    Untrusted(String),
}

/// Ask `ledger` for the receipts `filters` select (at most `limit`), and
/// prove each under the newest checkpoint signed by a log key of `trust`.
pub fn query(ledger: &Ledger, trust: &Trust, filters: &Filters, limit: usize) -> Result<Outcome, Fault> {
    let ev = |e: crate::source::SourceError| Fault::Evaluate(e.to_string());
    let note = ledger.get("/v1/checkpoint").map_err(ev)?;
    let cp = trust
        .log
        .iter()
        .find_map(|k| Checkpoint::verify(&note, k, &[]).ok())
        .map(|(cp, _, _)| cp)
        .ok_or_else(|| {
            Fault::Untrusted("the ledger's checkpoint is not signed by a log key in the trust file".into())
        })?;
    let mut out = Outcome {
        proven: Vec::new(),
        failures: Vec::new(),
        size: cp.size,
    };
    let mut cursor: Option<String> = None;
    'pages: loop {
        let path = format!(
            "/v1/receipts?{}",
            filters.query(PAGE.min(limit), cursor.take()).to_query_string()
        );
        let page: QueryPage = ledger.get_wire(&path).map_err(wire_fault)?;
        for hit in page.receipts {
            let index = hit.index;
            if index >= cp.size {
                // Newer than the checkpoint: it cannot be proven yet.
                continue;
            }
            match prove(ledger, trust, filters, index, &cp) {
                Ok(receipt) => out.proven.push((index, receipt)),
                Err(Fault::Untrusted(e)) => out.failures.push(format!("entry {index}: {e}")),
                Err(e) => return Err(e),
            }
            if out.proven.len() >= limit {
                break 'pages;
            }
        }
        match page.next_cursor {
            Some(c) if c.bytes().all(|b| b.is_ascii_digit()) && !c.is_empty() => cursor = Some(c),
            _ => break,
        }
    }
    Ok(out)
}

/// A source error as a fault: an answer that is not what the API defines
/// is the ledger's (untrusted), anything else could not be evaluated.
fn wire_fault(e: SourceError) -> Fault {
    match e {
        SourceError::Malformed { .. } => Fault::Untrusted(e.to_string()),
        other => Fault::Evaluate(other.to_string()),
    }
}

fn prove(ledger: &Ledger, trust: &Trust, filters: &Filters, index: u64, cp: &Checkpoint) -> Result<Receipt, Fault> {
    let ev = |e: crate::source::SourceError| Fault::Evaluate(e.to_string());
    let bytes = ledger.get(&format!("/v1/entries/{index}")).map_err(ev)?;
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(Fault::Untrusted("the entry is larger than any entry can be".into()));
    }
    let proof: InclusionProof = ledger
        .get_wire(&format!("/v1/proofs/inclusion?index={index}&size={}", cp.size))
        .map_err(wire_fault)?;
    if proof.index != index || proof.size != cp.size {
        return Err(Fault::Untrusted(
            "the inclusion proof is for another entry or size".into(),
        ));
    }
    let hashes = proof.proof;
    verify_inclusion::<Sha256>(&Sha256::hash_leaf(&bytes), index, cp.size, &hashes, &cp.root.0)
        .map_err(|e| Fault::Untrusted(format!("not included under the checkpoint: {e}")))?;
    let entry = Entry::from_cbor(&bytes).map_err(|e| Fault::Untrusted(format!("malformed entry: {e}")))?;
    let signed = entry.receipt().map_err(|_| {
        Fault::Untrusted("the ledger answered a receipt query with an entry that is not a receipt".into())
    })?;
    if !trust.gates.is_empty() {
        let k = trust
            .gates
            .iter()
            .find(|k| k.key_ref() == signed.kid())
            .ok_or_else(|| {
                Fault::Untrusted(format!(
                    "signed by {}, not a gate key the trust file pins",
                    signed.kid()
                ))
            })?;
        signed
            .verify(k)
            .map_err(|e| Fault::Untrusted(format!("gate signature: {e}")))?;
    }
    let receipt = signed.unverified();
    if !filters.matches(receipt.parts()) {
        return Err(Fault::Untrusted("the receipt does not match the query".into()));
    }
    Ok(receipt.clone())
}
