//! `cairn-tools demo`: the whole system on the embedded default, told as
//! the seed stories.
//!
//! An embedded ledger (redb in `OUT/ledger.redb`, the group-commit
//! sequencer, the HTTP API on a loopback port) gets the gate and operator
//! keys registered and three policy bundles archived (authority-signed).
//! Gates then talk to it over HTTP exactly as to a remote ledger:
//!
//! 1. a devops agent "cleans up staging" on a production target: blocked;
//! 2. the same on staging: permitted, durably logged, proof checked;
//! 3. an agent drops a production database: approval asked, nobody
//!    answers in time: TIMED_OUT, denied;
//! 4. a payment whose acknowledgement is lost: the gate fails closed; the
//!    agent retries with the same idempotency key and the ledger answers
//!    with the first entry: one payment, one entry;
//! 5. a break-glass override during an incident: permitted, counter-signed
//!    by an operator, flagged;
//! 6. the ledger stops: the gate fails closed and spools a SILENCE
//!    receipt; the ledger comes back and the spool is delivered.
//!
//! Two witnesses (`cairn-witness`, [`crate::demo_witnesses`]) cosign the
//! ledger's checkpoints all along; at the end the gate's saved proofs are
//! upgraded to the witnessed checkpoint (`cairn-gate proofs refresh`), and
//! cairn-verify's audit (with a 2-of-2 witness quorum) and replay run on
//! the ledger and print their reports. Every receipt the ledger acknowledged is written to OUT with
//! its tlog-proof. The keys are public TEST keys.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_api::entry::{KeyAction, KeyRole, KeyStatement, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::keys::SignerKey;
use cairn_api::policy::Bundle;
use cairn_api::receipt::{Mode, Receipt};
use cairn_api::timestamp::Timestamp;
use cairn_gate::approval::{ApprovalAnswer, ApprovalRequest, Approver};
use cairn_gate::client::{Acknowledged, Http, HttpLedger, Ledger, LedgerError};
use cairn_gate::gate::{Authorization, Gate, GateConfig, Logged, Override, ToolCall};
use cairn_gate::spool::Spool;
use cairn_host::outln;
use cairn_ledger::embedded::{EmbeddedLedger, LedgerSetup};

/// The devops-staging rules, as in `examples/policies/devops-staging/cairn-rules`.
const RULES: &str = include_str!("../../examples/policies/devops-staging/cairn-rules/rules.toml");
/// The bundles the demo archives, compiled in from
/// `examples/policies/<scenario>/cairn-rules/` (so the demo runs anywhere).
const SCENARIO_DIRS: [(&str, &str, &str); 3] = [
    (
        "devops-staging",
        include_str!("../../examples/policies/devops-staging/cairn-rules/bundle.json"),
        RULES,
    ),
    (
        "databases",
        include_str!("../../examples/policies/databases/cairn-rules/bundle.json"),
        include_str!("../../examples/policies/databases/cairn-rules/rules.toml"),
    ),
    (
        "payments",
        include_str!("../../examples/policies/payments/cairn-rules/bundle.json"),
        include_str!("../../examples/policies/payments/cairn-rules/rules.toml"),
    ),
];
/// The admin credential of the demo's embedded ledger.
const DEMO_TOKEN: &str = "demo-admin-token";

/// Arguments of `cairn-tools demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to write the ledger database, keys, spool, receipts and proofs.
    #[arg(long, default_value = "cairn-demo")]
    out: PathBuf,
    /// How long the approval in story 3 waits for an answer, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    approval_ms: u64,
}

