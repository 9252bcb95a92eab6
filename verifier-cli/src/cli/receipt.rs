//! `cairn-verify receipt`: one receipt, its signature, its proof of inclusion.

use std::path::PathBuf;

use cairn_api::cose::MAX_COSE_BYTES;
use cairn_api::keys::VerifierKey;
use cairn_api::proof::MAX_TLOG_PROOF_BYTES;
use cairn_host::outln;
use cairn_verify::receipt;
use cairn_verify::{EXIT_CANNOT_EVALUATE, EXIT_TAMPERED, EXIT_USAGE, EXIT_VALID};
use serde_json::json;

/// Arguments of `cairn-verify receipt`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The signed receipt: a COSE_Sign1 file as the gate submitted it.
    receipt: PathBuf,
    /// Its C2SP tlog-proof file (index, inclusion proof, signed checkpoint).
    #[arg(long)]
    proof: Option<PathBuf>,
    /// The log's verifier key (C2SP vkey string, or @FILE).
    #[arg(long)]
    log_key: Option<String>,
    /// The gate's verifier key (C2SP vkey string, or @FILE).
    #[arg(long)]
    gate_key: Option<String>,
    /// An operator key for a break-glass counter-signature (vkey or @FILE).
    #[arg(long)]
    operator_key: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn load_key(arg: &str) -> Result<VerifierKey, String> {
    cairn_host::keyfile::read_vkey_arg(arg).map_err(|e| e.to_string())
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
    let (log_key, gate_key, operator_key) = match keys {
        Ok(k) => k,
        Err(e) => {
            eprintln!("cairn-verify: {e}");
            return EXIT_USAGE;
        }
    };
    if args.proof.is_some() != log_key.is_some() {
        eprintln!("cairn-verify: --proof and --log-key go together");
        return EXIT_USAGE;
    }
    let body = match cairn_host::file::read_bounded(&args.receipt, MAX_COSE_BYTES as u64) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cairn-verify: {e}");
            return EXIT_CANNOT_EVALUATE;
        }
    };
    let proof = args.proof.as_ref().map(|p| {
        cairn_host::file::read_bounded(p, MAX_TLOG_PROOF_BYTES as u64).map_err(|e| format!("tlog-proof: {e}"))
    });
    let r = receipt::check(&body, proof, log_key.as_ref(), gate_key.as_ref(), operator_key.as_ref());
    let valid = r.valid();
    if args.json {
        let out = json!({
            "receipt": args.receipt.display().to_string(),
            "valid": valid,
            "summary": r.summary,
            "checks": r.checks.iter().map(|(ok, what)| json!({"ok": ok, "check": what})).collect::<Vec<_>>(),
            "notChecked": r.not_checked,
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
    if valid { EXIT_VALID } else { EXIT_TAMPERED }
}
