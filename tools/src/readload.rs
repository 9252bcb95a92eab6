//! `cairn-tools read-load`: the read side of a ledger under load. For a
//! fixed time, C clients (one keep-alive connection each) ask for inclusion
//! proofs of random entries under the newest checkpoint, consistency proofs
//! from random older sizes to it, or one filtered query; reports answers per
//! second and latency percentiles. Every answer must be a 200 with a body;
//! anything else counts as failed (and makes the exit code 1).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cairn_gate::client::Http;

use crate::load::pct;
use cairn_gate::admin::LedgerArgs;
use cairn_host::outln;

use crate::fail::Fail;

/// The most clients at once.
pub const MAX_READ_CONCURRENCY: usize = 4096;
/// The longest run.
pub const MAX_READ_SECONDS: f64 = 3600.0;
/// Largest answer read (a page of 1,000 receipts fits).
const MAX_ANSWER_BYTES: u64 = 16 << 20;

/// What to ask for.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// `GET /v1/proofs/inclusion?index=RANDOM&size=NEWEST`.
    Inclusion,
    /// `GET /v1/proofs/consistency?from=RANDOM&to=NEWEST`.
    Consistency,
    /// `GET /v1/receipts?QUERY` (the `--query` string).
    Query,
}

/// Arguments of `cairn-tools read-load`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// What to ask for.
    #[arg(long, value_enum)]
    read: Read,
    /// How long, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// How many clients at once (one connection each).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The query string of `--read query` (an incident reviewer's filter).
    #[arg(
        long,
        default_value = "subject=agent:other&action=delete_pod&decision=DENY&limit=100"
    )]
    query: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// A small, seedable generator (xorshift64*): which entry each request asks for.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// The size of the ledger's newest checkpoint (its second line).
fn newest_size(http: &Http) -> Result<u64, Fail> {
    let (status, body) = http
        .get("/v1/checkpoint", 64 << 10, Duration::from_secs(10))
        .map_err(|e| Fail(3, e.to_string()))?;
    if status != 200 {
        return Err(Fail(3, format!("GET /v1/checkpoint answered {status}")));
    }
    String::from_utf8_lossy(&body)
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| Fail(3, "the checkpoint has no size line".into()))
}

/// Run it.
pub fn run(a: &Args) -> Result<(), Fail> {
    if a.concurrency == 0 || a.concurrency > MAX_READ_CONCURRENCY {
        return Err(Fail(4, format!("--concurrency must be 1 to {MAX_READ_CONCURRENCY}")));
    }
    if !(a.seconds > 0.0 && a.seconds <= MAX_READ_SECONDS) {
        return Err(Fail(
            4,
            format!("--seconds must be above 0 and at most {MAX_READ_SECONDS}"),
        ));
    }
    let size = newest_size(&Http::new(&a.ledger.url))?;
    if a.read == Read::Consistency && size < 2 {
        return Err(Fail(4, "consistency proofs need a log of at least 2 entries".into()));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..a.concurrency {
        let (http, stop, read, query) = (Http::new(&a.ledger.url), stop.clone(), a.read, a.query.clone());
        workers.push(std::thread::spawn(move || {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (w as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9));
            let (mut lat, mut failed) = (Vec::new(), 0u64);
            while !stop.load(Ordering::Relaxed) {
                let path = match read {
                    Read::Inclusion => format!("/v1/proofs/inclusion?index={}&size={size}", rng.below(size)),
                    Read::Consistency => format!("/v1/proofs/consistency?from={}&to={size}", 1 + rng.below(size - 1)),
                    Read::Query => format!("/v1/receipts?{query}"),
                };
                let t = Instant::now();
                match http.get(&path, MAX_ANSWER_BYTES, Duration::from_secs(30)) {
                    Ok((200, body)) if !body.is_empty() => lat.push(t.elapsed()),
                    _ => failed += 1,
                }
            }
            (lat, failed)
        }));
    }
    std::thread::sleep(Duration::from_secs_f64(a.seconds));
    stop.store(true, Ordering::Relaxed);
    let (mut lat, mut failed) = (Vec::new(), 0);
    for w in workers {
        let (l, f) = w.join().map_err(|_| Fail(1, "a read thread panicked".into()))?;
        lat.extend(l);
        failed += f;
    }
    let elapsed = started.elapsed();
    lat.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let what = match a.read {
        Read::Inclusion => "inclusion proofs",
        Read::Consistency => "consistency proofs",
        Read::Query => "query answers",
    };
    let v = serde_json::json!({
        "read": what,
        "tree_size": size,
        "concurrency": a.concurrency,
        "answers": lat.len(),
        "failed": failed,
        "seconds": elapsed.as_secs_f64(),
        "per_second": lat.len() as f64 / elapsed.as_secs_f64(),
        "latency_ms": {"p50": ms(pct(&lat, 0.5)), "p90": ms(pct(&lat, 0.9)), "p99": ms(pct(&lat, 0.99)), "max": ms(pct(&lat, 1.0))},
    });
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        outln!(
            "read-load: {} {what} at tree size {size} in {:.2} s (concurrency {}): {:.0}/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {failed} failed",
            lat.len(),
            elapsed.as_secs_f64(),
            a.concurrency,
            lat.len() as f64 / elapsed.as_secs_f64(),
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.9)),
            ms(pct(&lat, 0.99)),
            ms(pct(&lat, 1.0)),
        );
    }
    if failed > 0 {
        return Err(Fail(1, format!("{failed} requests failed")));
    }
    Ok(())
}
