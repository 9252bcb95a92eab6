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
use cairn_api::policy::DecisionInput;
use cairn_api::receipt::Mode;
use cairn_gate::approval::{Approver, TerminalApprover, WebhookApprover};
use cairn_gate::client::{Http, HttpLedger, Ledger, LedgerError, problem};
use cairn_gate::gate::{Gate, GateConfig, Logged, ToolCall, new_id};
use cairn_gate::spool::Spool;
use cairn_ledger::keyfile;

/// Largest request file `decide` reads.
const MAX_REQUEST_BYTES: usize = 256 * 1024;
/// How long an admin call may take.
const ADMIN_DEADLINE: Duration = Duration::from_secs(30);

/// A failure and its exit code.
pub struct Fail(pub u8, pub String);

fn io(e: impl std::fmt::Display) -> Fail {
    Fail(3, e.to_string())
}

/// The ledger connection every networked command takes.
#[derive(clap::Args, Debug)]
pub struct LedgerArgs {
    /// The ledger's base URL.
    #[arg(long, env = "CAIRN_LEDGER_URL", default_value = "http://127.0.0.1:8417")]
    pub url: String,
    /// File with the admin bearer credential (else CAIRN_ADMIN_TOKEN).
    #[arg(long)]
    pub admin_token_file: Option<PathBuf>,
}

impl LedgerArgs {
    fn token(&self) -> Result<String, Fail> {
        match &self.admin_token_file {
            Some(p) => keyfile::read_secret(p).map_err(io),
            None => std::env::var("CAIRN_ADMIN_TOKEN")
                .map_err(|_| Fail(4, "give --admin-token-file or set CAIRN_ADMIN_TOKEN".into())),
        }
    }

    /// POST as admin; the ledger's JSON answer.
    pub(crate) fn admin_post(&self, path: &str, body: &[u8]) -> Result<serde_json::Value, Fail> {
        let client = Http::new(&self.url);
        let auth = format!("Bearer {}", self.token()?);
        let (status, bytes) = client
            .post(
                path,
                "application/cose",
                &[("Authorization", &auth)],
                body,
                ADMIN_DEADLINE,
            )
            .map_err(io)?;
        if status != 200 && status != 201 {
            return Err(match problem(status, &bytes) {
                e @ LedgerError::Unavailable(_) => Fail(3, e.to_string()),
                e => Fail(1, e.to_string()),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| Fail(3, format!("the ledger's answer is not JSON: {e}")))
    }
}

fn vkey(arg: &str) -> Result<VerifierKey, Fail> {
    keyfile::read_vkey_arg(arg).map_err(|e| match e {
        keyfile::KeyFileError::Key { .. } => Fail(4, format!("key: {e}")),
        other => Fail(3, other.to_string()),
    })
}

pub(crate) fn now() -> Result<cairn_api::timestamp::Timestamp, Fail> {
    crate::demo::now().map_err(io)
}

/// `keygen --name NAME --out FILE`: a gate (or operator, or authority)
/// signing key, 0600; its verifier key on stdout.
pub fn keygen(name: &str, out: &Path) -> Result<(), Fail> {
    let k = keyfile::new_key(name, KeyType::Ed25519).map_err(io)?;
    keyfile::write_secret(out, &k.to_private_string()).map_err(io)?;
    println!("{}", k.verifier());
    Ok(())
}

/// `register`: an authority-signed key statement, posted.
pub fn register(
    ledger: &LedgerArgs,
    authority_key: &Path,
    key: &str,
    role: &str,
    revoke: bool,
    reason: Option<String>,
) -> Result<(), Fail> {
    let authority = keyfile::read_key(authority_key).map_err(io)?;
    let role = match role {
        "gate" => KeyRole::Gate,
        "operator" => KeyRole::Operator,
        other => return Err(Fail(4, format!("--role {other}: gate or operator"))),
    };
    let st = KeyStatement {
        action: if revoke { KeyAction::Revoke } else { KeyAction::Register },
        role,
        key: vkey(key)?,
        issued_at: now()?,
        reason,
    };
    let body = st.sign(&authority).map_err(|e| Fail(4, e.to_string()))?;
    let v = ledger.admin_post("/v1/keys", &body)?;
    println!(
        "{} {} key {} at index {}",
        if revoke { "revoked" } else { "registered" },
        match role {
            KeyRole::Gate => "gate",
            _ => "operator",
        },
        st.key.key_ref(),
        v["index"]
    );
    Ok(())
}

/// `publish`: pack (if a directory), sign as an authority, archive.
pub fn publish(ledger: &LedgerArgs, authority_key: &Path, bundle: &Path) -> Result<(), Fail> {
    let authority = keyfile::read_key(authority_key).map_err(io)?;
    let b = crate::policy_cli::load_bundle(bundle).map_err(|e| Fail(1, e))?;
    let body = cairn_api::cose::sign(b.as_bytes(), POLICY_CONTENT_TYPE, &authority).map_err(io)?;
    let v = ledger.admin_post("/v1/policies", &body)?;
    println!(
        "archived bundle {} revision {} ({}) at index {}",
        b.manifest().bundle_id,
        b.manifest().revision,
        b.hash(),
        v["index"]
    );
    Ok(())
}

/// `decide`'s arguments.
#[derive(clap::Args, Debug)]
pub struct DecideArgs {
    /// The request: `{request, lineage?}` JSON (as `policy eval` takes; the
    /// gate reads its own clock and asks for approval itself).
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
}

/// `decide`: one call through a gate; the outcome as JSON.
pub fn decide(a: &DecideArgs) -> Result<bool, Fail> {
    let raw = cairn_gate::policy_dir::read_bounded(&a.request, MAX_REQUEST_BYTES).map_err(io)?;
    let input: DecisionInput =
        serde_json::from_slice(&raw).map_err(|e| Fail(4, format!("{}: not a request: {e}", a.request.display())))?;
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
    let _ = gate.deliver_spool();
    let call = ToolCall {
        request: input.request,
        lineage: input.lineage,
        initiator: None,
        idempotency_key: match &a.idempotency_key {
            Some(k) => k.clone(),
            None => new_id(now()?),
        },
    };
    let out = gate.authorize(&call).map_err(|e| Fail(1, e.to_string()))?;
    let logged = match &out.logged {
        Logged::Durable(ack) => {
            serde_json::json!({"durable": true, "index": ack.index, "existing": ack.existing, "tlog_proof": ack.proof.to_text()})
        }
        Logged::Spooled { cause, .. } => {
            serde_json::json!({"durable": false, "spooled": true, "cause": cause.to_string()})
        }
        Logged::Refused(e) => serde_json::json!({"durable": false, "refused": e.to_string()}),
    };
    let v = serde_json::json!({
        "allowed": out.allowed,
        "decision": out.decided.as_str(),
        "reason": out.reason,
        "receipt_id": out.receipt.parts().receipt_id,
        "logged": logged,
    });
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    Ok(out.allowed)
}
