//! `cairn-tools populate`: fill a ledger data directory with N real
//! receipts, for audits, fsck and benchmarks at scale.
//!
//! It runs the embedded ledger on `DIR` (the same files `cairn-ledger serve
//! --data-dir DIR` uses: `ledger.redb` and `log.key`, created on first use),
//! registers the TEST gate key and archives the devops-staging bundle when
//! the log is new, then decides the seed scenario's requests in turn with
//! the real policy, signs each receipt and submits it through the
//! sequencer: every receipt is verified, group-committed durably and
//! proven, exactly as over HTTP. A second run appends to the same log. The
//! verifier keys go to `DIR/keys/`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cairn_api::entry::{KeyRole, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::policy::Policy;
use cairn_api::receipt::Mode;
use cairn_gate::record::{Stamp, sign_decision};
use cairn_host::{keyfile, outln};
use cairn_ledger::start::{DB_FILE, Ledger, LedgerConfig, open_redb};

use crate::scenarios::requests;

use crate::demo::{block_on, bundle, key_statement, now};

/// The most receipts one run adds.
pub const MAX_POPULATE: u64 = 100_000_000;
/// The most submitters at once.
pub const MAX_CONCURRENCY: usize = 4096;

/// Arguments of `cairn-tools populate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The ledger data directory (created if absent; appended to if not).
    #[arg(long)]
    data_dir: PathBuf,
    /// How many receipts to add.
    #[arg(long)]
    receipts: u64,
    /// How many submitters at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// The log's origin when the log key is first created.
    #[arg(long, default_value = "cairn.local/log")]
    origin: String,
}

/// Run it.
pub fn run(args: &Args) -> Result<(), String> {
    if args.receipts == 0 || args.receipts > MAX_POPULATE {
        return Err(format!("--receipts must be 1 to {MAX_POPULATE}"));
    }
    if args.concurrency == 0 || args.concurrency > MAX_CONCURRENCY {
        return Err(format!("--concurrency must be 1 to {MAX_CONCURRENCY}"));
    }
    block_on(run_async(args))
}

async fn run_async(args: &Args) -> Result<(), String> {
    let keys_dir = args.data_dir.join("keys");
    std::fs::create_dir_all(&keys_dir).map_err(|e| format!("cannot create {}: {e}", keys_dir.display()))?;
    let (log, _) = keyfile::log_key(&args.data_dir, &args.origin).map_err(|e| e.to_string())?;
    let (gate, authority) = (examples::gate_key(), examples::authority_key());
    for (name, key) in [
        ("log", log.verifier()),
        ("gate", gate.verifier()),
        ("authority", authority.verifier()),
    ] {
        let p = keys_dir.join(format!("{name}.vkey"));
        std::fs::write(&p, format!("{key}\n")).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    }
    let db = args.data_dir.join(DB_FILE);
    let started_ledger = Ledger::start(
        open_redb(&db).map_err(|e| e.to_string())?,
        LedgerConfig {
            query_index: Some(args.data_dir.join(cairn_ledger::query_index::INDEX_FILE)),
            ..LedgerConfig::new(log.clone(), vec![authority.verifier()])
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let store = started_ledger.store().clone();
    let ledger = started_ledger.sequencer().clone();
    let bundle = bundle()?;
    if store.size().map_err(|e| e.to_string())? == 0 {
        ledger
            .submit_key(key_statement(KeyRole::Gate, &gate)?)
            .await
            .map_err(|e| e.to_string())?;
        let signed =
            cairn_api::cose::sign(bundle.as_bytes(), POLICY_CONTENT_TYPE, &authority).map_err(|e| e.to_string())?;
        ledger.submit_policy(signed).await.map_err(|e| e.to_string())?;
    } else if store.bundle_index(&bundle.hash()).map_err(|e| e.to_string())?.is_none() {
        return Err(format!(
            "{} holds a log without the devops-staging bundle: populate only appends to logs it started",
            args.data_dir.display()
        ));
    }
    let policy = Arc::new(Policy::compile(&bundle).map_err(|e| e.to_string())?);
    let cases = Arc::new(requests("devops-staging"));
    let run_id = now()?.millis();
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let total = args.receipts;
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (ledger, policy, cases, bundle, gate) = (
            ledger.clone(),
            policy.clone(),
            cases.clone(),
            bundle.clone(),
            gate.clone(),
        );
        let (next, done) = (next.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return Ok::<_, String>(lat);
                }
                let (_, mut input) = cases[(n as usize * 7) % cases.len()].clone();
                let t = now()?;
                input.nd_inputs.clock = t;
                let d = policy.decide(&input);
                let stamp = Stamp::new(
                    examples::receipt_id(t.millis(), n),
                    format!("populate-{run_id}-{n}"),
                    Mode::Enforce,
                    &gate,
                );
                let (_, body) = sign_decision(&bundle, &input, d, stamp).map_err(|e| e.to_string())?;
                let sent = Instant::now();
                ledger
                    .submit_receipt(body)
                    .await
                    .map_err(|e| format!("receipt {n}: {e}"))?;
                lat.push(sent.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let progress = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut bar = cairn_host::progress::Progress::new("populate", "receipts", Some(total), false);
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                bar.set(done.load(Ordering::Relaxed));
            }
        })
    };
    let mut lat = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut failure = None;
    for w in workers {
        match w.await {
            Ok(Ok(l)) => lat.extend(l),
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(e.to_string()),
        }
    }
    progress.abort();
    let elapsed = started.elapsed();
    drop(ledger);
    started_ledger.stop().await;
    if let Some(e) = failure {
        return Err(e);
    }
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let size = store.size().map_err(|e| e.to_string())?;
    let bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    outln!(
        "populate: {} receipts in {:.1} s ({:.0} receipts/s, durable, in-process), latency p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
        lat.len(),
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        pct(1.0).as_secs_f64() * 1e3,
    );
    outln!(
        "log size {size} entries, {} ({bytes} bytes, {:.0} bytes/entry); keys in {}",
        db.display(),
        bytes as f64 / size.max(1) as f64,
        keys_dir.display()
    );
    Ok(())
}
