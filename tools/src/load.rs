//! `cairn-tools load`: the load generator. N receipts (decided by the
//! devops-staging policy, signed before the timed part) sent to a ledger at
//! a given concurrency and, optionally, a given offered rate, one per POST
//! or in batches; reports throughput, latency percentiles and its own CPU
//! per request (the sending side is [`crate::load_client`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cairn_api::cbor::CBOR;
use cairn_api::entry::{KeyRole, POLICY_CONTENT_TYPE};
use cairn_api::examples;
use cairn_api::keys::SignerKey;
use cairn_api::policy::Policy;
use cairn_api::receipt::Mode;
use cairn_gate::admin::LedgerArgs;
use cairn_gate::record::{Stamp, sign_decision};
use cairn_host::progress::Progress;
use cairn_host::{keyfile, outln};

use crate::fail::{Fail, now};
use crate::load_check::AckCheck;
use crate::load_client;
use crate::scenarios::requests;
use rayon::prelude::*;

use crate::demo::bundle;

/// The most receipts one run sends.
pub const MAX_LOAD: u64 = 10_000_000;
/// The most connections at once.
pub const MAX_LOAD_CONCURRENCY: usize = 4096;
/// The most receipts in one batch POST (the ledger's own limit).
pub const MAX_LOAD_BATCH: usize = 256;

/// Arguments of `cairn-tools load`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// How many receipts.
    #[arg(long, default_value_t = 10_000)]
    receipts: u64,
    /// How many clients at once (one connection each).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Offered load in receipts per second (all clients together); as fast as possible when absent.
    #[arg(long)]
    rate: Option<f64>,
    /// Receipts per POST: 1 is `POST /v1/receipts`, more is `POST /v1/receipts/batch`.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// The log's verifier key (`@FILE` or the key): check every
    /// acknowledgement as a gate does (the receipt's inclusion under a
    /// checkpoint signed by this key; each checkpoint's signature once).
    /// Without it only the answers' status is checked.
    #[arg(long)]
    log_key: Option<String>,
    #[command(flatten)]
    signer: Signer,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Who signs the load's receipts, and whether to set the ledger up first
/// (shared by `load` and `flood`).
#[derive(clap::Args, Debug)]
pub struct Signer {
    /// The gate key that signs (default: the public TEST gate key).
    #[arg(long)]
    gate_key: Option<PathBuf>,
    /// An authority key file: register the gate key and archive the bundle
    /// first (needs the admin credential).
    #[arg(long)]
    setup_with: Option<PathBuf>,
}

impl Signer {
    /// The gate key, after registering it and archiving the bundle when
    /// `--setup-with` was given.
    pub fn prepare(&self, ledger: &LedgerArgs) -> Result<SignerKey, Fail> {
        let gate = match &self.gate_key {
            Some(p) => keyfile::read_key(p).map_err(|e| Fail(3, e.to_string()))?,
            None => examples::gate_key(),
        };
        if let Some(auth) = &self.setup_with {
            setup(ledger, auth, &gate)?;
        }
        Ok(gate)
    }
}

/// The `p` quantile of sorted latencies (zero for none).
pub(crate) fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or_default()
}

/// Sign `n` receipts on every core.
pub(crate) fn sign_all(n: u64, gate: &SignerKey) -> Result<Vec<Vec<u8>>, Fail> {
    let bundle = bundle().map_err(|e| Fail(1, e))?;
    let policy = Policy::compile(&bundle).map_err(|e| Fail(1, e.to_string()))?;
    let cases = requests("devops-staging");
    let run = now()?.millis();
    (0..n)
        .into_par_iter()
        .map(|i| {
            let (_, mut input) = cases[(i as usize * 7) % cases.len()].clone();
            input.nd_inputs.clock = now()?;
            let d = policy.decide(&input);
            let stamp = Stamp::new(
                examples::receipt_id(input.nd_inputs.clock.millis(), i),
                format!("load-{run}-{i}"),
                Mode::Enforce,
                gate,
            );
            sign_decision(&bundle, &input, d, stamp)
                .map(|(_, body)| body)
                .map_err(|e| Fail(1, e.to_string()))
        })
        .collect()
}

fn setup(ledger: &LedgerArgs, authority: &std::path::Path, gate: &SignerKey) -> Result<(), Fail> {
    let authority = keyfile::read_key(authority).map_err(|e| Fail(3, e.to_string()))?;
    let body = crate::demo::key_statement_by(KeyRole::Gate, gate, &authority).map_err(|e| Fail(1, e))?;
    let admin = ledger.admin()?;
    // A second setup against the same log: the key has a history there
    // already (registered, or revoked, which the receipts will then say).
    match admin.post_key(&body) {
        Err(cairn_gate::admin::AdminError::Ledger(cairn_gate::client::LedgerError::Refused {
            problem: Some(cairn_api::wire::ProblemType::KeyHistory),
            ..
        })) => {}
        other => {
            other?;
        }
    }
    let b = bundle().map_err(|e| Fail(1, e))?;
    let signed =
        cairn_api::cose::sign(b.as_bytes(), POLICY_CONTENT_TYPE, &authority).map_err(|e| Fail(1, e.to_string()))?;
    admin.post_policy(&signed)?;
    Ok(())
}

