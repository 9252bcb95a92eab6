//! `cairn-gate keygen | register | publish | decide`: a gate's day-to-day
//! operations against a ledger over HTTP(S).
//!
//! Exit codes: 0 done (for `decide`: the action is allowed); 1 refused
//! (`decide`: not allowed; `register`/`publish`: the ledger said no);
//! 3 a file could not be read or the ledger could not be reached; 4 usage.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn_api::entry::{KeyAction, KeyRole, KeyStatement, POLICY_CONTENT_TYPE};
use cairn_api::keys::{KeyType, VerifierKey};
use cairn_api::receipt::{Approval, Initiator, LineageLink, Mode};
use cairn_gate::admin::{AdminError, LedgerArgs};
use cairn_gate::approval::{Approver, TerminalApprover, WebhookApprover};
use cairn_gate::client::{HttpLedger, Ledger, LedgerError};
use cairn_gate::gate::{Gate, GateConfig, Logged, ToolCall, new_id};
use cairn_gate::spool::Spool;
use cairn_host::{keyfile, outln};

/// Largest request file `decide` reads.
const MAX_REQUEST_BYTES: u64 = 256 * 1024;

/// A failure and its exit code.
pub struct Fail(pub u8, pub String);

fn io(e: impl std::fmt::Display) -> Fail {
    Fail(3, e.to_string())
}

/// An admin call's failure, with its exit code: 4 for a missing or bad
/// credential, 3 when the ledger cannot be reached, 1 when it refused.
fn admin_fail(e: AdminError) -> Fail {
    Fail(e.exit_code(), e.to_string())
}

fn vkey(arg: &str) -> Result<VerifierKey, Fail> {
    keyfile::read_vkey_arg(arg).map_err(|e| match e {
        keyfile::KeyFileError::Key { .. } => Fail(4, format!("key: {e}")),
        other => Fail(3, other.to_string()),
    })
}

