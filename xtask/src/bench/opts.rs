//! `bench/run`'s options: the usage text and the parser.

use std::path::{Path, PathBuf};

pub(super) const USAGE: &str =
    "usage: bench/run [--reps N] [--seconds S] [--pg] [--scale N]... [--no-scale] [--quick] [--work DIR] [--out FILE]
       bench/run --long [...] | bench/run --ab REV [--reps N] [--seconds S]
       bench/run --pg-backend [--reps N] [--seconds S] [--quick]
  --reps N      repetitions of each short measurement (default 3)
  --seconds S   length of each timed run (default 10)
  --pg          also measure PostgreSQL (installed from Debian's packages when missing)
  --scale N     a ledger of N receipts for the audit, disk, RSS, proof and query measurements
                (repeatable; default 1000000 and 10000000; populated ledgers are kept in the work dir)
  --no-scale    no ledger at scale (ingest, PostgreSQL and limits only; their targets say not measured)
  --ab REV      instead of the suite, ingest against git revision REV and the working tree side by side,
                interleaved (the table is printed, not written)
  --pg-backend  instead of the suite, the ledger on PostgreSQL: ingest next to the redb backend and to
                plain PostgreSQL inserts, proofs from one and two instances, failover time (printed)
  --quick       a smoke run: 1 repetition, 2 s runs, one scale of 20000 (report printed, not written)
  --work DIR    where ledgers and scratch files go (default target/bench)
  --out FILE    the report to update (default docs/benchmarks.md)
  --long        instead of the suite, the long runs (a section of their own in the report):
                the sustained rate, a soak at 80 % of it, an overload at 10 × and the recovery
  --soak-s S    with --long: the soak's length (default 600; 10 with --quick)
  --overload-s S  with --long: the overload's length (default 60; 5 with --quick)";

/// What to run.
pub struct Opts {
    pub(super) reps: usize,
    pub(super) seconds: u64,
    pub(super) pg: bool,
    pub(super) pg_backend: bool,
    pub(super) scales: Vec<u64>,
    pub(super) no_scale: bool,
    pub(super) ab: Option<String>,
    pub(super) quick: bool,
    pub(super) work: PathBuf,
    pub(super) out: Option<PathBuf>,
    pub(super) long: bool,
    pub(super) soak_s: Option<u64>,
    pub(super) overload_s: Option<u64>,
}

pub(super) fn parse(root: &Path, args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        reps: 3,
        seconds: 10,
        pg: false,
        pg_backend: false,
        scales: vec![],
        no_scale: false,
        ab: None,
        quick: false,
        work: root.join("target/bench"),
        out: Some(root.join("docs/benchmarks.md")),
        long: false,
        soak_s: None,
        overload_s: None,
    };
    let mut it = args.iter();
    let num = |v: Option<&String>, name: &str, max: u64| -> Result<u64, String> {
        v.and_then(|s| s.replace('_', "").parse::<u64>().ok())
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("{name} needs a number from 1 to {max}"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--reps" => o.reps = num(it.next(), "--reps", 100)? as usize,
            "--seconds" => o.seconds = num(it.next(), "--seconds", 3600)?,
            "--pg" => o.pg = true,
            "--pg-backend" => o.pg_backend = true,
            "--scale" => o.scales.push(num(it.next(), "--scale", 100_000_000)?),
            "--no-scale" => o.no_scale = true,
            "--ab" => o.ab = Some(it.next().ok_or("--ab needs a git revision")?.clone()),
            "--quick" => o.quick = true,
            "--work" => o.work = PathBuf::from(it.next().ok_or("--work needs a directory")?),
            "--out" => o.out = Some(PathBuf::from(it.next().ok_or("--out needs a file")?)),
            "--long" => o.long = true,
            "--soak-s" => o.soak_s = Some(num(it.next(), "--soak-s", 86_400)?),
            "--overload-s" => o.overload_s = Some(num(it.next(), "--overload-s", 3600)?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.quick {
        o.reps = 1;
        o.seconds = 2;
        if o.scales.is_empty() {
            o.scales = vec![20_000];
        }
        o.out = None;
    } else if o.scales.is_empty() && !o.no_scale {
        o.scales = vec![1_000_000, 10_000_000];
    }
    if o.no_scale {
        o.scales.clear();
    }
    Ok(o)
}