pub(crate) fn now() -> Result<Timestamp, String> {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis();
    Timestamp::from_millis(u64::try_from(ms).map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

fn write(path: PathBuf, bytes: impl AsRef<[u8]>) -> Result<(), String> {
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The devops-staging bundle (compiled in, so `populate` and `load` need no
/// files; the same bytes as `cairn-gate policy pack` of its directory).
pub(crate) fn bundle() -> Result<Bundle, String> {
    scenario_bundle("devops-staging")
}

pub(crate) fn key_statement(role: KeyRole, key: &SignerKey) -> Result<Vec<u8>, String> {
    key_statement_by(role, key, &examples::authority_key())
}

/// A registration of `key` in `role`, signed by `authority`.
pub(crate) fn key_statement_by(role: KeyRole, key: &SignerKey, authority: &SignerKey) -> Result<Vec<u8>, String> {
    KeyStatement {
        action: KeyAction::Register,
        role,
        key: key.verifier(),
        issued_at: now()?,
        reason: None,
    }
    .sign(authority)
    .map_err(|e| e.to_string())
}

/// The ledger's newest checkpoint size (the last of `/v1/checkpoints`;
/// the demo's log has a few dozen).
fn ledger_size(url: &str) -> Result<u64, String> {
    match Http::new(url).get("/v1/checkpoints", 1 << 20, Duration::from_secs(5)) {
        Ok((200, body)) => serde_json::from_slice::<cairn_api::wire::CheckpointList>(&body)
            .map_err(|e| e.to_string())?
            .checkpoints
            .last()
            .map(|c| c.size)
            .ok_or_else(|| "the ledger has no checkpoint".to_owned()),
        Ok((s, _)) => Err(format!("/v1/checkpoints: HTTP {s}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Run `fut` on a new multi-threaded runtime (the embedded ledger's).
pub(crate) fn block_on<T>(fut: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(fut)
}

/// A ledger connection that loses the answer: the receipt really reaches
/// the ledger, the acknowledgement never reaches the gate (a network cut
/// on the way back).
struct LostAnswer(HttpLedger);

impl Ledger for LostAnswer {
    fn submit(&self, body: &[u8], deadline: Duration) -> Result<Acknowledged, LedgerError> {
        let _ = self.0.submit(body, deadline);
        Err(LedgerError::Unavailable(
            "no answer within the deadline (the acknowledgement was lost on the way back)".into(),
        ))
    }
}

/// An approver who never answers.
struct Away;

impl Approver for Away {
    fn channel(&self) -> &str {
        "webhook"
    }
    fn ask(&self, r: &ApprovalRequest, deadline: Duration) -> ApprovalAnswer {
        outln!("     approval asked: \"{}\" ... no answer", r.binding_message);
        std::thread::sleep(deadline);
        ApprovalAnswer::timed_out()
    }
}

struct Demo {
    out: PathBuf,
    log_key: SignerKey,
    url: String,
    written: usize,
}

impl Demo {
    fn ledger(&self) -> Arc<dyn Ledger> {
        Arc::new(HttpLedger::new(&self.url, self.log_key.verifier()))
    }

    fn gate(
        &self,
        scenario: &str,
        ledger: Arc<dyn Ledger>,
        approver: Option<Arc<dyn Approver>>,
    ) -> Result<Gate, String> {
        let bundle = scenario_bundle(scenario)?;
        Gate::new(
            examples::gate_key(),
            bundle,
            ledger,
            Spool::open(&self.out.join("spool")).map_err(|e| e.to_string())?,
            approver,
            GateConfig {
                mode: Mode::Enforce,
                submit_deadline: Duration::from_secs(2),
                approval_deadline: Duration::from_secs(60),
            },
        )
        .map_err(|e| e.to_string())
    }

    /// Print an outcome and keep what the ledger acknowledged.
    fn show(&mut self, a: &Authorization) -> Result<(), String> {
        let p = a.receipt.parts();
        outln!(
            "     {} {} on {}:{} -> {} ({})",
            p.request.subject.id,
            p.request.action.name,
            p.request.resource.kind,
            p.request.resource.id,
            a.decided.as_str(),
            if a.allowed { "ALLOWED" } else { "BLOCKED" }
        );
        outln!("     the agent is told: {}", a.reason.user_message);
        match &a.logged {
            Logged::Durable(ack) => {
                outln!(
                    "     logged durably at index {}{}; proof checked against the log key",
                    ack.index,
                    if ack.existing {
                        " (the entry the ledger already had)"
                    } else {
                        ""
                    }
                );
                self.keep(&a.receipt, &a.body, ack)?;
            }
            Logged::Spooled { silence, cause, .. } => outln!(
                "     not acknowledged ({cause}): fail closed; SILENCE receipt {} spooled",
                silence.parts().receipt_id
            ),
            Logged::Refused(e) => outln!("     the ledger refused it: {e}"),
        }
        Ok(())
    }

    fn keep(&mut self, receipt: &Receipt, body: &[u8], ack: &Acknowledged) -> Result<(), String> {
        let stem = format!("receipt-{:04}", ack.index);
        write(self.out.join(format!("{stem}.cose")), body)?;
        write(self.out.join(format!("{stem}.tlog-proof")), ack.proof.to_text())?;
        let json = serde_json::to_string_pretty(&receipt.to_json()).map_err(|e| e.to_string())?;
        write(self.out.join(format!("{stem}.json")), json + "\n")?;
        self.written += 1;
        Ok(())
    }
}

/// A scenario's bundle, packed exactly as `cairn-gate policy pack` packs
/// its directory.
fn scenario_bundle(scenario: &str) -> Result<Bundle, String> {
    let (_, meta, rules) = SCENARIO_DIRS
        .iter()
        .find(|(name, _, _)| *name == scenario)
        .ok_or_else(|| format!("no scenario {scenario}"))?;
    let mut files = std::collections::BTreeMap::new();
    files.insert("rules.toml".to_owned(), rules.as_bytes().to_vec());
    let path = PathBuf::from(format!("examples/policies/{scenario}/cairn-rules/bundle.json"));
    cairn_gate::policy_dir::pack_parts(&path, meta.as_bytes(), files).map_err(|e| e.to_string())
}

fn call(subject: &str, action: &str, surface: &str, target: &str, key: &str) -> ToolCall {
    crate::scenarios::tool_call(subject, action, surface, target, key)
}

/// Run the demo.
pub fn run(args: &Args) -> Result<(), String> {
    let started = std::time::Instant::now();
    let out = &args.out;
    let keys_dir = out.join("keys");
    std::fs::create_dir_all(&keys_dir).map_err(|e| format!("cannot create {}: {e}", keys_dir.display()))?;
    // A fresh log each run: the demo owns these files.
    for old in std::fs::read_dir(out).map_err(|e| e.to_string())?.flatten() {
        let name = old.file_name().to_string_lossy().into_owned();
        if name.starts_with("receipt-") || name == "ledger.redb" || name == "audit-state.json" {
            let _ = std::fs::remove_file(old.path());
        }
    }
    let _ = std::fs::remove_dir_all(out.join("spool"));
    let (log, gate, operator, authority) = (
        examples::log_key(),
        examples::gate_key(),
        examples::operator_key(),
        examples::authority_key(),
    );
    for (name, key) in [
        ("log", &log),
        ("gate", &gate),
        ("operator", &operator),
        ("authority", &authority),
    ] {
        write(keys_dir.join(format!("{name}.vkey")), format!("{}\n", key.verifier()))?;
    }
    // The data directory's public log key, as `cairn-ledger serve` keeps it:
    // `cairn-ledger fsck|export|export-tiles --data-dir OUT` read it.
    write(
        out.join(cairn_host::keyfile::LOG_VKEY_FILE),
        format!("{}\n", log.verifier()),
    )?;
    let witnesses = crate::demo_witnesses::DemoWitnesses::start(out)?;
    write(out.join("witnesses.txt"), &witnesses.statements)?;
    let trust_path = out.join("trust.txt");
    write(
        trust_path.clone(),
        format!(
            "# cairn demo trust file (public TEST keys)\nlog {}\nauthority {}\n{}",
            log.verifier(),
            authority.verifier(),
            witnesses.statements
        ),
    )?;

    let mut setup =
        LedgerSetup::new(&out.join("ledger.redb"), log.clone(), vec![authority.verifier()]).admin_token(DEMO_TOKEN);
    setup.config.witnessing = Some(cairn_ledger::witnessing::WitnessingConfig {
        policy: witnesses.policy.clone(),
        interval: crate::demo_witnesses::DEMO_INTERVAL,
        timeout: cairn_ledger::witnessing::DEFAULT_TIMEOUT,
    });
    let ledger = EmbeddedLedger::start(setup.clone()).map_err(|e| e.to_string())?;
    let mut demo = Demo {
        out: out.clone(),
        log_key: log.clone(),
        url: ledger.url(),
        written: 0,
    };
    outln!(
        "cairn demo: embedded ledger at {} ({}), log key {}",
        ledger.url(),
        out.join("ledger.redb").display(),
        log.verifier().key_ref()
    );
    outln!(
        "  witnessed by {} (cairn-witness, 2-of-2 quorum; policy in {})",
        witnesses
            .policy
            .witnesses()
            .iter()
            .map(|w| format!("{} at {}", w.name, w.url.as_deref().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(" and "),
        out.join("witnesses.txt").display()
    );
    let admin = Http::new(&demo.url);
    let auth_header = format!("Bearer {DEMO_TOKEN}");
    let post = |path: &str, body: &[u8]| -> Result<(), String> {
        match admin.post(
            path,
            "application/cose",
            &[("Authorization", &auth_header)],
            body,
            Duration::from_secs(10),
        ) {
            Ok((200 | 201, _)) => Ok(()),
            Ok((s, b)) => Err(format!("{path}: HTTP {s}: {}", String::from_utf8_lossy(&b))),
            Err(e) => Err(e.to_string()),
        }
    };
    post("/v1/keys", &key_statement(KeyRole::Gate, &gate)?)?;
    post("/v1/keys", &key_statement(KeyRole::Operator, &operator)?)?;
    outln!(
        "  registered gate key {} and operator key {}",
        gate.verifier().key_ref(),
        operator.verifier().key_ref()
    );
    for (s, _, _) in SCENARIO_DIRS {
        let b = scenario_bundle(s)?;
        post(
            "/v1/policies",
            &cairn_api::cose::sign(b.as_bytes(), POLICY_CONTENT_TYPE, &authority).map_err(|e| e.to_string())?,
        )?;
        outln!("  archived policy bundle {s} ({})", b.hash());
    }

    outln!("\n1. A devops agent is told to clean up namespace \"web\" on staging; the target it picks is production.");
    let devops = demo.gate("devops-staging", demo.ledger(), None)?;
    let a = devops
        .authorize(&call(
            "agent:devops-helper",
            "delete_pod",
            "eks",
            "production:web",
            "story-1",
        ))
        .map_err(|e| e.to_string())?;
    demo.show(&a)?;

    outln!("\n2. The same clean-up on staging.");
    let a = devops
        .authorize(&call(
            "agent:devops-helper",
            "delete_pod",
            "eks",
            "staging:web",
            "story-2",
        ))
        .map_err(|e| e.to_string())?;
    demo.show(&a)?;

    outln!("\n3. An agent drops a production database; the policy wants a human, who does not answer.");
    let mut dba = demo.gate("databases", demo.ledger(), Some(Arc::new(Away)))?;
    dba.set_approval_deadline(Duration::from_millis(args.approval_ms));
    let a = dba
        .authorize(&call("agent:dba", "DROP", "postgres", "production/orders", "story-3"))
        .map_err(|e| e.to_string())?;
    demo.show(&a)?;

    outln!("\n4. A payment of 250.00; the ledger logs it but the acknowledgement is lost; the agent retries.");
    let mut pay = call("agent:payments", "transfer", "payments", "account/acme", "payment-7781");
    pay.request.action.properties = serde_json::json!({"amount_cents": 25_000, "to": "account/supplier-42"})
        .as_object()
        .cloned();
    let lossy = demo.gate(
        "payments",
        Arc::new(LostAnswer(HttpLedger::new(&demo.url, log.verifier()))),
        None,
    )?;
    let a = lossy.authorize(&pay).map_err(|e| e.to_string())?;
    demo.show(&a)?;
    outln!("     the agent retries with the same idempotency key:");
    let payments = demo.gate("payments", demo.ledger(), None)?;
    let a = payments.authorize(&pay).map_err(|e| e.to_string())?;
    demo.show(&a)?;

    outln!("\n5. Incident: a stuck production pod; an operator grants a break-glass override.");
    let a = devops
        .break_glass(
            &call("agent:devops-helper", "delete_pod", "eks", "production:web", "story-5"),
            &Override {
                operator: &operator,
                justification: "INC-4711: stuck pod blocks the rollback".into(),
                ttl: Duration::from_secs(900),
            },
        )
        .map_err(|e| e.to_string())?;
    demo.show(&a)?;
    outln!(
        "     recorded as break-glass: {}",
        a.receipt.parts().reason.admin_message
    );

    outln!("\n6. The ledger stops in the middle of the run.");
    let addr = ledger.addr();
    ledger.stop();
    let a = devops
        .authorize(&call(
            "agent:devops-helper",
            "get_pods",
            "eks",
            "staging:web",
            "story-6",
        ))
        .map_err(|e| e.to_string())?;
    demo.show(&a)?;
    setup.listen = addr;
    let ledger = EmbeddedLedger::start(setup).map_err(|e| e.to_string())?;
    let d = devops.deliver_spool().map_err(|e| e.to_string())?;
    outln!(
        "     the ledger is back: {} spooled SILENCE receipt(s) delivered, {} waiting, {} refused",
        d.delivered,
        d.waiting,
        d.rejected
    );

    let size = ledger_size(&demo.url)?;
    let names = witnesses.wait_cosigned(&demo.url, &log.verifier(), size, Duration::from_secs(30))?;
    let refreshed = cairn_gate::refresh::refresh_dir(out, &Http::new(&demo.url), &log.verifier(), &witnesses.policy)
        .map_err(|e| e.to_string())?;
    outln!(
        "\nThe witnesses cosigned the log at size {size} ({}); the gate's saved proofs now prove inclusion under \
         that witnessed checkpoint ({} of {} upgraded: cairn-gate proofs refresh).",
        names.join(", "),
        refreshed.count(|o| matches!(o, cairn_gate::refresh::Outcome::Upgraded(_))),
        refreshed.files.len()
    );
    outln!("\nThe auditor's view (cairn-verify, public keys only), against the live ledger:\n");
    let source = cairn_verify::source::Source::Ledger(cairn_verify::source::Ledger::new(&demo.url)?);
    let trust = cairn_verify::trust::Trust::load(&trust_path).map_err(|e| e.to_string())?;
    let report = cairn_verify::audit::audit(&source, &trust, Some(&out.join("audit-state.json")), true);
    print!("{}", report.human("audit"));
    outln!();
    let plan = cairn_verify::engine::ReplayPlan {
        filters: cairn_verify::filters::Filters::default(),
        with: cairn_verify::engine::ReplayWith::Archived,
    };
    let replayed = cairn_verify::replay::replay(&source, Some(trust), plan, true);
    print!("{}", replayed.human("replay"));
    ledger.stop();

    let d = out.display();
    outln!(
        "\n{} acknowledged receipts with their tlog-proofs are in {d}/ (finished in {:.1} s). Check one independently:",
        demo.written,
        started.elapsed().as_secs_f64()
    );
    outln!(
        "  cargo run -p cairn-verify -- receipt {d}/receipt-0006.cose --proof {d}/receipt-0006.tlog-proof --trust {d}/trust.txt --gate-key @{d}/keys/gate.vkey"
    );
    outln!("These are public TEST keys: never use them for anything real.");
    if report.exit_code() != 0 || replayed.exit_code() != 0 {
        return Err("the audit or the replay of the demo's log did not pass".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_bundles_are_the_packed_directories() {
        for (scenario, _, _) in SCENARIO_DIRS {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../examples/policies/{scenario}/cairn-rules"));
            let packed = cairn_gate::policy_dir::pack_dir(&dir).unwrap();
            assert_eq!(scenario_bundle(scenario).unwrap().hash(), packed.hash(), "{scenario}");
        }
        assert_eq!(bundle().unwrap().manifest().bundle_id, "devops-staging");
    }
}
