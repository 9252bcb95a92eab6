//! `bench/run --pg-backend`: the ledger on PostgreSQL next to the ledger
//! on its embedded redb file and next to plain PostgreSQL one-row inserts
//! of the same receipt bytes, in one run on one machine (each
//! configuration's repetitions interleaved); then with two instances on
//! the database: inclusion proofs served by one instance and by both, and
//! the failover time when the writer is SIGKILLed. The table is printed
//! (docs/benchmarks.md, "The PostgreSQL backend", quotes it with the
//! command).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::procs::{self, Bins, Served};
use super::{Opts, Stat, authority, f, load_json, pg, read_load};

/// A served ledger's sequencer epoch from its metrics (`None`: it does not write).
fn epoch(url: &str) -> Option<u64> {
    let http = cairn_gate::client::Http::new(url);
    let (status, body) = http.get("/metrics", 1 << 20, Duration::from_secs(5)).ok()?;
    (status == 200).then_some(())?;
    let text = String::from_utf8(body).ok()?;
    let v: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("cairn_sequencer_epoch "))?
        .trim()
        .parse()
        .ok()?;
    u64::try_from(v).ok()
}

/// Wait until `served` writes; how long it took.
fn wait_writing(served: &Served, bound: Duration) -> Result<Duration, String> {
    let t0 = Instant::now();
    while epoch(&served.url).is_none() {
        if t0.elapsed() > bound {
            return Err(format!(
                "{} did not take the sequencer lease within {bound:?}",
                served.url
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(t0.elapsed())
}

/// One row: (what, concurrency, batch) and receipts/s, p50, p99 for redb,
/// the PostgreSQL backend and plain PostgreSQL inserts.
struct Row {
    label: &'static str,
    c: usize,
    batch: usize,
    redb: [Vec<f64>; 3],
    pg_backend: [Vec<f64>; 3],
    pg_plain: [Vec<f64>; 3],
}

fn load(
    bins: &Bins,
    served: &Served,
    n: u64,
    c: usize,
    batch: usize,
    setup: Option<&Path>,
) -> Result<[f64; 3], String> {
    let mut args: Vec<String> = ["--receipts", &n.to_string(), "--concurrency", &c.to_string()]
        .map(String::from)
        .to_vec();
    args.extend(["--batch".into(), batch.to_string()]);
    if let Some(k) = setup {
        args.extend(["--setup-with".into(), k.display().to_string()]);
    }
    let v = load_json(&bins.tools, served, &args)?;
    if v["failed_requests"].as_u64().unwrap_or(0) > 0 {
        return Err(format!("{}: failed requests: {v}", served.url));
    }
    Ok([
        f(&v, &["receipts_per_second"]),
        f(&v, &["latency_ms", "p50"]),
        f(&v, &["latency_ms", "p99"]),
    ])
}

fn push(into: &mut [Vec<f64>; 3], m: [f64; 3]) {
    for (v, x) in into.iter_mut().zip(m) {
        v.push(x);
    }
}

fn cell(v: &[Vec<f64>; 3]) -> [Stat; 3] {
    [Stat::of(&v[0]), Stat::of(&v[1]), Stat::of(&v[2])]
}

/// The whole comparison; the markdown printed.
pub fn pg_backend(root: &Path, o: &Opts) -> Result<String, String> {
    let bins = procs::build(root)?;
    let work = o.work.join("pg-backend");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let (auth_key, auth_vkey) = authority(&bins, &work)?;
    let pg = pg::Pg::start(&std::env::temp_dir())?;
    let db = pg.params();
    let pg_flags = |ttl: Option<u64>| {
        let mut v = vec!["--database".to_owned(), db.clone()];
        if let Some(t) = ttl {
            v.extend(["--lease-ttl-ms".into(), t.to_string()]);
        }
        v
    };
    let redb = Served::start(&bins, &work.join("redb"), Some(&auth_vkey))?;
    let a_dir = work.join("pg-a");
    let a = Served::start_with(&bins, &a_dir, Some(&auth_vkey), &pg_flags(None))?;
    wait_writing(&a, Duration::from_secs(30))?;
    load(&bins, &redb, 10, 1, 1, Some(&auth_key))?;
    load(&bins, &a, 10, 1, 1, Some(&auth_key))?;
    let body = cairn_api::examples::signed_receipt(0);
    let mut rows = vec![
        ("single POSTs", 16, 1),
        ("single POSTs", 64, 1),
        ("batch POSTs of 64", 16, 64),
    ]
    .into_iter()
    .map(|(label, c, batch)| Row {
        label,
        c,
        batch,
        redb: Default::default(),
        pg_backend: Default::default(),
        pg_plain: Default::default(),
    })
    .collect::<Vec<_>>();
    let n = |guess: f64| ((guess * o.seconds as f64) as u64).max(1000);
    for rep in 0..o.reps {
        for r in &mut rows {
            eprintln!(
                "bench: {} at concurrency {} on redb, the PostgreSQL backend and plain PostgreSQL (repetition {})",
                r.label,
                r.c,
                rep + 1
            );
            let guess = if r.batch > 1 { 8_000.0 } else { 3_000.0 };
            push(&mut r.redb, load(&bins, &redb, n(guess), r.c, r.batch, None)?);
            push(&mut r.pg_backend, load(&bins, &a, n(guess), r.c, r.batch, None)?);
            let (tps, p50, p99) = pg.insert_rate(&body, r.c, o.seconds)?;
            push(&mut r.pg_plain, [tps, p50, p99]);
        }
    }
    drop(redb);

    // Two instances: reads served by one, then by both at once.
    let b_dir = work.join("pg-b");
    std::fs::create_dir_all(&b_dir).map_err(|e| e.to_string())?;
    for file in ["log.key", "log.vkey"] {
        std::fs::copy(a_dir.join(file), b_dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
    }
    let b = Served::start_with(&bins, &b_dir, Some(&auth_vkey), &pg_flags(None))?;
    let mut one = Vec::new();
    let mut two = Vec::new();
    for rep in 0..o.reps {
        eprintln!(
            "bench: inclusion proofs from one instance, then two (repetition {})",
            rep + 1
        );
        one.push(f(&read_load(&bins, &a.url, "inclusion", o.seconds)?, &["per_second"]));
        let (ua, ub) = (a.url.clone(), b.url.clone());
        let (bins_a, bins_b) = (bins.clone(), bins.clone());
        let s = o.seconds;
        let ta = std::thread::spawn(move || read_load(&bins_a, &ua, "inclusion", s));
        let tb = std::thread::spawn(move || read_load(&bins_b, &ub, "inclusion", s));
        let va = ta.join().map_err(|_| "read-load thread panicked")??;
        let vb = tb.join().map_err(|_| "read-load thread panicked")??;
        two.push(f(&va, &["per_second"]) + f(&vb, &["per_second"]));
    }

    // Failover: SIGKILL the writer; the time until the other writes.
    let kills = if o.quick { 2 } else { 5 };
    let mut served = [Some(a), Some(b)];
    let dirs = [a_dir, b_dir];
    let mut failovers = Vec::new();
    for k in 0..kills {
        let w = (0..2)
            .find(|&i| served[i].as_ref().is_some_and(|s| epoch(&s.url).is_some()))
            .ok_or("no instance writes")?;
        let other = served[1 - w].as_ref().ok_or("no second instance")?;
        eprintln!("bench: failover {} of {kills}: SIGKILL the writer", k + 1);
        let pid = served[w].as_ref().map(Served::pid).ok_or("no writer")?;
        procs::output(Command::new("kill").args(["-KILL", &pid.to_string()]))?;
        let took = wait_writing(other, Duration::from_secs(60))?;
        // The new writer acknowledges (a load that must not fail).
        load(&bins, other, 100, 4, 1, None)?;
        failovers.push(took.as_secs_f64() * 1000.0);
        served[w] = None;
        served[w] = Some(Served::start_with(&bins, &dirs[w], Some(&auth_vkey), &pg_flags(None))?);
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(served);
    Ok(render(o, &rows, &one, &two, &failovers, &pg.version()))
}

fn render(o: &Opts, rows: &[Row], one: &[f64], two: &[f64], failovers: &[f64], version: &str) -> String {
    let mut t = format!(
        "`bench/run --pg-backend --reps {} --seconds {}`: {version} on loopback (`fsync=on`, `synchronous_commit=on`), \
         median (min–max) of {} repetitions.\n\n",
        o.reps, o.seconds, o.reps
    );
    t.push_str(
        "| ingest | concurrency | redb backend receipts/s | PostgreSQL backend receipts/s | plain PostgreSQL rows/s | PostgreSQL backend / redb | PostgreSQL backend / plain | p99 redb / PostgreSQL backend / plain (ms) |\n|---|---|---|---|---|---|---|---|\n",
    );
    let fmt = |s: &Stat| format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max);
    for r in rows {
        let (rd, pb, pp) = (cell(&r.redb), cell(&r.pg_backend), cell(&r.pg_plain));
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2}× | {:.2}× | {:.1} / {:.1} / {:.1} |\n",
            r.label,
            r.c,
            fmt(&rd[0]),
            fmt(&pb[0]),
            fmt(&pp[0]),
            pb[0].median / rd[0].median.max(1e-9),
            pb[0].median / pp[0].median.max(1e-9),
            rd[2].median,
            pb[2].median,
            pp[2].median,
        ));
    }
    let (s1, s2) = (Stat::of(one), Stat::of(two));
    t.push_str(&format!(
        "\nInclusion proofs served (16 clients): one instance {}/s; two instances on the same database {}/s ({:.2}×).\n",
        fmt(&s1),
        fmt(&s2),
        s2.median / s1.median.max(1e-9)
    ));
    let mut sorted = failovers.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    let max = sorted.last().copied().unwrap_or(0.0);
    t.push_str(&format!(
        "\nFailover with the default lease (5 s), two instances, the writer SIGKILLed {} times: the other instance \
         writes after {median:.0} ms median, {max:.0} ms at most (then acknowledges a load of 100 receipts).\n",
        failovers.len()
    ));
    t
}
