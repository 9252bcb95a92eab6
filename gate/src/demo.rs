//! `cairn-gate demo`: the whole write path on the embedded default.
//!
//! Starts an embedded ledger (redb in `OUT/ledger.redb`, the group-commit
//! sequencer), registers the gate and operator keys and archives the
//! devops-staging policy bundle (both authority-signed), then acts as a
//! gate: for each request of the seed scenario it decides with the real
//! policy (clock read into `nd_inputs`), signs the receipt, submits it, and
//! writes what the ledger acknowledged durably (`.cose`, `.json`,
//! `.tlog-proof`). Finally it replays every logged receipt against the
//! bundle archived in the log. The keys are public TEST keys.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_api::entry::{KeyAction, KeyRole, KeyStatement, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::keys::SignerKey;
use cairn_api::policy::{Bundle, EngineRef, Policy, replay};
use cairn_api::receipt::Mode;
use cairn_api::timestamp::Timestamp;
use cairn_gate::record::{Stamp, sign_decision};
use cairn_gate::scenarios::requests;
use cairn_ledger::sequencer::{Sequencer, SequencerConfig};
use cairn_ledger::store::{RedbStore, Store};

/// The most receipts one demo writes.
const MAX_DEMO_RECEIPTS: u64 = 10_000;

/// The devops-staging rules, as in `examples/policies/devops-staging/cairn-rules`.
const RULES: &str = include_str!("../../examples/policies/devops-staging/cairn-rules/rules.toml");

/// Arguments of `cairn-gate demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to write the ledger database, keys, receipts and proofs.
    #[arg(long, default_value = "cairn-demo")]
    out: PathBuf,
    /// How many decisions to make and log (1 to 10000).
    #[arg(long, default_value_t = 12)]
    count: u64,
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