/// Print a JSON result on stdout.
pub(crate) fn print_json(v: &serde_json::Value) {
    outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub(crate) fn now() -> Result<cairn_api::timestamp::Timestamp, Fail> {
    cairn_host::clock::now().map_err(io)
}

/// `keygen --name NAME --out FILE`: a gate (or operator, or authority)
/// signing key, 0600; its verifier key on stdout.
pub fn keygen(name: &str, out: &Path, json: bool) -> Result<(), Fail> {
    let k = keyfile::new_key(name, KeyType::Ed25519).map_err(|e| match e {
        keyfile::KeyFileError::Key { .. } => Fail(4, e.to_string()),
        other => io(other),
    })?;
    keyfile::write_secret(out, &k.to_private_string()).map_err(io)?;
    if json {
        print_json(&serde_json::json!({
            "command": "keygen",
            "name": k.name(),
            "key_ref": k.verifier().key_ref(),
            "verifier_key": k.verifier().to_string(),
            "out": out.display().to_string(),
        }));
    } else {
        outln!("{}", k.verifier());
    }
    Ok(())
}

/// `register`: an authority-signed key statement, posted.
pub fn register(
    ledger: &LedgerArgs,
    authority_key: &Path,
    key: &str,
    role: KeyRole,
    revoke: bool,
    reason: Option<String>,
    json: bool,
) -> Result<(), Fail> {
    let authority = keyfile::read_key(authority_key).map_err(io)?;
    let st = KeyStatement {
        action: if revoke { KeyAction::Revoke } else { KeyAction::Register },
        role,
        key: vkey(key)?,
        issued_at: now()?,
        reason,
    };
    let body = st.sign(&authority).map_err(|e| Fail(4, e.to_string()))?;
    let ack = ledger.admin().and_then(|a| a.post_key(&body)).map_err(admin_fail)?;
    let done = if revoke { "revoked" } else { "registered" };
    if json {
        print_json(&serde_json::json!({
            "command": "register",
            "action": done,
            "role": role,
            "key_ref": st.key.key_ref(),
            "ack": ack,
        }));
    } else {
        outln!("{done} {role} key {} at index {}", st.key.key_ref(), ack.index);
    }
    Ok(())
}

/// `publish`: pack (if a directory), sign as an authority, archive.
pub fn publish(ledger: &LedgerArgs, authority_key: &Path, bundle: &Path, json: bool) -> Result<(), Fail> {
    let authority = keyfile::read_key(authority_key).map_err(io)?;
    let b = crate::policy_cli::load_bundle(bundle).map_err(|e| Fail(1, e))?;
    let body = cairn_api::cose::sign(b.as_bytes(), POLICY_CONTENT_TYPE, &authority).map_err(io)?;
    let limit = cairn_api::entry::MAX_ENTRY_BODY_BYTES;
    if body.len() > limit {
        return Err(Fail(
            1,
            format!(
                "{}: the signed bundle is {} bytes; the log archives entries of at most {limit} bytes \
                 (every entry fits a C2SP tlog-tiles entry bundle): split the policy into bundles by surface",
                bundle.display(),
                body.len()
            ),
        ));
    }
    let ack = ledger.admin().and_then(|a| a.post_policy(&body)).map_err(admin_fail)?;
    let m = b.manifest();
    if json {
        print_json(&serde_json::json!({
            "command": "publish",
            "bundle_id": m.bundle_id,
            "revision": m.revision,
            "engine": {"name": m.engine.name, "version": m.engine.version},
            "bundle_hash": b.hash(),
            "ack": ack,
        }));
    } else {
        outln!(
            "archived bundle {} revision {} ({}) at index {}",
            m.bundle_id,
            m.revision,
            b.hash(),
            ack.index
        );
    }
    Ok(())
}

/// `decide`'s arguments.
#[derive(clap::Args, Debug)]
pub struct DecideArgs {
    /// The tool call, JSON: `{"request": {subject, action, resource,
    /// context?}, "lineage"?: [...], "initiator"?: {...}}`. The gate reads
    /// its own clock and asks for approval itself, so the `nd_inputs` and
    /// `approval` of a `policy eval` input are not taken from the file: if
    /// present they are ignored, and `decide` says so on stderr.
    request: PathBuf,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// The gate's signing key file.
    #[arg(long)]
    gate_key: PathBuf,
    /// The log's verifier key (vkey or @FILE): acknowledgements must prove under it.
    #[arg(long)]
    log_key: String,
    /// The policy: a bundle file or directory (archived in the ledger).
    #[arg(long)]
    bundle: PathBuf,
    /// Where unacknowledged SILENCE receipts wait.
    #[arg(long, default_value = "cairn-spool")]
    spool: PathBuf,
    /// The idempotency key (the same for every retry of this call).
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Record but never block.
    #[arg(long)]
    shadow: bool,
    /// Who approves: `terminal` or `webhook:URL`.
    #[arg(long)]
    approver: Option<String>,
    /// Longest wait for the ledger, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    deadline_ms: u64,
    /// Longest wait for an approval, in seconds.
    #[arg(long, default_value_t = 60)]
    approval_s: u64,
    /// Also write the signed receipt (`<receipt_id>.cose`) and, when it was
    /// logged, its proof (`<receipt_id>.tlog-proof`) here, for
    /// `cairn-verify receipt`.
    #[arg(long)]
    save: Option<PathBuf>,
}

/// What `decide` reads: a tool call. `nd_inputs` and `approval` are
/// accepted so that a `policy eval` input can be given as is, and ignored.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideInput {
    /// Read by [`cairn_gate_server::authzen::recordable_request`], as `serve` reads it.
    request: serde_json::Value,
    #[serde(default)]
    lineage: Vec<LineageLink>,
    #[serde(default)]
    initiator: Option<Initiator>,
    #[serde(default)]
    nd_inputs: Option<serde_json::Value>,
    #[serde(default)]
    approval: Option<Approval>,
}

