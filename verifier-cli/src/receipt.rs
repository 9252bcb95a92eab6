//! `cairn-verify receipt`: one receipt, its signature, its proof of inclusion.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use cairn_api::cose::MAX_COSE_BYTES;
use cairn_api::keys::VerifierKey;
use cairn_api::proof::{MAX_TLOG_PROOF_BYTES, TlogProof};
use cairn_api::receipt::SignedReceipt;
use serde_json::json;

use crate::{EXIT_CANNOT_EVALUATE, EXIT_TAMPERED, EXIT_USAGE, EXIT_VALID};

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

/// Read at most `limit` bytes; a longer file is an error, not truncated.
fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut buf = Vec::new();
    f.take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if buf.len() > limit {
        return Err(format!("{} is larger than {limit} bytes", path.display()));
    }
    Ok(buf)
}

fn load_key(arg: &str) -> Result<VerifierKey, String> {
    let text = match arg.strip_prefix('@') {
        Some(path) => {
            String::from_utf8(read_bounded(Path::new(path), 4096)?).map_err(|_| format!("{path} is not UTF-8"))?
        }
        None => arg.to_owned(),
    };
    VerifierKey::parse(text.trim()).map_err(|e| format!("key {}: {e}", text.trim()))
}

struct Report {
    checks: Vec<(bool, String)>,
    not_checked: Vec<String>,
    summary: Option<String>,
}

impl Report {
    fn ok(&mut self, what: String) {
        self.checks.push((true, what));
    }
    fn fail(&mut self, what: String) {
        self.checks.push((false, what));
    }
    fn valid(&self) -> bool {
        self.checks.iter().all(|c| c.0)
    }
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
    let body = match read_bounded(&args.receipt, MAX_COSE_BYTES) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cairn-verify: {e}");
            return EXIT_CANNOT_EVALUATE;
        }
    };
    let mut r = Report {
        checks: Vec::new(),
        not_checked: Vec::new(),
        summary: None,
    };
    check(
        args,
        &body,
        log_key.as_ref(),
        gate_key.as_ref(),
        operator_key.as_ref(),
        &mut r,
    );
    let valid = r.valid();
    if args.json {
        let out = json!({
            "receipt": args.receipt.display().to_string(),
            "valid": valid,
            "summary": r.summary,
            "checks": r.checks.iter().map(|(ok, what)| json!({"ok": ok, "check": what})).collect::<Vec<_>>(),
            "notChecked": r.not_checked,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        if let Some(s) = &r.summary {
            println!("{s}");
        }
        for (ok, what) in &r.checks {
            println!("  {} {what}", if *ok { "ok  " } else { "FAIL" });
        }
        if !r.not_checked.is_empty() {
            println!("not checked:");
            for n in &r.not_checked {
                println!("  - {n}");
            }
        }
        println!("result: {}", if valid { "VALID" } else { "INVALID" });
    }
    if valid { EXIT_VALID } else { EXIT_TAMPERED }
}

fn check(
    args: &Args,
    body: &[u8],
    log_key: Option<&VerifierKey>,
    gate_key: Option<&VerifierKey>,
    operator_key: Option<&VerifierKey>,
    r: &mut Report,
) {
    let signed = match SignedReceipt::parse(body) {
        Ok(m) => m,
        Err(e) => return r.fail(format!("signed receipt: {e}")),
    };
    r.ok("receipt payload valid (v1, canonical CBOR), gate named by the signing key".into());
    let receipt = match gate_key {
        Some(k) => match signed.verify(k) {
            Ok(rc) => {
                r.ok(format!("signature valid under gate key {}", k.key_ref()));
                rc
            }
            Err(e) => {
                r.fail(format!("gate signature: {e}"));
                signed.unverified()
            }
        },
        None => {
            r.not_checked.push(format!(
                "gate signature by {}: no --gate-key given (an audit learns gate keys from the log)",
                signed.kid()
            ));
            signed.unverified()
        }
    };
    let p = receipt.parts();
    r.summary = Some(format!(
        "receipt {}: {} {} on {}:{} by {} at {} (gate {})",
        p.receipt_id,
        p.decision,
        p.request.action.name,
        p.request.resource.kind,
        p.request.resource.id,
        p.request.subject.id,
        p.decided_at,
        p.gate
    ));
    if let Some(bg) = &p.break_glass {
        match operator_key {
            Some(k) => match receipt.verify_break_glass(k) {
                Ok(()) => r.ok(format!("break-glass counter-signature valid under {}", k.key_ref())),
                Err(e) => r.fail(format!("break-glass: {e}")),
            },
            None => r.not_checked.push(format!(
                "break-glass counter-signature by {}: no --operator-key given",
                bg.operator
            )),
        }
    }
    match (&args.proof, log_key) {
        (Some(path), Some(log)) => {
            let proof = match read_bounded(path, MAX_TLOG_PROOF_BYTES)
                .and_then(|b| TlogProof::parse(&b).map_err(|e| format!("tlog-proof: {e}")))
            {
                Ok(p) => p,
                Err(e) => return r.fail(e),
            };
            match proof.verify_body(body, log, &[]) {
                Ok((_, cp, _)) => r.ok(format!(
                    "included at index {} of {} (tree size {}), checkpoint signed by {}",
                    proof.index,
                    cp.origin,
                    cp.size,
                    log.key_ref()
                )),
                Err(e) => r.fail(format!("tlog-proof: {e}")),
            }
        }
        _ => r
            .not_checked
            .push("inclusion in the log: no --proof and --log-key given".into()),
    }
    r.not_checked
        .push("that the gate key was registered and not revoked at that point of the log: needs `audit`".into());
}
