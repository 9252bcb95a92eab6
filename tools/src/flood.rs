//! `cairn-tools flood`: open-loop load held for a fixed time, for the long
//! runs (a soak at a sustainable rate, an overload far beyond it). Receipts
//! are signed beforehand (as in `load`); request i is due at
//! `i / rate` seconds and its latency counts from then. Thousands of
//! keep-alive connections on one async runtime; a request still unsent
//! when the load's time is up is not sent (reported as not delivered: the
//! generator itself fell behind), so what follows the load is the
//! ledger's recovery, not the generator's backlog. Spread over loopback
//! source addresses (the ledger caps connections per source). The result
//! is reported in time windows: offered, acknowledged, shed (503 with
//! Retry-After), refused, closed without an answer and unanswered
//! requests, latency percentiles (from when a request was due, and from
//! when it was sent: the two differ when the generator itself falls
//! behind), and the
//! resident memory of a process (the ledger) sampled every 250 ms. After
//! the load, `--after-s` keeps sending one receipt every 100 ms to time
//! the recovery, still sampling memory.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cairn_gate::admin::LedgerArgs;
use cairn_host::outln;

use crate::fail::Fail;
use crate::flood_report::{Outcome, Rec, Report, Sample};
use crate::load::{Signer, sign_all};
use crate::rawhttp::{Conn, socket_addr};

/// The longest load one run holds.
pub const MAX_FLOOD_SECONDS: u64 = 3600;
/// The most connections at once.
pub const MAX_FLOOD_CONNECTIONS: usize = 16_384;
/// The most loopback source addresses (127.0.0.1 up to 127.0.0.250).
pub const MAX_SOURCES: u8 = 250;
/// The most receipts one run signs beforehand.
pub const MAX_FLOOD_RECEIPTS: u64 = 5_000_000;
/// A request unanswered after this long is counted failed.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(30);
/// How often the sampled process's resident memory is read.
pub const RSS_INTERVAL: Duration = Duration::from_millis(250);
/// The pace of the recovery probes after the load.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// Arguments of `cairn-tools flood`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Offered load in receipts per second (one per POST), held for --seconds.
    #[arg(long)]
    rate: f64,
    /// How long the load is held.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Connections (each one request at a time).
    #[arg(long, default_value_t = 256)]
    connections: usize,
    /// Loopback source addresses the connections are spread over (127.0.0.1, 127.0.0.2, …).
    #[arg(long, default_value_t = 1)]
    sources: u8,
    /// Length of a reporting window in seconds.
    #[arg(long, default_value_t = 10)]
    window_s: u64,
    /// The process whose resident memory is sampled (the ledger's PID).
    #[arg(long)]
    rss_pid: Option<u32>,
    /// After the load: seconds of one receipt every 100 ms (the recovery).
    #[arg(long, default_value_t = 0)]
    after_s: u64,
    #[command(flatten)]
    signer: Signer,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// The first request that got no answer, and why.
static FIRST_FAILURE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// What every request task shares.
struct Shared {
    server: SocketAddr,
    bodies: Vec<Vec<u8>>,
    next: AtomicUsize,
    start: Instant,
    interval: Duration,
    /// The end of the load: a request not sent by then is not sent (the
    /// generator fell behind; counted as not delivered).
    end: Instant,
}

/// Send `body`, classified, within [`REQUEST_DEADLINE`].
async fn send(conn: &mut Conn, server: SocketAddr, source: IpAddr, body: &[u8]) -> Outcome {
    match tokio::time::timeout(REQUEST_DEADLINE, conn.post("/v1/receipts", "application/cose", body)).await {
        Ok(Ok(a)) if matches!(a.status, 200 | 201) => Outcome::Acked,
        Ok(Ok(a)) if a.status == 503 && a.retry_after => Outcome::Shed,
        Ok(Ok(a)) => Outcome::Refused(a.status),
        Ok(Err(e)) => {
            let _ = FIRST_FAILURE.set(e.to_string());
            Outcome::Closed
        }
        Err(_) => {
            let _ = FIRST_FAILURE.set(format!("no answer within {} s", REQUEST_DEADLINE.as_secs()));
            // Cancelled mid-exchange: the connection's state is unknown.
            *conn = Conn::new(server, source);
            Outcome::Failed
        }
    }
}

/// One connection: takes the next due request until none is left.
async fn worker(s: Arc<Shared>, source: IpAddr) -> Vec<Rec> {
    let mut conn = Conn::new(s.server, source);
    let mut recs = Vec::new();
    loop {
        let i = s.next.fetch_add(1, Ordering::Relaxed);
        let Some(body) = s.bodies.get(i) else { return recs };
        let due = s.start + s.interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        if Instant::now() >= s.end {
            return recs;
        }
        let lag = due.elapsed();
        let outcome = send(&mut conn, s.server, source, body).await;
        recs.push(Rec::new(due.duration_since(s.start), lag, due.elapsed(), outcome));
    }
}

/// After the load: one receipt every [`PROBE_INTERVAL`] from `end` on.
async fn probes(server: SocketAddr, bodies: Vec<Vec<u8>>, end: Instant) -> Vec<Rec> {
    let source = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut conn = Conn::new(server, source);
    let mut recs = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let due = end + PROBE_INTERVAL * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let sent = Instant::now();
        let outcome = send(&mut conn, server, source, body).await;
        recs.push(Rec::new(
            sent.duration_since(end),
            Duration::ZERO,
            sent.elapsed(),
            outcome,
        ));
    }
    recs
}