/// `decide`: one call through a gate; the outcome as JSON.
pub fn decide(a: &DecideArgs) -> Result<bool, Fail> {
    let raw = cairn_host::file::read_bounded(&a.request, MAX_REQUEST_BYTES).map_err(io)?;
    let input: DecideInput =
        serde_json::from_slice(&raw).map_err(|e| Fail(4, format!("{}: not a tool call: {e}", a.request.display())))?;
    if input.nd_inputs.is_some() || input.approval.is_some() {
        eprintln!(
            "cairn-gate decide: {}: nd_inputs and approval are ignored (the gate reads its own clock and asks for approval itself)",
            a.request.display()
        );
    }
    let request = cairn_gate_server::authzen::recordable_request(input.request)
        .map_err(|e| Fail(4, format!("{}: {e}", a.request.display())))?;
    let key = keyfile::read_key(&a.gate_key).map_err(io)?;
    let bundle = crate::policy_cli::load_bundle(&a.bundle).map_err(|e| Fail(1, e))?;
    let approver: Option<Arc<dyn Approver>> = match a.approver.as_deref() {
        None => None,
        Some("terminal") => Some(Arc::new(TerminalApprover::stdio())),
        Some(w) if w.starts_with("webhook:") => Some(Arc::new(WebhookApprover::new(&w["webhook:".len()..]))),
        Some(other) => return Err(Fail(4, format!("--approver {other}: terminal or webhook:URL"))),
    };
    let ledger: Arc<dyn Ledger> = Arc::new(HttpLedger::new(&a.ledger.url, vkey(&a.log_key)?));
    let spool = Spool::open(&a.spool).map_err(io)?;
    let gate = Gate::new(
        key,
        bundle,
        ledger,
        spool,
        approver,
        GateConfig {
            mode: if a.shadow { Mode::Shadow } else { Mode::Enforce },
            submit_deadline: Duration::from_millis(a.deadline_ms),
            approval_deadline: Duration::from_secs(a.approval_s),
        },
    )
    .map_err(|e| Fail(1, e.to_string()))?;
    // Whatever waits in the spool goes first.
    let delivered = gate.deliver_spool();
    let call = ToolCall {
        request,
        lineage: input.lineage,
        initiator: input.initiator,
        idempotency_key: match &a.idempotency_key {
            Some(k) => k.clone(),
            None => new_id(now()?).map_err(io)?,
        },
    };
    let out = gate.authorize(&call).map_err(|e| Fail(1, e.to_string()))?;
    let receipt_id = out.receipt.parts().receipt_id.clone();
    let mut saved = Vec::new();
    if let Some(dir) = &a.save {
        std::fs::create_dir_all(dir).map_err(|e| io(format!("--save {}: {e}", dir.display())))?;
        let mut write = |name: String, bytes: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).map_err(|e| io(format!("{}: {e}", p.display())))?;
            saved.push(p.display().to_string());
            Ok::<_, Fail>(())
        };
        write(format!("{receipt_id}.cose"), &out.body)?;
        if let Logged::Durable(ack) = &out.logged {
            write(format!("{receipt_id}.tlog-proof"), ack.proof.to_text().as_bytes())?;
        }
    }
    let logged = match &out.logged {
        Logged::Durable(ack) => {
            serde_json::json!({"durable": true, "index": ack.index, "existing": ack.existing, "tlog_proof": ack.proof.to_text()})
        }
        Logged::Spooled {
            cause,
            silence,
            spooled_to,
        } => {
            let silence_id = &silence.parts().receipt_id;
            eprintln!(
                "cairn-gate decide: failed closed: the ledger did not acknowledge receipt {receipt_id} ({cause}); \
                 SILENCE receipt {silence_id} spooled to {} for delivery",
                spooled_to.display()
            );
            let mut v = serde_json::json!({
                "durable": false,
                "spooled": true,
                "cause": cause.to_string(),
                "silence_receipt_id": silence_id,
                "spooled_to": spooled_to.display().to_string(),
            });
            if matches!(cause, LedgerError::BadAcknowledgement(_)) {
                let warning = format!(
                    "the ledger answered, but its acknowledgement does not prove receipt {receipt_id} under --log-key: \
                     that receipt may be logged as well as the SILENCE receipt {silence_id}, which names it; \
                     check --log-key"
                );
                eprintln!("cairn-gate decide: {warning}");
                v["warning"] = serde_json::Value::String(warning);
            }
            v
        }
        Logged::Refused(e) => serde_json::json!({"durable": false, "refused": e.to_string()}),
    };
    let set_aside = gate.spool().set_aside();
    let spool = match (delivered, set_aside) {
        (Ok(d), Ok(set_aside)) => {
            if d.delivered + d.rejected + d.held > 0 || set_aside > 0 {
                eprintln!(
                    "cairn-gate decide: spool {}: {} delivered, {} held for a later delivery, {} waiting; \
                     {} refused now and set aside in {}/ ({set_aside} set aside in all: investigate them)",
                    a.spool.display(),
                    d.delivered,
                    d.held,
                    d.waiting,
                    d.rejected,
                    cairn_gate::spool::REJECTED_DIR,
                );
            }
            serde_json::json!({
                "dir": a.spool.display().to_string(),
                "delivered": d.delivered,
                "rejected": d.rejected,
                "held": d.held,
                "waiting": d.waiting,
                "set_aside_total": set_aside,
            })
        }
        (Err(e), _) | (_, Err(e)) => serde_json::json!({"dir": a.spool.display().to_string(), "error": e.to_string()}),
    };
    let v = serde_json::json!({
        "allowed": out.allowed,
        "decision": out.decided.as_str(),
        "reason": out.reason,
        "receipt_id": receipt_id,
        "logged": logged,
        "spool": spool,
        "saved": saved,
    });
    outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(out.allowed)
}
