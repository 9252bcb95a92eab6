//! `cairn-verify receipt`: one receipt, its signature, its proof of
//! inclusion — from files (`RECEIPT.cose --proof P.tlog-proof`, as a gate's
//! `decide --save` writes them) or fetched from a live ledger by index
//! (`--url URL --index N`), and checked the same way offline.

use std::path::PathBuf;

use cairn_api::cose::MAX_COSE_BYTES;
use cairn_api::entry::{Entry, EntryKind, MAX_ENTRY_BYTES};
use cairn_api::keys::VerifierKey;
use cairn_api::proof::MAX_TLOG_PROOF_BYTES;
use cairn_host::outln;
use cairn_verify::receipt;
use cairn_verify::source::Ledger;
use cairn_verify::{EXIT_CANNOT_EVALUATE, EXIT_TAMPERED, EXIT_USAGE, EXIT_VALID};
use serde_json::json;

/// Arguments of `cairn-verify receipt`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The signed receipt: a COSE_Sign1 file as the gate submitted it
    /// (or give --url and --index).
    #[arg(required_unless_present = "url", conflicts_with = "url")]
    receipt: Option<PathBuf>,
    /// Its C2SP tlog-proof file (index, inclusion proof, signed checkpoint).
    #[arg(long, conflicts_with = "url")]
    proof: Option<PathBuf>,
    /// A live ledger to fetch the receipt from (with --index): its entry,
    /// and a proof under its newest checkpoint.
    #[arg(long, requires = "index")]
    url: Option<String>,
    /// The index of the receipt's entry in the ledger at --url.
    #[arg(long, requires = "url")]
    index: Option<u64>,
    /// The log's verifier key (C2SP vkey string, or @FILE).
    #[arg(long)]
    log_key: Option<String>,
    /// The gate's verifier key (C2SP vkey string, or @FILE).
    #[arg(long)]
    gate_key: Option<String>,
    /// An operator key for a break-glass counter-signature (vkey or @FILE).
    #[arg(long)]
    operator_key: Option<String>,
    /// A trust file: its witnesses and quorum are required of the proof's
    /// checkpoint (and its log key is used when --log-key is not given and
    /// it names one log).
    #[arg(long)]
    trust: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn load_key(arg: &str) -> Result<VerifierKey, String> {
    cairn_host::keyfile::read_vkey_arg(arg).map_err(|e| e.to_string())
}

/// The receipt entry `index` of the ledger at `url` and its tlog-proof
/// (`GET /v1/proofs/tlog-proof`) (nothing believed yet: the checks
/// that follow are the same as for files).
fn fetch(url: &str, index: u64) -> Result<(Vec<u8>, Vec<u8>), String> {
    let ledger = Ledger::new(url)?;
    let bytes = ledger.get(&format!("/v1/entries/{index}")).map_err(|e| e.to_string())?;
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(format!("entry {index} is larger than any entry can be"));
    }
    let entry = Entry::from_cbor(&bytes).map_err(|e| format!("entry {index}: {e}"))?;
    if entry.kind() != EntryKind::Receipt {
        return Err(format!(
            "entry {index} is a {} entry, not a receipt",
            entry.kind().as_str()
        ));
    }
    // Against the newest cosigned checkpoint that covers it, when the
    // ledger is witnessed; else its newest checkpoint.
    let tlog = ledger
        .get_bounded(
            &format!("/v1/proofs/tlog-proof?index={index}"),
            MAX_TLOG_PROOF_BYTES as u64,
        )
        .map_err(|e| e.to_string())?;
    Ok((entry.body().to_vec(), tlog))
}

/// Run the subcommand; returns the exit code.
pub fn run(args: &Args) -> u8 {
    let keys = (|| {
        Ok::<_, String>((
            args.log_key.as_deref().map(load_key).transpose()?,
            args.gate_key.as_deref().map(load_key).transpose()?,
            args.operator_key.as_deref().map(load_key).transpose()?,
        ))
    })();
    let (mut log_key, gate_key, operator_key) = match keys {
        Ok(k) => k,
        Err(e) => {
            eprintln!("cairn-verify: {e}");
            return EXIT_USAGE;
        }
    };
    let trust = match args.trust.as_deref().map(cairn_verify::trust::Trust::load).transpose() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cairn-verify: --trust: {e}");
            return EXIT_USAGE;
        }
    };
    if let (None, Some(t), true) = (&log_key, &trust, args.proof.is_some() || args.url.is_some())
        && let [only] = t.log.as_slice()
    {
        log_key = Some(only.clone());
    }
    let with_proof = args.proof.is_some() || args.url.is_some();
    if with_proof != log_key.is_some() {
        eprintln!("cairn-verify: --log-key goes with --proof or --url (a proof is checked under the log key)");
        return EXIT_USAGE;
    }
    let (body, proof, name) = match (&args.receipt, &args.url, args.index) {
        (Some(path), _, _) => {
            let body = match cairn_host::file::read_bounded(path, MAX_COSE_BYTES as u64) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("cairn-verify: {e}");
                    return EXIT_CANNOT_EVALUATE;
                }
            };
            let proof = args.proof.as_ref().map(|p| {
                cairn_host::file::read_bounded(p, MAX_TLOG_PROOF_BYTES as u64).map_err(|e| format!("tlog-proof: {e}"))
            });
            (body, proof, path.display().to_string())
        }
        (None, Some(url), Some(index)) => match fetch(url, index) {
            Ok((body, proof)) => (body, Some(Ok(proof)), format!("{url} entry {index}")),
            Err(e) => {
                eprintln!("cairn-verify: could not evaluate: {e}");
                return EXIT_CANNOT_EVALUATE;
            }
        },
        _ => {
            eprintln!("cairn-verify: give a receipt file, or --url and --index");
            return EXIT_USAGE;
        }
    };
    let r = receipt::check_witnessed(
        &body,
        proof,
        log_key.as_ref(),
        gate_key.as_ref(),
        operator_key.as_ref(),
        trust.as_ref().map(|t| &t.witnesses),
    );
    let valid = r.valid();
    let code = if valid { EXIT_VALID } else { EXIT_TAMPERED };
    if args.json {
        let out = json!({
            "command": "receipt",
            "verdict": if valid { "VALID" } else { "INVALID" },
            "valid": valid,
            "exit_code": code,
            "receipt": name,
            "summary": r.summary,
            "checks": r.checks.iter().map(|(ok, what)| json!({"ok": ok, "check": what})).collect::<Vec<_>>(),
            "not_checked": r.not_checked,
        });
        outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        if let Some(s) = &r.summary {
            outln!("{s}");
        }
        for (ok, what) in &r.checks {
            outln!("  {} {what}", if *ok { "ok  " } else { "FAIL" });
        }
        if !r.not_checked.is_empty() {
            outln!("not checked:");
            for n in &r.not_checked {
                outln!("  - {n}");
            }
        }
        outln!("result: {}", if valid { "VALID" } else { "INVALID" });
    }
    code
}
