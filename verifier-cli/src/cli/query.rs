//! `cairn-verify query`: ask a ledger's query API, and print only the
//! receipts it has proven included under a checkpoint the log key signed.

use std::path::PathBuf;

use cairn_api::wire::QueryHit;
use cairn_host::outln;
use cairn_verify::filters::{FilterArgs, Filters};
use cairn_verify::query::{Fault, MAX_QUERY_RESULTS, query};
use cairn_verify::source::Ledger;
use cairn_verify::trust::Trust;
use cairn_verify::{EXIT_CANNOT_EVALUATE, EXIT_TAMPERED, EXIT_VALID};
use serde_json::json;

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

/// Run it; returns the exit code.
pub fn run(args: &Args) -> u8 {
    if args.limit == 0 || args.limit > MAX_QUERY_RESULTS {
        return super::usage(&format!("--limit must be 1 to {MAX_QUERY_RESULTS}"));
    }
    let filters = match Filters::new(args.filters.clone()) {
        Ok(f) => f,
        Err(e) => return super::usage(&e),
    };
    let trust = match Trust::load(&args.trust) {
        Ok(t) => t,
        Err(e) => return super::usage(&format!("trust file {}: {e}", args.trust.display())),
    };
    let ledger = match Ledger::new(&args.url) {
        Ok(l) => l,
        Err(e) => return super::usage(&e),
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
        let receipts: Vec<QueryHit> = outcome
            .proven
            .iter()
            .map(|(index, r)| QueryHit {
                index: *index,
                receipt: r.to_json(),
            })
            .collect();
        let v = json!({
            "command": "query",
            "verdict": if code == EXIT_VALID { "VALID" } else { "INVALID" },
            "valid": code == EXIT_VALID,
            "exit_code": code,
            "checkpoint_size": outcome.size,
            "receipts": receipts,
            "failures": outcome.failures,
            "not_checked": not_checked,
        });
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        outln!(
            "cairn-verify query: {} receipts proven included under the signed checkpoint of size {}",
            outcome.proven.len(),
            outcome.size
        );
        for (index, r) in &outcome.proven {
            let p = r.parts();
            outln!(
                "  {:>9}  {}  {:<7}  {:<22}  {:<18}  {}:{}",
                index,
                p.decided_at,
                p.decision,
                p.request.subject.id,
                p.request.action.name,
                p.request.resource.kind,
                p.request.resource.id,
            );
        }
        if !outcome.failures.is_empty() {
            outln!("Failures ({}):", outcome.failures.len());
            for f in &outcome.failures {
                outln!("  - {f}");
            }
        }
        outln!("Not checked:");
        for n in not_checked {
            outln!("  - {n}");
        }
        outln!(
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