/// The resident memory of `pid` in KiB, when it can be read.
fn rss_kb(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Sample `pid`'s memory until `stop`, times relative to `start`.
fn sampler(pid: u32, start: Instant, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Sample>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if let Some(kb) = rss_kb(pid) {
                v.push(Sample {
                    at: start.elapsed(),
                    rss_kb: kb,
                });
            }
            std::thread::sleep(RSS_INTERVAL);
        }
        v
    })
}

fn check(a: &Args) -> Result<SocketAddr, Fail> {
    if !(a.rate > 0.0 && a.rate.is_finite()) {
        return Err(Fail(4, "--rate must be a positive number".into()));
    }
    if a.seconds == 0 || a.seconds > MAX_FLOOD_SECONDS {
        return Err(Fail(4, format!("--seconds must be 1 to {MAX_FLOOD_SECONDS}")));
    }
    if a.after_s > MAX_FLOOD_SECONDS {
        return Err(Fail(4, format!("--after-s must be at most {MAX_FLOOD_SECONDS}")));
    }
    if a.connections == 0 || a.connections > MAX_FLOOD_CONNECTIONS {
        return Err(Fail(4, format!("--connections must be 1 to {MAX_FLOOD_CONNECTIONS}")));
    }
    if a.sources == 0 || a.sources > MAX_SOURCES {
        return Err(Fail(4, format!("--sources must be 1 to {MAX_SOURCES}")));
    }
    if a.window_s == 0 || a.window_s > a.seconds {
        return Err(Fail(4, "--window-s must be 1 to --seconds".into()));
    }
    if a.rate * a.seconds as f64 > MAX_FLOOD_RECEIPTS as f64 {
        return Err(Fail(
            4,
            format!("--rate × --seconds must be at most {MAX_FLOOD_RECEIPTS} receipts"),
        ));
    }
    let server = socket_addr(&a.ledger.url).ok_or_else(|| {
        Fail(
            4,
            format!(
                "flood speaks plain HTTP to an IP address: --url http://IP:PORT, not {}",
                a.ledger.url
            ),
        )
    })?;
    if a.sources > 1 && !server.ip().is_loopback() {
        return Err(Fail(4, "--sources above 1 needs a loopback ledger URL".into()));
    }
    Ok(server)
}

/// Run it.
pub fn run(a: &Args) -> Result<(), Fail> {
    let server = check(a)?;
    let gate = a.signer.prepare(&a.ledger)?;
    let n = (a.rate * a.seconds as f64).round().max(1.0) as u64;
    let n_probes = a.after_s * 1000 / PROBE_INTERVAL.as_millis() as u64;
    let mut bodies = sign_all(n + n_probes, &gate)?;
    let probe_bodies = bodies.split_off(n as usize);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Fail(1, format!("async runtime: {e}")))?;
    // Give the first requests time to be scheduled before they are due.
    let start = Instant::now() + Duration::from_millis(200);
    let load_end = start + Duration::from_secs(a.seconds);
    let shared = Arc::new(Shared {
        server,
        bodies,
        next: AtomicUsize::new(0),
        start,
        interval: Duration::from_secs_f64(1.0 / a.rate),
        end: load_end,
    });
    let stop = Arc::new(AtomicBool::new(false));
    let memory = a.rss_pid.map(|pid| sampler(pid, start, stop.clone()));
    let (recs, probe_recs) = rt.block_on(async {
        let probe = tokio::spawn(probes(server, probe_bodies, load_end));
        let mut tasks = Vec::with_capacity(a.connections);
        for c in 0..a.connections {
            let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (c % usize::from(a.sources)) as u8));
            tasks.push(tokio::spawn(worker(shared.clone(), source)));
        }
        let mut recs = Vec::new();
        for t in tasks {
            recs.extend(t.await.map_err(|e| Fail(1, format!("a load task failed: {e}")))?);
        }
        let probe_recs = probe
            .await
            .map_err(|e| Fail(1, format!("the probe task failed: {e}")))?;
        Ok::<_, Fail>((recs, probe_recs))
    })?;
    stop.store(true, Ordering::Relaxed);
    let samples = match memory {
        Some(h) => h.join().map_err(|_| Fail(1, "the memory sampler panicked".into()))?,
        None => Vec::new(),
    };
    let mut report = Report::build(
        a.rate,
        a.seconds,
        a.window_s,
        a.connections,
        a.sources,
        recs,
        probe_recs,
        samples,
    );
    report.first_failure = FIRST_FAILURE.get().cloned();
    report.not_sent = n.saturating_sub(report.counts.requests);
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        outln!("{}", report.text());
    }
    if report.failed + report.refused + report.counts.closed > 0 {
        return Err(Fail(
            1,
            format!(
                "{} requests refused (not shed), {} closed without an answer and {} unanswered within {} s{}{}",
                report.refused,
                report.counts.closed,
                report.failed,
                REQUEST_DEADLINE.as_secs(),
                report
                    .first_refusal
                    .map(|s| format!("; the first refusal was HTTP {s}"))
                    .unwrap_or_default(),
                report
                    .first_failure
                    .as_ref()
                    .map(|f| format!("; the first failure: {f}"))
                    .unwrap_or_default()
            ),
        ));
    }
    Ok(())
}
