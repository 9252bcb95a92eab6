//! `cairn-verify query`: ask a ledger's query API, and print only the
//! receipts it has proven included under a checkpoint the log key signed.

use std::path::PathBuf;

use cairn_api::entry::{Entry, MAX_ENTRY_BYTES};
use cairn_api::merkle::{Blake3, MerkleHasher, verify_inclusion};
use cairn_api::note::Checkpoint;
use serde_json::{Value, json};

use crate::filters::{FilterArgs, Filters};
use crate::source::Ledger;
use crate::trust::Trust;
use crate::{EXIT_CANNOT_EVALUATE, EXIT_TAMPERED, EXIT_VALID};

/// Most receipts one query prints.
pub const MAX_QUERY_RESULTS: usize = 10_000;
/// Page size asked of the ledger.
const PAGE: usize = 500;

/// Arguments of `cairn-verify query`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The ledger's base URL.
    #[arg(long)]
    url: String,
    /// The trust file.
    #[arg(long)]
    trust: PathBuf,
    #[command(flatten)]
    filters: FilterArgs,
    /// Most receipts to print.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

struct Outcome {
    proven: Vec<Value>,
    failures: Vec<String>,
    size: u64,
}

/// Run it; returns the exit code.
pub fn run(args: &Args) -> u8 {
    if args.limit == 0 || args.limit > MAX_QUERY_RESULTS {
        return crate::usage(&format!("--limit must be 1 to {MAX_QUERY_RESULTS}"));
    }
    let filters = match Filters::new(args.filters.clone()) {
        Ok(f) => f,
        Err(e) => return crate::usage(&e),
    };
    let trust = match Trust::load(&args.trust) {
        Ok(t) => t,
        Err(e) => return crate::usage(&format!("trust file {}: {e}", args.trust.display())),
    };
    let ledger = match Ledger::new(&args.url) {
        Ok(l) => l,
        Err(e) => return crate::usage(&e),
    };
    let outcome = match query(&ledger, &trust, &filters, args.limit) {
        Ok(o) => o,
        Err(Fault::Evaluate(e)) => {
            eprintln!("cairn-verify query: could not evaluate: {e}");
            return EXIT_CANNOT_EVALUATE;
        }
        Err(Fault::Untrusted(e)) => {
            eprintln!("cairn-verify query: {e}");
            return EXIT_TAMPERED;
        }
    };
    let not_checked = [
        "completeness: a ledger can leave matching receipts out of an answer; `replay` with the same filters over an export reads every entry",
        "gate signatures, unless the trust file pins gate keys: the key history is in the log (`audit` checks it)",
    ];
    let code = if outcome.failures.is_empty() {
        EXIT_VALID
    } else {
        EXIT_TAMPERED
    };
    if args.json {
        let v = json!({
            "command": "query",
            "exit_code": code,
            "checkpoint_size": outcome.size,
            "receipts": outcome.proven,
            "failures": outcome.failures,
            "not_checked": not_checked,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!(
            "cairn-verify query: {} receipts proven included under the signed checkpoint of size {}",
            outcome.proven.len(),
            outcome.size
        );
        for r in &outcome.proven {
            println!(
                "  {:>9}  {}  {:<7}  {:<22}  {:<18}  {}:{}",
                r["index"],
                r["receipt"]["decided_at"].as_str().unwrap_or(""),
                r["receipt"]["decision"].as_str().unwrap_or(""),
                r["receipt"]["request"]["subject"]["id"].as_str().unwrap_or(""),
                r["receipt"]["request"]["action"]["name"].as_str().unwrap_or(""),
                r["receipt"]["request"]["resource"]["type"].as_str().unwrap_or(""),
                r["receipt"]["request"]["resource"]["id"].as_str().unwrap_or(""),
            );
        }
        if !outcome.failures.is_empty() {
            println!("Failures ({}):", outcome.failures.len());
            for f in &outcome.failures {
                println!("  - {f}");
            }
        }
        println!("Not checked:");
        for n in not_checked {
            println!("  - {n}");
        }
        println!(
            "Result: {}",
            if code == EXIT_VALID {
                "VALID"
            } else {
                "INVALID: the ledger's answer does not hold"
            }
        );
    }
    code
}

enum Fault {
    Evaluate(String),
    Untrusted(String),
}

fn query(ledger: &Ledger, trust: &Trust, filters: &Filters, limit: usize) -> Result<Outcome, Fault> {
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
    let qs = filters.query_string();
    'pages: loop {
        let mut path = format!("/v1/receipts?limit={}", PAGE.min(limit));
        if !qs.is_empty() {
            path = format!("{path}&{qs}");
        }
        if let Some(c) = &cursor {
            path = format!("{path}&cursor={c}");
        }
        let page = ledger.get_json(&path).map_err(ev)?;
        let hits = page["receipts"].as_array().cloned().unwrap_or_default();
        for hit in hits {
            let Some(index) = hit["index"].as_u64() else {
                out.failures.push("a hit without an index".into());
                continue;
            };
            if index >= cp.size {
                // Newer than the checkpoint: it cannot be proven yet.
                continue;
            }
            match prove(ledger, trust, filters, index, &cp) {
                Ok(receipt) => out.proven.push(json!({"index": index, "receipt": receipt})),
                Err(Fault::Untrusted(e)) => out.failures.push(format!("entry {index}: {e}")),
                Err(e) => return Err(e),
            }
            if out.proven.len() >= limit {
                break 'pages;
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) if c.bytes().all(|b| b.is_ascii_digit()) && !c.is_empty() => cursor = Some(c.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

fn prove(ledger: &Ledger, trust: &Trust, filters: &Filters, index: u64, cp: &Checkpoint) -> Result<Value, Fault> {
    let ev = |e: crate::source::SourceError| Fault::Evaluate(e.to_string());
    let bytes = ledger.get(&format!("/v1/entries/{index}")).map_err(ev)?;
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(Fault::Untrusted("the entry is larger than any entry can be".into()));
    }
    let proof = ledger
        .get_json(&format!("/v1/proofs/inclusion?index={index}&size={}", cp.size))
        .map_err(ev)?;
    let hashes = crate::proof_hashes(&proof["proof"])
        .ok_or_else(|| Fault::Untrusted("the inclusion proof is not hashes".into()))?;
    verify_inclusion::<Blake3>(&Blake3::hash_leaf(&bytes), index, cp.size, &hashes, &cp.root.0)
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
    Ok(receipt.to_json())
}
