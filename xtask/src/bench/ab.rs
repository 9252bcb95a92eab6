//! `bench/run --ab REV`: the ingest runs against the binaries of git
//! revision REV ("before") and of the working tree ("after"), side by side
//! in one run: both ledgers are served at once, fresh, and every
//! configuration is measured before, after, before, after… (`--reps`
//! times each), so the noise of a shared machine falls on both. Each side
//! uses its own load generator, as that revision would measure itself;
//! the server's CPU per receipt is reported apart from the throughput.
//! The table is printed, not written to the report.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use super::procs::{self, Bins, Served};
use super::report::{si, sms};
use super::{Opts, Stat, authority, f, load_json};

/// (label, concurrency, receipts per POST, first guess of receipts/s)
const SPECS: [(&str, usize, usize, f64); 4] = [
    ("single POSTs", 16, 1, 3_000.0),
    ("single POSTs", 64, 1, 5_000.0),
    ("single POSTs", 256, 1, 5_000.0),
    ("batch POSTs of 64", 16, 64, 8_000.0),
];

struct Side {
    served: Served,
    setup: Option<std::path::PathBuf>,
}

/// The binaries of `rev`, built in a worktree under `work`.
fn build_rev(root: &Path, work: &Path, rev: &str) -> Result<Bins, String> {
    let src = work.join("ab-src");
    if !src.exists() {
        procs::output(Command::new("git").current_dir(root).args(["worktree", "prune"]))?;
        procs::output(
            Command::new("git")
                .current_dir(root)
                .args(["worktree", "add", "--detach"])
                .arg(&src)
                .arg(rev),
        )?;
    } else {
        procs::output(
            Command::new("git")
                .current_dir(&src)
                .args(["checkout", "--quiet", "--detach", rev]),
        )?;
    }
    procs::build_into(&src, &work.join("ab-target"))
}

fn start(bins: &Bins, dir: &Path) -> Result<Side, String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (key, vkey) = authority(bins, dir)?;
    let served = Served::start(bins, &dir.join("data"), Some(&vkey))?;
    Ok(Side {
        served,
        setup: Some(key),
    })
}

/// Run it; the Markdown table.
pub fn ab(root: &Path, o: &Opts, rev: &str) -> Result<String, String> {
    let work = o.work.join("ab");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    eprintln!("bench: building {rev} (before) and the working tree (after)");
    let before = build_rev(root, &work, rev)?;
    let after = procs::build(root)?;
    // One client for both sides (the working tree's load generator, which
    // checks every proof): what differs is the server.
    let client = after.tools.clone();
    let mut sides = [
        start(&before, &work.join("before"))?,
        start(&after, &work.join("after"))?,
    ];
    let ticks = procs::clock_ticks();
    let mut out = format!(
        "Before: {rev}; after: the working tree. Each cell is the median of {} runs of {} s, with their range.\n\n\
         | run | concurrency | receipts/s before | receipts/s after | after / before | p99 before | p99 after | server CPU per receipt before | after |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        o.reps, o.seconds
    );
    for (label, c, batch, guess) in SPECS {
        // [side] -> (receipts/s, p99, server µs per receipt) per repetition
        let mut m: [[Vec<f64>; 3]; 2] = Default::default();
        let mut guesses = [guess, guess];
        for rep in 0..o.reps {
            for (k, side) in sides.iter_mut().enumerate() {
                let n = ((guesses[k] * o.seconds as f64) as u64)
                    .max(50 * c as u64)
                    .min(10_000_000);
                let mut args: Vec<String> = ["--receipts", &n.to_string(), "--concurrency", &c.to_string()]
                    .map(String::from)
                    .to_vec();
                args.extend(["--batch".into(), batch.to_string()]);
                if let Some(key) = side.setup.take() {
                    args.extend(["--setup-with".into(), key.display().to_string()]);
                }
                eprintln!(
                    "bench: ab {label}, concurrency {c}, {n} receipts, {} (repetition {})",
                    ["before", "after"][k],
                    rep + 1
                );
                let t0 = side.served.cpu_ticks()?;
                let v = load_json(&client, &side.served, &args)?;
                let cpu = (side.served.cpu_ticks()? - t0) as f64 / ticks;
                let rps = f(&v, &["receipts_per_second"]);
                guesses[k] = rps;
                m[k][0].push(rps);
                m[k][1].push(f(&v, &["latency_ms", "p99"]));
                m[k][2].push(cpu * 1e6 / n as f64);
            }
        }
        let [b, a] = m.map(|s| s.map(|v| Stat::of(&v)));
        let _ = writeln!(
            out,
            "| {label} | {c} | {} | {} | {:.2}× | {} | {} | {:.0} µs | {:.0} µs |",
            si(b[0]),
            si(a[0]),
            a[0].median / b[0].median.max(1e-9),
            sms(b[1]),
            sms(a[1]),
            b[2].median,
            a[2].median
        );
    }
    Ok(out)
}