/// What a failed request was, and what to do when the gate key is not
/// registered (the usual first failure).
fn explain(e: String) -> String {
    if e.contains("unknown-key") {
        format!(
            "{e}; register the signing gate key first: --setup-with AUTHORITY_KEY registers the TEST gate key \
             and archives the bundle, or give --gate-key with a key the ledger has registered"
        )
    } else {
        e
    }
}

/// Run it.
pub fn run(a: &Args) -> Result<(), Fail> {
    if a.receipts == 0 || a.receipts > MAX_LOAD {
        return Err(Fail(4, format!("--receipts must be 1 to {MAX_LOAD}")));
    }
    if a.concurrency == 0 || a.concurrency > MAX_LOAD_CONCURRENCY {
        return Err(Fail(4, format!("--concurrency must be 1 to {MAX_LOAD_CONCURRENCY}")));
    }
    if a.batch == 0 || a.batch > MAX_LOAD_BATCH {
        return Err(Fail(4, format!("--batch must be 1 to {MAX_LOAD_BATCH}")));
    }
    if a.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err(Fail(4, "--rate must be a positive number".into()));
    }
    let check = a
        .log_key
        .as_deref()
        .map(|k| keyfile::read_vkey_arg(k).map_err(|e| Fail(3, format!("--log-key: {e}"))))
        .transpose()?
        .map(AckCheck::new);
    let gate = a.signer.prepare(&a.ledger)?;
    let started_signing = Instant::now();
    let bodies = sign_all(a.receipts, &gate)?;
    let signing = started_signing.elapsed();
    // Requests: single receipts, or CBOR arrays of byte strings.
    let receipts = check.is_some().then(|| bodies.clone());
    let requests: Vec<Vec<u8>> = if a.batch == 1 {
        bodies
    } else {
        bodies
            .chunks(a.batch)
            .map(|c| {
                cairn_api::cbor::encode(&CBOR::from(
                    c.iter().map(|b| CBOR::to_byte_string(b.as_slice())).collect::<Vec<_>>(),
                ))
            })
            .collect()
    };
    let interval = a.rate.map(|r| Duration::from_secs_f64(a.batch as f64 / r));
    let raw = load_client::raw_target(&a.ledger.url);
    let requests = match raw {
        Some(server) => load_client::prebuilt(server, a.batch, requests),
        None => requests,
    };
    let cpu_before = load_client::cpu_seconds();
    let mut shared = load_client::Shared::new(requests, a.batch, interval);
    if let (Some(check), Some(receipts)) = (check, receipts) {
        shared = shared.checked(check, receipts);
    }
    let shared = Arc::new(shared);
    let started = shared.started;
    let sender = {
        let (s, url, c) = (shared.clone(), a.ledger.url.clone(), a.concurrency);
        std::thread::spawn(move || match raw {
            Some(server) => load_client::run_raw(&s, server, c),
            None => load_client::run_threads(&s, &url, c),
        })
    };
    {
        let total = shared.requests.len() as u64;
        let mut bar = Progress::new("load", "requests", Some(total), a.json);
        while shared.done.load(Ordering::Relaxed) < total && !sender.is_finished() {
            std::thread::sleep(Duration::from_millis(250));
            bar.set(shared.done.load(Ordering::Relaxed));
        }
        bar.finish();
    }
    let mut lat = sender
        .join()
        .map_err(|_| Fail(1, "the load's sending thread panicked".into()))??;
    let elapsed = started.elapsed();
    lat.sort_unstable();
    let receipts = a.receipts;
    let (failed, first) = shared.failures();
    let client_cpu = cpu_before
        .zip(load_client::cpu_seconds())
        .map(|(b, a)| (a - b) * 1e6 / lat.len().max(1) as f64);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let v = serde_json::json!({
        "receipts": receipts,
        "requests": lat.len(),
        "batch": a.batch,
        "concurrency": a.concurrency,
        "offered_rate": a.rate,
        "failed_requests": failed,
        "seconds": elapsed.as_secs_f64(),
        "receipts_per_second": receipts as f64 / elapsed.as_secs_f64(),
        "latency_ms": {"p50": ms(pct(&lat, 0.5)), "p90": ms(pct(&lat, 0.9)), "p99": ms(pct(&lat, 0.99)), "max": ms(pct(&lat, 1.0))},
        "signing_seconds": signing.as_secs_f64(),
        "client": if raw.is_some() { "raw HTTP/1.1, one thread" } else { "the gate's HTTP client, a thread per connection" },
        "client_cpu_us_per_request": client_cpu,
        "acknowledgements_checked": if shared.checks_proofs() { "every proof verified under the log key" } else { "status only" },
    });
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        outln!(
            "load: {receipts} receipts in {} requests (batch {}, concurrency {}{}) in {:.2} s: {:.0} receipts/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {failed} failed (signed beforehand in {:.1} s; {})",
            lat.len(),
            a.batch,
            a.concurrency,
            a.rate.map(|r| format!(", offered {r:.0}/s")).unwrap_or_default(),
            elapsed.as_secs_f64(),
            receipts as f64 / elapsed.as_secs_f64(),
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.9)),
            ms(pct(&lat, 0.99)),
            ms(pct(&lat, 1.0)),
            signing.as_secs_f64(),
            if shared.checks_proofs() {
                "every acknowledgement's proof verified"
            } else {
                "answers' status checked, proofs not: give --log-key"
            }
        );
    }
    if failed > 0 {
        return Err(Fail(
            1,
            format!("{failed} requests failed; the first: {}", explain(first)),
        ));
    }
    Ok(())
}
