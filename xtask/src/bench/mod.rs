//! `bench/run [OPTIONS]` (`cargo run --release -p xtask -- bench`): the
//! whole performance suite on this machine in one run, written as the
//! generated part of `docs/benchmarks.md`.
//!
//! In order: the machine's limits (Ed25519 `verify_strict`/s on every
//! core, fdatasync/s in the work directory, SHA-256), policy decisions/s per
//! engine, durable ingest over HTTP against a release `cairn-ledger serve`
//! (`cairn-tools load`: receipts signed before the timed part; single POSTs
//! at concurrency 1/16/64/256, batch POSTs, fixed offered loads), the same
//! receipt bytes inserted into PostgreSQL at the same concurrencies (with
//! `--pg`), and at each scale N a ledger of N receipts (`cairn-tools
//! populate`, kept under the work directory and reused by later runs):
//! bytes on disk, export, a full `cairn-verify audit` (receipts/s, peak
//! RSS), inclusion and consistency proofs served per second, an incident
//! query's latency, and the served ledger's peak RSS. Short measurements
//! are repeated (`--reps`) and reported as median and range. `--long`
//! runs the long runs instead (`longrun`: sustained rate, soak, overload).

mod ab;
mod gate;
mod longrun;
mod opts;
mod pg;
mod pg_backend;
mod policy;
mod procs;
mod report;
mod targets;
mod witnessing;

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use procs::{ADMIN_TOKEN, Bins, Served};

pub use opts::Opts;
use opts::{USAGE, parse};

/// Median and range of repeated measurements.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    pub fn of(v: &[f64]) -> Stat {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let median = match s.len() {
            0 => 0.0,
            n if n % 2 == 1 => s[n / 2],
            n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
        };
        Stat {
            median,
            min: s.first().copied().unwrap_or(0.0),
            max: s.last().copied().unwrap_or(0.0),
        }
    }
}

/// One ingest configuration, measured `reps` times.
pub struct IngestRow {
    pub label: String,
    pub concurrency: usize,
    pub batch: usize,
    pub rate: Option<f64>,
    pub receipts: u64,
    pub per_second: Stat,
    pub p50: Stat,
    pub p99: Stat,
    pub max: Stat,
    pub cpu_us: Stat,
    /// The load generator's CPU per request (median), when it reports it.
    pub client_us: Option<f64>,
    pub failed: u64,
}

/// PostgreSQL at one concurrency.
pub struct PgRow {
    pub concurrency: usize,
    pub per_second: Stat,
    pub p50: Stat,
    pub p99: Stat,
}

/// A ledger of N receipts.
pub struct ScaleRow {
    pub receipts: u64,
    /// Seconds, receipts/s and peak RSS (KiB) of the populate run, if this run populated.
    pub populated: Option<(f64, f64, u64)>,
    /// The ledger was populated by an earlier run and reused.
    pub populated_earlier: bool,
    pub entries: u64,
    pub db_bytes: u64,
    pub receipt_bytes: f64,
    pub export_bytes: u64,
    pub export_secs: f64,
    pub audit_secs: f64,
    pub audit_rss_kb: u64,
    pub audit_verdict: String,
    /// The same audit read over the served ledger's tiles (`audit --url`):
    /// seconds, peak RSS (KiB) and verdict.
    pub tiles_audit_secs: f64,
    pub tiles_audit_rss_kb: u64,
    pub tiles_audit_verdict: String,
    pub inclusion: Stat,
    pub inclusion_p99: Stat,
    pub consistency: Stat,
    pub query_p50: Stat,
    pub query_p99: Stat,
    pub serve_rss_kb: u64,
}

