//! `cairn-tools gate-load`: AuthZEN evaluations against a running
//! `cairn-gate serve`, end to end (decision, signature, durable log,
//! proof checked by the gate), at a concurrency and optionally an offered
//! rate; reports decisions per second and latency percentiles, each
//! latency taken from when its request was due.
//!
//! Every answer must be `200` with `context.cairn.durable` true (a
//! decision the ledger acknowledged); anything else counts as failed.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cairn_host::outln;

use crate::fail::Fail;
use crate::load::pct;
use crate::rawhttp::{self, Conn};

/// The most evaluations one run sends.
pub const MAX_GATE_LOAD: u64 = 10_000_000;
/// The most clients at once.
pub const MAX_GATE_CONCURRENCY: usize = 1024;
/// The longest wait for one answer.
const ANSWER_DEADLINE: Duration = Duration::from_secs(30);

/// Arguments of `cairn-tools gate-load`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The gate's URL (`http://IP:PORT`).
    #[arg(long, default_value = "http://127.0.0.1:8418")]
    url: String,
    /// The gate's caller credentials file (its first credential is used).
    #[arg(long)]
    callers: PathBuf,
    /// How many evaluations.
    #[arg(long, default_value_t = 10_000)]
    requests: u64,
    /// How many clients at once (one connection each).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Offered load in evaluations per second (all clients together); as fast as possible when absent.
    #[arg(long)]
    rate: Option<f64>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// The devops agent reading staging and production, and deleting on
/// staging (PERMIT) and production (DENY): every one logged.
fn bodies() -> Vec<String> {
    [
        ("get_pods", "staging:web"),
        ("delete_pod", "staging:web"),
        ("get_pods", "production:web"),
        ("delete_pod", "production:web"),
    ]
    .iter()
    .map(|(action, target)| {
        serde_json::json!({
            "subject": {"type": "agent", "id": "agent:devops-helper"},
            "action": {"name": action},
            "resource": {"type": "eks", "id": target},
            "context": {"ticket": "OPS-1004"}
        })
        .to_string()
    })
    .collect()
}

struct Shared {
    requests: Vec<Vec<u8>>,
    n: usize,
    interval: Option<Duration>,
    started: Instant,
    next: AtomicUsize,
    failed: AtomicU64,
    first_failure: std::sync::Mutex<Option<String>>,
}

impl Shared {
    fn take(&self) -> Option<(usize, Instant)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.n).then(|| {
            let due = self
                .interval
                .map_or_else(Instant::now, |iv| self.started + iv.mul_f64(i as f64));
            (i, due)
        })
    }

    fn fail(&self, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut f = self
            .first_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f.get_or_insert(why);
    }
}

/// `cairn-tools gate-load`.
pub fn run(a: &Args) -> Result<(), Fail> {
    if a.requests == 0 || a.requests > MAX_GATE_LOAD {
        return Err(Fail(4, format!("--requests: 1 to {MAX_GATE_LOAD}")));
    }
    if a.concurrency == 0 || a.concurrency > MAX_GATE_CONCURRENCY {
        return Err(Fail(4, format!("--concurrency: 1 to {MAX_GATE_CONCURRENCY}")));
    }
    let interval = match a.rate {
        Some(r) if !(r.is_finite() && r > 0.0) => return Err(Fail(4, "--rate: a positive number".into())),
        Some(r) => Some(Duration::from_secs_f64(1.0 / r)),
        None => None,
    };
    let server = rawhttp::socket_addr(&a.url).ok_or_else(|| Fail(4, format!("--url {}: http://IP:PORT", a.url)))?;
    let text = std::fs::read_to_string(&a.callers).map_err(|e| Fail(3, format!("{}: {e}", a.callers.display())))?;
    let credential = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| Fail(4, format!("{}: no credential", a.callers.display())))?;
    let requests: Vec<Vec<u8>> = bodies()
        .iter()
        .map(|b| {
            format!(
                "POST /access/v1/evaluation HTTP/1.1\r\nHost: {server}\r\nAuthorization: Bearer {credential}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            )
            .into_bytes()
        })
        .collect();
    let s = Arc::new(Shared {
        requests,
        n: usize::try_from(a.requests).unwrap_or(usize::MAX),
        interval,
        started: Instant::now(),
        next: AtomicUsize::new(0),
        failed: AtomicU64::new(0),
        first_failure: std::sync::Mutex::new(None),
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Fail(1, format!("the load's runtime: {e}")))?;
    let mut lat: Vec<Duration> = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..a.concurrency {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut conn = Conn::new(server, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                let mut lat = Vec::new();
                while let Some((i, due)) = s.take() {
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        tokio::time::sleep(wait).await;
                    }
                    let request = &s.requests[i % s.requests.len()];
                    match tokio::time::timeout(ANSWER_DEADLINE, conn.send(request)).await {
                        Ok(Ok(ans)) => {
                            let durable = serde_json::from_slice::<serde_json::Value>(&ans.body)
                                .ok()
                                .is_some_and(|v| v["context"]["cairn"]["durable"] == true);
                            if ans.status != 200 || !durable {
                                s.fail(format!(
                                    "HTTP {}: {}",
                                    ans.status,
                                    String::from_utf8_lossy(&ans.body[..ans.body.len().min(300)])
                                ));
                            }
                        }
                        Ok(Err(e)) => s.fail(e.to_string()),
                        Err(_) => {
                            conn = Conn::new(server, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                            s.fail(format!("no answer within {} s", ANSWER_DEADLINE.as_secs()));
                        }
                    }
                    lat.push(due.elapsed());
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            if let Ok(l) = t.await {
                lat.extend(l);
            }
        }
        lat
    });
    let elapsed = s.started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let failed = s.failed.load(Ordering::Relaxed);
    let rate = lat.len() as f64 / elapsed;
    let first = s
        .first_failure
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "requests": lat.len(), "failed": failed, "seconds": elapsed, "decisions_per_s": rate,
                "concurrency": a.concurrency, "offered_per_s": a.rate,
                "latency_ms": {"p50": ms(pct(&lat, 0.5)), "p90": ms(pct(&lat, 0.9)), "p99": ms(pct(&lat, 0.99)), "max": ms(pct(&lat, 1.0))},
                "first_failure": first,
            })
        );
    } else {
        outln!(
            "{} evaluations in {elapsed:.2} s: {rate:.0} decisions/s, {failed} failed; latency p50 {:.2} ms, p90 {:.2}, p99 {:.2}, max {:.2}",
            lat.len(),
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.9)),
            ms(pct(&lat, 0.99)),
            ms(pct(&lat, 1.0))
        );
        if let Some(f) = &first {
            outln!("first failure: {f}");
        }
    }
    if failed > 0 {
        return Err(Fail(1, format!("{failed} evaluations were not durably decided")));
    }
    Ok(())
}
