//! Ingest with and without witnesses, side by side in one run: two fresh
//! served ledgers, one configured with two `cairn-witness` processes (a
//! 2-of-2 quorum, the default 1 s interval), measured alternately with
//! single-receipt POSTs at concurrency 64. Witnessing runs beside the
//! sequencer and never delays an acknowledgement: the target is that the
//! witnessed ledger keeps ≥ 95 % of the other's throughput, and that it
//! did publish cosigned checkpoints meanwhile.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::procs::{self, Bins, Served};
use super::{Opts, Stat, f, load_json};

/// What the comparison measured.
pub struct WitnessRow {
    /// Receipts per second without witnesses.
    pub without: Stat,
    /// Receipts per second with two witnesses.
    pub with: Stat,
    /// Cosignatures the witnessed ledger collected.
    pub cosignatures: f64,
    /// The size of its newest cosigned checkpoint.
    pub cosigned_size: f64,
}

/// A `cairn-witness serve` child, killed when dropped.
struct WitnessProc {
    child: Child,
    url: String,
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn witness(bins: &Bins, dir: &Path, n: u32, log_vkey: &str) -> Result<(WitnessProc, String), String> {
    let key = dir.join(format!("w{n}.key"));
    let vkey = procs::output(
        Command::new(&bins.witness)
            .args(["keygen", "--name", &format!("bench.example/w{n}"), "--out"])
            .arg(&key),
    )?;
    let mut child = Command::new(&bins.witness)
        .args(["serve", "--listen", "127.0.0.1:0", "--log", log_vkey.trim(), "--key"])
        .arg(&key)
        .arg("--data-dir")
        .arg(dir.join(format!("w{n}")))
        .env("CAIRN_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cairn-witness serve: {e}"))?;
    let stdout = child.stdout.take().ok_or("cairn-witness: no stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(l)) => {
                if let Some(u) = l.strip_prefix("listening on ") {
                    break u.trim().to_owned();
                }
            }
            _ => return Err("cairn-witness serve did not start".into()),
        }
    };
    Ok((WitnessProc { child, url }, vkey.trim().to_owned()))
}

fn metric(url: &str, name: &str) -> f64 {
    let Ok(out) = procs::output(Command::new("curl").args(["-fsS", &format!("{url}/metrics")])) else {
        return 0.0;
    };
    out.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Measure both ledgers alternately, `o.reps` times each.
pub fn compare(bins: &Bins, o: &Opts, work: &Path) -> Result<WitnessRow, String> {
    let dir = work.join("witnessing");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("witnessed")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (auth_key, auth_vkey) = super::authority(bins, &dir)?;
    // The witnessed ledger's log key exists before it starts, so that the
    // witnesses can be told it.
    let log_vkey = procs::output(
        Command::new(&bins.ledger)
            .args(["keygen", "--name", "bench.example/witnessed", "--out"])
            .arg(dir.join("witnessed/log.key")),
    )?;
    let (w1, k1) = witness(bins, &dir, 1, &log_vkey)?;
    let (w2, k2) = witness(bins, &dir, 2, &log_vkey)?;
    let file = dir.join("witnesses.txt");
    std::fs::write(
        &file,
        format!(
            "witness w1 {k1} {}\nwitness w2 {k2} {}\ngroup both all w1 w2\nquorum both\n",
            w1.url, w2.url
        ),
    )
    .map_err(|e| e.to_string())?;
    let plain = Served::start(bins, &dir.join("plain"), Some(&auth_vkey))?;
    let witnessed = Served::start_with(
        bins,
        &dir.join("witnessed"),
        Some(&auth_vkey),
        &["--witnesses".into(), file.display().to_string()],
    )?;
    let s = o.seconds as f64;
    let mut guess = 5_000.0f64;
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for rep in 0..o.reps {
        for (label, served, out) in [("without", &plain, &mut without), ("with two", &witnessed, &mut with)] {
            let n = ((guess * s) as u64).max(50 * 64);
            let mut args: Vec<String> = ["--receipts", &n.to_string(), "--concurrency", "64", "--batch", "1"]
                .map(String::from)
                .to_vec();
            if rep == 0 {
                args.extend(["--setup-with".into(), auth_key.display().to_string()]);
            }
            eprintln!(
                "bench: single POSTs, concurrency 64, {n} receipts, {label} witnesses (repetition {})",
                rep + 1
            );
            let v = load_json(&bins.tools, served, &args)?;
            let rps = f(&v, &["receipts_per_second"]);
            guess = rps.max(100.0);
            out.push(rps);
        }
    }
    // Let the last round publish, then read what the witnessed ledger did.
    std::thread::sleep(Duration::from_millis(2_500));
    let row = WitnessRow {
        without: Stat::of(&without),
        with: Stat::of(&with),
        cosignatures: metric(&witnessed.url, "cairn_witness_cosignatures_total"),
        cosigned_size: metric(&witnessed.url, "cairn_witness_cosigned_size"),
    };
    drop((plain, witnessed, w1, w2));
    Ok(row)
}