pub(crate) fn bundle() -> Result<Bundle, String> {
    let mut files = std::collections::BTreeMap::new();
    files.insert("rules.toml".to_owned(), RULES.as_bytes().to_vec());
    let engine = EngineRef {
        name: "cairn-rules".into(),
        version: "1".into(),
    };
    let created = Timestamp::parse_rfc3339("2026-11-21T00:00:00.000Z").map_err(|e| e.to_string())?;
    Bundle::new("devops-staging", 1, engine, created, files).map_err(|e| e.to_string())
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

/// Run the demo.
pub fn run(args: &Args) -> Result<(), String> {
    if args.count == 0 || args.count > MAX_DEMO_RECEIPTS {
        return Err(format!("--count must be 1 to {MAX_DEMO_RECEIPTS}"));
    }
    block_on(run_async(args))
}

/// Run `fut` on a new multi-threaded runtime (the embedded ledger's).
pub(crate) fn block_on<T>(fut: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(fut)
}

async fn run_async(args: &Args) -> Result<(), String> {
    let keys_dir = args.out.join("keys");
    std::fs::create_dir_all(&keys_dir).map_err(|e| format!("cannot create {}: {e}", keys_dir.display()))?;
    let db = args.out.join("ledger.redb");
    // A fresh log each run: the demo owns this one file.
    if db.exists() {
        std::fs::remove_file(&db).map_err(|e| format!("cannot remove {}: {e}", db.display()))?;
    }
    for old in std::fs::read_dir(&args.out).map_err(|e| e.to_string())?.flatten() {
        let name = old.file_name().to_string_lossy().into_owned();
        if name.starts_with("receipt-") {
            let _ = std::fs::remove_file(old.path());
        }
    }
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

    // The embedded ledger.
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(&db).map_err(|e| e.to_string())?);
    let (ledger, _task) = Sequencer::start(
        store.clone(),
        log.clone(),
        vec![authority.verifier()],
        SequencerConfig::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    for (role, key) in [(KeyRole::Gate, &gate), (KeyRole::Operator, &operator)] {
        ledger
            .submit_key(key_statement(role, key)?)
            .await
            .map_err(|e| e.to_string())?;
    }
    let bundle = bundle()?;
    let signed_bundle =
        cairn_api::cose::sign(bundle.as_bytes(), POLICY_CONTENT_TYPE, &authority).map_err(|e| e.to_string())?;
    ledger.submit_policy(signed_bundle).await.map_err(|e| e.to_string())?;
    let policy = Policy::compile(&bundle).map_err(|e| e.to_string())?;
    println!(
        "cairn demo: embedded ledger at {}, log key {}",
        db.display(),
        log.verifier().key_ref()
    );
    println!(
        "  gate and operator keys registered, policy bundle devops-staging archived ({})",
        bundle.hash()
    );
    println!();
    println!("  index  decision  subject              action             surface:target          rule");

    // The gate's job, request by request.
    let cases = requests("devops-staging");
    let mut logged = Vec::new();
    for n in 0..args.count {
        let (_, mut input) = cases[(n as usize * 7) % cases.len()].clone();
        let t = now()?;
        input.nd_inputs.clock = t;
        let d = policy.decide(&input);
        let stamp = Stamp::new(
            examples::receipt_id(t.millis(), n),
            format!("demo-{}-{n}", t.millis()),
            Mode::Enforce,
            &gate,
        );
        let (receipt, body) = sign_decision(&bundle, &input, d, stamp).map_err(|e| e.to_string())?;
        let ack = ledger.submit_receipt(body.clone()).await.map_err(|e| e.to_string())?;
        let proof = ack.tlog_proof().map_err(|e| e.to_string())?;
        // Check our own output before handing it out.
        proof
            .verify_body(&body, &log.verifier(), &[])
            .map_err(|e| format!("proof {} does not verify: {e}", ack.index))?;
        let stem = format!("receipt-{:04}", ack.index);
        write(args.out.join(format!("{stem}.cose")), &body)?;
        write(args.out.join(format!("{stem}.tlog-proof")), proof.to_text())?;
        let json = serde_json::to_string_pretty(&receipt.to_json()).map_err(|e| e.to_string())?;
        write(args.out.join(format!("{stem}.json")), json + "\n")?;
        let p = receipt.parts();
        println!(
            "  {:>5}  {:<8}  {:<19}  {:<17}  {:<22}  {}",
            ack.index,
            p.decision.as_str(),
            p.request.subject.id,
            p.request.action.name,
            format!("{}:{}", p.request.resource.kind, p.request.resource.id),
            p.determining_rules.first().map_or("(default deny)", String::as_str),
        );
        logged.push((ack.index, receipt));
    }

    // The auditor's half: replay every receipt against the archived bundle.
    let archived = {
        let st = store.clone();
        let h = bundle.hash();
        let entry_bytes = tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, String> {
            let i = st
                .bundle_index(&h)
                .map_err(|e| e.to_string())?
                .ok_or("bundle not archived")?;
            st.entry(i).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())??
        .ok_or("archived entry missing")?;
        let entry = cairn_api::entry::Entry::from_cbor(&entry_bytes).map_err(|e| e.to_string())?;
        let msg = entry.sign1().map_err(|e| e.to_string())?;
        Policy::compile(&Bundle::from_bytes(msg.payload()).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?
    };
    let matches = logged
        .iter()
        .filter(|(_, r)| replay(&archived, r.parts()).matches)
        .count();
    let size = ledger.existing(0).await.map_err(|e| e.to_string())?.size;
    let d = args.out.display();
    println!();
    println!(
        "{}/{} receipts durably logged with proofs; log size {size}; {matches}/{} replay identically against the archived bundle",
        logged.len(),
        args.count,
        logged.len()
    );
    if let Some((first, _)) = logged.first() {
        println!("Check one independently, with public keys only:");
        println!(
            "  cargo run -p cairn-verify -- receipt {d}/receipt-{first:04}.cose --proof {d}/receipt-{first:04}.tlog-proof \\\n      --log-key @{d}/keys/log.vkey --gate-key @{d}/keys/gate.vkey"
        );
    }
    println!("These are public TEST keys: never use them for anything real.");
    if matches != logged.len() {
        return Err("some receipts did not replay identically".into());
    }
    Ok(())
}
