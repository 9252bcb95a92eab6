//! The sending side of `cairn-tools load`: every request pre-built, sent
//! by `concurrency` clients in a closed or open loop, each latency taken
//! from when its request was due.
//!
//! Against an `http://IP:PORT` ledger the clients are tasks on one thread
//! with [`crate::rawhttp`] connections and whole request bytes prepared
//! before the timed part, so the generator takes as little as it can of
//! the CPU it shares with the ledger; it reports what it took
//! ([`cpu_seconds`]). Any other URL (HTTPS, a host name) is sent with the
//! gate's HTTP client, one thread per client.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cairn_gate::client::{Http, problem};

use crate::fail::Fail;
use crate::load_check::AckCheck;
use crate::rawhttp::{self, Conn};

/// Connections opened from one loopback source address (the ledger caps
/// connections per source at 256 by default).
const PER_SOURCE: usize = 200;

/// What the clients share.
#[derive(Debug)]
pub struct Shared {
    /// Request bodies (or, for the raw clients, whole requests).
    pub requests: Vec<Vec<u8>>,
    /// Receipts per request (1: `POST /v1/receipts`).
    pub batch: usize,
    /// Open loop: request i is due at `started + i * interval`.
    pub interval: Option<Duration>,
    /// When the timed part began.
    pub started: Instant,
    next: AtomicUsize,
    failed: AtomicU64,
    /// Requests answered (or failed) so far.
    pub done: AtomicU64,
    first_failure: std::sync::Mutex<Option<String>>,
    /// Checks every acknowledgement as a gate does, when the log key is
    /// known; the receipts each request carried, in order.
    check: Option<(AckCheck, Vec<Vec<u8>>)>,
}

impl Shared {
    /// Shared state for `requests`.
    pub fn new(requests: Vec<Vec<u8>>, batch: usize, interval: Option<Duration>) -> Self {
        Shared {
            requests,
            batch,
            interval,
            started: Instant::now(),
            next: AtomicUsize::new(0),
            failed: AtomicU64::new(0),
            done: AtomicU64::new(0),
            first_failure: std::sync::Mutex::new(None),
            check: None,
        }
    }

    /// Check every acknowledgement with `check`; `receipts` are the
    /// receipts the requests carry, `batch` to a request, in order.
    #[must_use]
    pub fn checked(mut self, check: AckCheck, receipts: Vec<Vec<u8>>) -> Self {
        self.check = Some((check, receipts));
        self
    }

    /// Whether acknowledgements are checked (else only their status).
    pub fn checks_proofs(&self) -> bool {
        self.check.is_some()
    }

    /// The next request and when it was due, or `None` when all are taken.
    fn take(&self) -> Option<(usize, Instant)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if i >= self.requests.len() {
            return None;
        }
        let due = self
            .interval
            .map_or_else(Instant::now, |iv| self.started + iv.mul_f64(i as f64));
        Some((i, due))
    }

    fn record(&self, outcome: Result<(), String>) {
        if let Err(e) = outcome {
            self.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = self.first_failure.lock()
                && first.is_none()
            {
                *first = Some(e);
            }
        }
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Failed requests and the first failure.
    pub fn failures(&self) -> (u64, String) {
        let first = self
            .first_failure
            .lock()
            .ok()
            .and_then(|mut f| f.take())
            .unwrap_or_default();
        (self.failed.load(Ordering::Relaxed), first)
    }

    /// Whether an answer acknowledges request `i` (and, when checked, its
    /// proofs verify).
    fn judge(&self, i: usize, status: u16, answer: &[u8]) -> Result<(), String> {
        match (self.batch, status) {
            (1, 200 | 201) => {}
            (_, 200) if self.batch > 1 => batch_ok(answer)?,
            _ => return Err(problem(status, answer).to_string()),
        }
        let Some((check, receipts)) = &self.check else {
            return Ok(());
        };
        let start = i.saturating_mul(self.batch);
        let carried = receipts
            .get(start..receipts.len().min(start.saturating_add(self.batch)))
            .unwrap_or_default();
        match carried {
            [one] if self.batch == 1 => check.single(one, answer),
            several => check.batch(several, answer),
        }
    }
}

/// `Ok` when every item of a batch answer was acknowledged, else the
/// first item's problem.
pub fn batch_ok(answer: &[u8]) -> Result<(), String> {
    let r = serde_json::from_slice::<cairn_api::wire::BatchResponse>(answer)
        .map_err(|e| format!("the batch answer is not a batch response: {e}"))?;
    match r
        .results
        .iter()
        .find(|i| !matches!(i.status, 200 | 201) || i.ack.is_none())
    {
        None => Ok(()),
        Some(i) => Err(match &i.problem {
            Some(p) => format!(
                "HTTP {} {}: {}",
                i.status,
                p.kind.trim_start_matches(cairn_api::wire::PROBLEM_BASE),
                p.detail
            ),
            None => format!("HTTP {} without a problem", i.status),
        }),
    }
}