/// Everything one run measured.
pub struct Results {
    pub date: String,
    pub command: String,
    pub machine: Vec<(String, String)>,
    pub reps: usize,
    pub seconds: u64,
    pub verify_limit: f64,
    pub threads: usize,
    pub fdatasync: f64,
    pub sha256: f64,
    pub receipt_costs: Vec<(&'static str, f64)>,
    pub policy: Vec<policy::Row>,
    pub ingest: Vec<IngestRow>,
    pub ingest_rss_kb: u64,
    pub pg: Vec<PgRow>,
    pub pg_version: Option<String>,
    pub scales: Vec<ScaleRow>,
    pub witnessing: Option<witnessing::WitnessRow>,
    pub gate: Option<gate::GateRow>,
}

/// `cairn-tools load` (the binary `tools`) against `served`, checking every
/// acknowledgement's proof under the log key as a gate does.
fn load_json(tools: &Path, served: &Served, args: &[String]) -> Result<serde_json::Value, String> {
    let mut cmd = Command::new(tools);
    cmd.arg("load")
        .args(["--url", &served.url, "--json"])
        .arg("--log-key")
        .arg(format!("@{}", served.log_vkey.display()))
        .args(args)
        .env("CAIRN_ADMIN_TOKEN", ADMIN_TOKEN);
    let out = cmd.output().map_err(|e| format!("cairn-tools load: {e}"))?;
    serde_json::from_slice(&out.stdout).map_err(|_| {
        format!(
            "cairn-tools load {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

fn f(v: &serde_json::Value, path: &[&str]) -> f64 {
    path.iter().fold(v, |v, k| &v[*k]).as_f64().unwrap_or(0.0)
}

/// A new authority key in `dir`: (key file, vkey file).
fn authority(bins: &Bins, dir: &Path) -> Result<(std::path::PathBuf, std::path::PathBuf), String> {
    let auth_key = dir.join("authority.key");
    let vkey = procs::output(
        Command::new(&bins.ledger)
            .args(["keygen", "--name", "bench.example/authority", "--out"])
            .arg(&auth_key),
    )?;
    let auth_vkey = dir.join("authority.vkey");
    std::fs::write(&auth_vkey, vkey).map_err(|e| e.to_string())?;
    Ok((auth_key, auth_vkey))
}

/// Ingest over HTTP: every configuration `reps` times against one fresh served ledger.
fn ingest(bins: &Bins, o: &Opts, work: &Path) -> Result<(Vec<IngestRow>, u64), String> {
    let dir = work.join("ingest");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (auth_key, auth_vkey) = authority(bins, &dir)?;
    let data = dir.join("data");
    let served = Served::start(bins, &data, Some(&auth_vkey))?;
    let ticks = procs::clock_ticks();
    let s = o.seconds as f64;
    // (label, concurrency, batch, offered rate, first guess of receipts/s)
    let specs: Vec<(String, usize, usize, Option<f64>, f64)> = vec![
        ("single POSTs".into(), 1, 1, None, 400.0),
        ("single POSTs".into(), 16, 1, None, 3_000.0),
        ("single POSTs".into(), 64, 1, None, 5_000.0),
        ("single POSTs".into(), 256, 1, None, 5_000.0),
        ("batch POSTs of 64".into(), 16, 64, None, 7_000.0),
        ("offered 1,000/s".into(), 256, 1, Some(1_000.0), 1_000.0),
        ("offered 5,000/s".into(), 256, 1, Some(5_000.0), 5_000.0),
        ("offered 20,000/s".into(), 256, 1, Some(20_000.0), 20_000.0),
    ];
    let mut rows = Vec::new();
    let mut first = true;
    for (label, c, batch, rate, mut guess) in specs {
        let mut m: [Vec<f64>; 5] = Default::default();
        let mut client = Vec::new();
        let (mut failed, mut receipts) = (0, 0);
        for rep in 0..o.reps {
            // Closed loop: about `seconds` of work at the last rate seen;
            // open loop: the offered rate for `seconds`.
            let n = match rate {
                Some(r) => (r * s) as u64,
                None => ((guess * s) as u64).max(50 * c as u64),
            }
            .min(10_000_000);
            let mut args: Vec<String> = [
                "--receipts",
                &n.to_string(),
                "--concurrency",
                &c.to_string(),
                "--batch",
                &batch.to_string(),
            ]
            .map(String::from)
            .to_vec();
            if let Some(r) = rate {
                args.extend(["--rate".into(), r.to_string()]);
            }
            if first {
                args.extend(["--setup-with".into(), auth_key.display().to_string()]);
                first = false;
            }
            eprintln!(
                "bench: ingest {label}, concurrency {c}, {n} receipts (repetition {})",
                rep + 1
            );
            let before = served.cpu_ticks()?;
            let v = load_json(&bins.tools, &served, &args)?;
            let cpu = (served.cpu_ticks()? - before) as f64 / ticks;
            let rps = f(&v, &["receipts_per_second"]);
            if rate.is_none() {
                guess = rps;
            }
            m[0].push(rps);
            m[1].push(f(&v, &["latency_ms", "p50"]));
            m[2].push(f(&v, &["latency_ms", "p99"]));
            m[3].push(f(&v, &["latency_ms", "max"]));
            m[4].push(cpu * 1e6 / n as f64);
            if let Some(c) = v["client_cpu_us_per_request"].as_f64() {
                client.push(c);
            }
            failed += v["failed_requests"].as_u64().unwrap_or(0);
            receipts += n;
        }
        rows.push(IngestRow {
            label,
            concurrency: c,
            batch,
            rate,
            receipts,
            per_second: Stat::of(&m[0]),
            p50: Stat::of(&m[1]),
            p99: Stat::of(&m[2]),
            max: Stat::of(&m[3]),
            cpu_us: Stat::of(&m[4]),
            client_us: (!client.is_empty()).then(|| Stat::of(&client).median),
            failed,
        });
    }
    let rss = served.peak_rss_kb()?;
    drop(served);
    Ok((rows, rss))
}

fn postgres(o: &Opts, body: &[u8]) -> Result<(Vec<PgRow>, String), String> {
    let pg = pg::Pg::start(&std::env::temp_dir())?;
    let mut rows = Vec::new();
    for c in [1usize, 16, 64, 256] {
        let mut m: [Vec<f64>; 3] = Default::default();
        for rep in 0..o.reps {
            eprintln!("bench: PostgreSQL, concurrency {c} (repetition {})", rep + 1);
            let (tps, p50, p99) = pg.insert_rate(body, c, o.seconds)?;
            m[0].push(tps);
            m[1].push(p50);
            m[2].push(p99);
        }
        rows.push(PgRow {
            concurrency: c,
            per_second: Stat::of(&m[0]),
            p50: Stat::of(&m[1]),
            p99: Stat::of(&m[2]),
        });
    }
    Ok((rows, pg.version()))
}

/// The mean receipt (COSE) size among the first entries of an export.
fn receipt_bytes(export: &Path) -> Result<f64, String> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(export).map_err(|e| format!("{}: {e}", export.display()))?;
    let mut dec = cairn_api::export::ExportDecoder::new();
    let (mut n, mut total) = (0u64, 0u64);
    let mut buf = vec![0u8; 1 << 20];
    while n < 10_000 {
        let got = file.read(&mut buf).map_err(|e| e.to_string())?;
        if got == 0 {
            break;
        }
        dec.push(&buf[..got]);
        while let Some(item) = dec.next_item().map_err(|e| e.to_string())? {
            if let cairn_api::export::ExportItem::Entry { bytes, .. } = item
                && let Ok(e) = cairn_api::entry::Entry::from_cbor(&bytes)
                && e.kind() == cairn_api::entry::EntryKind::Receipt
            {
                n += 1;
                total += e.body().len() as u64;
            }
        }
    }
    Ok(total as f64 / n.max(1) as f64)
}

/// `cairn-tools read-load`: proofs with 16 clients (throughput), the query
/// with one (an incident reviewer's latency, not a queue's).
fn read_load(bins: &Bins, url: &str, read: &str, seconds: u64) -> Result<serde_json::Value, String> {
    let clients = if read == "query" { "1" } else { "16" };
    let out = procs::output(
        Command::new(&bins.tools)
            .args([
                "read-load",
                "--url",
                url,
                "--json",
                "--concurrency",
                clients,
                "--read",
                read,
            ])
            .args(["--seconds", &seconds.to_string()]),
    )?;
    serde_json::from_str(&out).map_err(|e| format!("read-load: {e}"))
}

/// A ledger of `n` receipts: populate (or reuse), export, audit, serve reads.
fn scale(bins: &Bins, o: &Opts, work: &Path, n: u64) -> Result<ScaleRow, String> {
    let dir = work.join(format!("scale-{n}"));
    let data = dir.join("data");
    let marker = dir.join("populated");
    // The marker holds "N SECONDS PEAK_RSS_KB" of the populate run that built the ledger.
    let earlier = std::fs::read_to_string(&marker).ok().and_then(|m| {
        let v: Vec<f64> = m.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        (v.len() == 3 && v[0] as u64 == n && data.join("ledger.redb").exists())
            .then(|| (v[1], n as f64 / v[1], v[2] as u64))
    });
    let (populated, populated_earlier) = if let Some(p) = earlier {
        eprintln!("bench: reusing the ledger of {n} receipts in {}", dir.display());
        // A run stopped midway (or one before the served ledger was stopped
        // with SIGTERM) leaves the databases not closed cleanly, and export
        // refuses such a file: recover first, as the error tells an operator.
        procs::output(Command::new(&bins.ledger).args(["recover", "--data-dir"]).arg(&data))?;
        (Some(p), true)
    } else {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        eprintln!("bench: populating a ledger of {n} receipts in {}", dir.display());
        let (_, secs, rss) = procs::timed(
            &bins.tools,
            &[
                "populate",
                "--data-dir",
                &data.display().to_string(),
                "--receipts",
                &n.to_string(),
            ],
            &dir,
        )?;
        std::fs::write(&marker, format!("{n} {secs} {rss}\n")).map_err(|e| e.to_string())?;
        (Some((secs, n as f64 / secs, rss)), false)
    };
    let export = dir.join("export");
    eprintln!("bench: export and audit at {n}");
    let (_, export_secs, _) = procs::timed(
        &bins.ledger,
        &[
            "export",
            "--data-dir",
            &data.display().to_string(),
            "--out",
            &export.display().to_string(),
        ],
        &dir,
    )?;
    let export_bytes = std::fs::metadata(&export).map_err(|e| e.to_string())?.len();
    let receipt_bytes = receipt_bytes(&export)?;
    let keys = data.join("keys");
    let vkey = |name: &str| {
        std::fs::read_to_string(keys.join(name))
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("{}: {e}", keys.join(name).display()))
    };
    let trust = dir.join("trust");
    std::fs::write(
        &trust,
        format!("log {}\nauthority {}\n", vkey("log.vkey")?, vkey("authority.vkey")?),
    )
    .map_err(|e| e.to_string())?;
    let (audit_out, audit_secs, audit_rss_kb) = procs::timed(
        &bins.verify,
        &[
            "audit",
            "--export",
            &export.display().to_string(),
            "--trust",
            &trust.display().to_string(),
        ],
        &dir,
    )?;
    let audit_verdict = verdict_lines(&audit_out);
    let _ = std::fs::remove_file(&export);
    let served = Served::start(bins, &data, Some(&keys.join("authority.vkey")))?;
    let caught_up = served.wait_indexed(Duration::from_secs(3600))?;
    if caught_up > Duration::from_secs(1) {
        eprintln!("bench: the query index caught up in {:.0} s", caught_up.as_secs_f64());
    }
    eprintln!("bench: audit over tiles at {n}");
    let (tiles_out, tiles_audit_secs, tiles_audit_rss_kb) = procs::timed(
        &bins.verify,
        &["audit", "--url", &served.url, "--trust", &trust.display().to_string()],
        &dir,
    )?;
    let tiles_audit_verdict = verdict_lines(&tiles_out);
    let mut m: [Vec<f64>; 5] = Default::default();
    let mut entries = 0;
    for rep in 0..o.reps {
        eprintln!("bench: proofs and queries at {n} (repetition {})", rep + 1);
        let i = read_load(bins, &served.url, "inclusion", o.seconds)?;
        entries = i["tree_size"].as_u64().unwrap_or(0);
        m[0].push(f(&i, &["per_second"]));
        m[1].push(f(&i, &["latency_ms", "p99"]));
        m[2].push(f(
            &read_load(bins, &served.url, "consistency", o.seconds)?,
            &["per_second"],
        ));
        let q = read_load(bins, &served.url, "query", o.seconds)?;
        m[3].push(f(&q, &["latency_ms", "p50"]));
        m[4].push(f(&q, &["latency_ms", "p99"]));
    }
    let serve_rss_kb = served.peak_rss_kb()?;
    drop(served);
    // On disk: the log and its query index (derived, but it takes disk too).
    let db_bytes = ["ledger.redb", "index.redb"]
        .iter()
        .filter_map(|f| std::fs::metadata(data.join(f)).ok())
        .map(|m| m.len())
        .sum::<u64>();
    Ok(ScaleRow {
        receipts: n,
        populated,
        populated_earlier,
        entries,
        db_bytes,
        receipt_bytes,
        export_bytes,
        export_secs,
        audit_secs,
        audit_rss_kb,
        audit_verdict,
        tiles_audit_secs,
        tiles_audit_rss_kb,
        tiles_audit_verdict,
        inclusion: Stat::of(&m[0]),
        inclusion_p99: Stat::of(&m[1]),
        consistency: Stat::of(&m[2]),
        query_p50: Stat::of(&m[3]),
        query_p99: Stat::of(&m[4]),
        serve_rss_kb,
    })
}

/// The lines of an audit's output that give its verdict.
fn verdict_lines(audit_out: &str) -> String {
    audit_out
        .lines()
        .filter(|l| l.contains("receipts valid") || l.starts_with("Result:"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ")
}

fn machine(pg: Option<&String>) -> Vec<(String, String)> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_owned())
            })
        })
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next()?.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or_else(String::new, |kb| format!("{:.1} GiB", kb as f64 / (1 << 20) as f64));
    let cmd = |p: &str, a: &[&str]| {
        procs::output(Command::new(p).args(a))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|o| {
            o.lines()
                .find_map(|l| Some(l.strip_prefix("PRETTY_NAME=")?.trim_matches('"').to_owned()))
        })
        .unwrap_or_default();
    let mut v = vec![
        (
            "cores".into(),
            std::thread::available_parallelism().map_or(1, |n| n.get()).to_string(),
        ),
        ("CPU".into(), cpu),
        ("memory".into(), mem),
        ("OS".into(), format!("{os}, kernel {}", cmd("uname", &["-r"]))),
        ("rustc".into(), cmd("rustc", &["--version"])),
        (
            "cairn".into(),
            format!(
                "{} ({})",
                env!("CARGO_PKG_VERSION"),
                cmd("git", &["rev-parse", "--short", "HEAD"])
            ),
        ),
    ];
    if let Some(p) = pg {
        v.push(("PostgreSQL".into(), p.clone()));
    }
    v
}

fn suite(root: &Path, o: &Opts, args: &[String]) -> Result<Results, String> {
    std::fs::create_dir_all(&o.work).map_err(|e| format!("{}: {e}", o.work.display()))?;
    let work = o.work.canonicalize().map_err(|e| e.to_string())?;
    let bins = procs::build(root)?;
    eprintln!("bench: machine limits");
    let (threads, verify_limit) = crate::limits::verify_rate();
    let (fdatasync, sha256) = (crate::limits::fdatasync_rate(&work), crate::limits::sha256_rate());
    let receipt_costs = crate::limits::receipt_costs();
    eprintln!("bench: policy decisions");
    let policy = policy::rates(root, o.reps, Duration::from_secs(1))?;
    let (ingest, ingest_rss_kb) = ingest(&bins, o, &work)?;
    eprintln!("bench: ingest with and without two witnesses");
    let witnessing = Some(witnessing::compare(&bins, o, &work)?);
    eprintln!("bench: the served gate (AuthZEN end to end, the MCP proxy)");
    let gate = Some(gate::measure(root, if o.quick { 3_000 } else { 20_000 })?);
    let (pg, pg_version) = if o.pg {
        let body = cairn_api::examples::signed_receipt(4);
        let (rows, v) = postgres(o, &body)?;
        (rows, Some(v))
    } else {
        (vec![], None)
    };
    let mut scales = Vec::new();
    for &n in &o.scales {
        scales.push(scale(&bins, o, &work, n)?);
    }
    let date = procs::output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))
        .map(|d| d.trim().to_owned())
        .unwrap_or_default();
    Ok(Results {
        date,
        command: format!("bench/run {}", args.join(" ")).trim().to_owned(),
        machine: machine(pg_version.as_ref()),
        reps: o.reps,
        seconds: o.seconds,
        verify_limit,
        threads,
        fdatasync,
        sha256,
        receipt_costs,
        policy,
        ingest,
        ingest_rss_kb,
        pg,
        pg_version,
        scales,
        witnessing,
        gate,
    })
}

/// Run the suite; write (or, with `--quick`, print) the report.
pub fn run(root: &Path, args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let o = match parse(root, args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // The modes whose table is printed, not written.
    let printed = |table: Result<String, String>| match table {
        Ok(table) => {
            println!("{table}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    };
    if o.pg_backend {
        return printed(pg_backend::pg_backend(root, &o));
    }
    if let Some(rev) = &o.ab {
        return printed(ab::ab(root, &o, rev));
    }
    let text = if o.long {
        longrun::long(root, &o, args)
    } else {
        suite(root, &o, args).map(|r| report::render(&r))
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let splice = if o.long { longrun::write } else { report::splice };
    match &o.out {
        None => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Some(out) => match splice(out, &text) {
            Ok(()) => {
                eprintln!("bench: report written to {}", out.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("bench: {e}");
                println!("{text}");
                ExitCode::FAILURE
            }
        },
    }
}