/// The raw clients' address for `url`, when it is `http://IP:PORT`.
pub fn raw_target(url: &str) -> Option<SocketAddr> {
    rawhttp::socket_addr(url)
}

/// The route and content type of a request carrying `batch` receipts: a
/// signed receipt alone, or a CBOR array of them.
fn route(batch: usize) -> (&'static str, &'static str) {
    if batch == 1 {
        ("/v1/receipts", "application/cose")
    } else {
        ("/v1/receipts/batch", "application/cbor")
    }
}

/// Whole HTTP/1.1 requests for `bodies`, built before the timed part.
pub fn prebuilt(server: SocketAddr, batch: usize, bodies: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let (path, ct) = route(batch);
    bodies
        .into_iter()
        .map(|b| rawhttp::request_bytes(server, path, ct, &b))
        .collect()
}

/// Send everything with `concurrency` raw clients on one thread; the
/// latencies of every request.
pub fn run_raw(s: &Arc<Shared>, server: SocketAddr, concurrency: usize) -> Result<Vec<Duration>, Fail> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Fail(1, format!("the load's runtime: {e}")))?;
    rt.block_on(async {
        let mut tasks = Vec::with_capacity(concurrency);
        for c in 0..concurrency {
            let source = if server.ip().is_loopback() && server.is_ipv4() {
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (c / PER_SOURCE).min(249) as u8))
            } else if server.is_ipv4() {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            } else {
                IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
            };
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut conn = Conn::new(server, source);
                let mut lat = Vec::new();
                while let Some((i, due)) = s.take() {
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        tokio::time::sleep(wait).await;
                    }
                    let deadline = Duration::from_secs(if s.batch == 1 { 30 } else { 60 });
                    let outcome = match tokio::time::timeout(deadline, conn.send(&s.requests[i])).await {
                        Ok(Ok(a)) => s.judge(i, a.status, &a.body),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => {
                            conn = Conn::new(server, source);
                            Err(format!("no answer within {} s", deadline.as_secs()))
                        }
                    };
                    lat.push(due.elapsed());
                    s.record(outcome);
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.map_err(|_| Fail(1, "a load task panicked".into()))?);
        }
        Ok(lat)
    })
}

/// Send everything with `concurrency` threads of the gate's HTTP client
/// (any URL the gate accepts); the latencies of every request.
pub fn run_threads(s: &Arc<Shared>, url: &str, concurrency: usize) -> Result<Vec<Duration>, Fail> {
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let s = s.clone();
        let http = Http::new(url);
        workers.push(std::thread::spawn(move || {
            let mut lat = Vec::new();
            while let Some((i, due)) = s.take() {
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let deadline = Duration::from_secs(if s.batch == 1 { 30 } else { 60 });
                let (path, content_type) = route(s.batch);
                let outcome = match http.post(path, content_type, &[], &s.requests[i], deadline) {
                    Ok((status, answer)) => s.judge(i, status, &answer),
                    Err(e) => Err(e.to_string()),
                };
                lat.push(due.elapsed());
                s.record(outcome);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for w in workers {
        lat.extend(w.join().map_err(|_| Fail(1, "a load thread panicked".into()))?);
    }
    Ok(lat)
}

/// This process's CPU time so far (user + system), where the system says
/// (Linux's `/proc/self/stat`; 100 ticks a second, the kernel's USER_HZ).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_judged_by_kind_of_request() {
        let single = Shared::new(vec![], 1, None);
        assert!(single.judge(0, 201, b"").is_ok() && single.judge(0, 200, b"").is_ok());
        assert!(single.judge(0, 503, br#"{"detail":"busy"}"#).is_err());
        let batch = Shared::new(vec![], 64, None);
        assert!(batch.judge(0, 200, br#"{"results":[]}"#).is_ok());
        assert!(batch.judge(0, 200, b"not json").is_err());
        assert!(batch.judge(0, 201, b"").is_err());
        // Checked: a status alone is not enough.
        let key = cairn_api::examples::log_key().verifier();
        let checked = Shared::new(vec![vec![]], 1, None).checked(AckCheck::new(key), vec![vec![1]]);
        assert!(checked.checks_proofs() && checked.judge(0, 201, b"").is_err());
        assert!(cpu_seconds().is_some_and(|s| s >= 0.0));
    }

    #[test]
    fn taking_requests_stops_at_the_end_and_paces_the_open_loop() {
        let s = Shared::new(vec![vec![], vec![], vec![]], 1, Some(Duration::from_millis(10)));
        let due: Vec<Instant> = std::iter::from_fn(|| s.take().map(|(_, d)| d)).collect();
        assert_eq!(due.len(), 3);
        assert_eq!(due[2] - due[0], Duration::from_millis(20));
    }
}
