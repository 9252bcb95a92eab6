//! The report's targets table: each target of the performance issue (#16)
//! and of the served gate (#17)
//! with its measured value and a verdict, or "not measured" when this run
//! did not measure it (never a verdict without a measurement).

use std::fmt::Write as _;

use super::report::{at_10m, disk_per_entry, int, mib, si, sms, verdict};
use super::{IngestRow, Results};

const NOT_MEASURED: &str = "not measured";

fn row(out: &mut String, target: &str, measured: String, verdict: &str) {
    let _ = writeln!(out, "| {target} | {measured} | {verdict} |");
}

fn single(r: &Results, c: usize) -> Option<&IngestRow> {
    r.ingest
        .iter()
        .find(|i| i.batch == 1 && i.rate.is_none() && i.concurrency == c)
}

/// Single POSTs at `c` against PostgreSQL at `c`, at least `factor` ×.
fn against_pg(r: &Results, out: &mut String, c: usize, factor: f64) {
    let target = format!(
        "single-receipt POSTs at concurrency {c} ≥ {factor:.1}× PostgreSQL's durable one-row inserts at concurrency {c}"
    );
    match (single(r, c), r.pg.iter().find(|p| p.concurrency == c)) {
        (Some(i), Some(p)) => {
            let ratio = i.per_second.median / p.per_second.median.max(1.0);
            row(
                out,
                &target,
                format!("{ratio:.2}× ({} vs {} rows/s)", si(i.per_second), si(p.per_second)),
                verdict(ratio >= factor),
            );
        }
        (_, None) => row(out, &target, "PostgreSQL not run (`--pg`)".into(), NOT_MEASURED),
        (None, _) => row(out, &target, "no such ingest run".into(), NOT_MEASURED),
    }
}

/// The targets table.
pub fn targets(r: &Results, out: &mut String) {
    out.push_str("| target | measured | verdict |\n|---|---|---|\n");
    against_pg(r, out, 64, 1.5);
    against_pg(r, out, 16, 1.0);
    against_pg(r, out, 256, 1.0);
    let batch = r.ingest.iter().find(|i| i.batch > 1);
    for (what, run, limit) in [
        ("single POSTs, concurrency 64", single(r, 64), 80.0),
        ("batch POSTs", batch, 50.0),
    ] {
        let target = format!("server CPU per receipt ≤ {limit:.0} µs ({what})");
        match run {
            Some(i) => row(
                out,
                &target,
                format!("{:.0} µs", i.cpu_us.median),
                verdict(i.cpu_us.median <= limit),
            ),
            None => row(out, &target, "no such ingest run".into(), NOT_MEASURED),
        }
    }
    if let Some(b) = batch {
        let frac = b.per_second.median / r.verify_limit;
        row(
            out,
            "batch POSTs ≥ 60 % of the `verify_strict` limit",
            format!(
                "{} receipts/s = {:.0} % of {}",
                si(b.per_second),
                frac * 100.0,
                int(r.verify_limit)
            ),
            verdict(frac >= 0.6),
        );
    }
    for (offered, limit) in [(1_000.0, 5.0), (5_000.0, 10.0)] {
        let target = format!(
            "p99 acknowledgement ≤ {limit} ms at {} receipts/s offered",
            int(offered)
        );
        match r.ingest.iter().find(|i| i.rate == Some(offered)) {
            Some(i) => {
                let kept_up = i.per_second.median >= 0.95 * offered;
                let m = format!("p99 {}; {} receipts/s achieved", sms(i.p99), int(i.per_second.median));
                let v = if kept_up {
                    verdict(i.p99.median <= limit)
                } else {
                    "**not met** (the ledger did not keep up with the offered load)"
                };
                row(out, &target, m, v);
            }
            None => row(out, &target, "no such ingest run".into(), NOT_MEASURED),
        }
    }
    scale_targets(r, out);
    if let Some(w) = &r.witnessing {
        let ratio = w.with.median / w.without.median.max(1.0);
        row(
            out,
            "ingest with two witnesses ≥ 95 % of ingest without (single POSTs, concurrency 64, same run)",
            format!(
                "{:.0} % ({} vs {} receipts/s; {} cosignatures collected, cosigned size {})",
                ratio * 100.0,
                si(w.with),
                si(w.without),
                int(w.cosignatures),
                int(w.cosigned_size)
            ),
            verdict(ratio >= 0.95 && w.cosigned_size > 0.0),
        );
    }
    if let Some(p) = r
        .policy
        .iter()
        .find(|p| p.rules == 100 && p.engine == cairn_api::policy::registry::CAIRN_RULES.name())
    {
        row(
            out,
            "cairn-rules ≥ 1,000,000 decisions/s per core on a 100-rule bundle",
            format!("{}/s", si(p.per_second)),
            verdict(p.per_second.median >= 1_000_000.0),
        );
    }
    if let Some(g) = &r.gate {
        let (p50, p99, failed) = g.at_1000;
        row(
            out,
            "served gate: p99 ≤ 5 ms for `POST /access/v1/evaluation` end to end (decision, durable log, proof checked) at 1,000/s offered (issue 17)",
            format!(
                "p50 {p50:.2} ms, p99 {p99:.2} ms, {failed} failed (the ledger alone, same run: p50 {:.2}, p99 {:.2})",
                g.ledger_at_1000.0, g.ledger_at_1000.1
            ),
            verdict(p99 <= 5.0 && failed == 0),
        );
        row(
            out,
            "served gate: the most decisions/s one gate process sustains, 64 clients (issue 17; no target)",
            format!(
                "{:.0} decisions/s; the ledger's own single POSTs {:.0}/s at 64 clients",
                g.max_per_s, g.ledger_per_s
            ),
            "measured",
        );
        let added = |what: &str, [d, p]: [(f64, f64); 2]| {
            (
                format!("MCP proxy, {what}: added latency per tool call (issue 17; no target)"),
                format!(
                    "p50 +{:.2} ms ({:.2} → {:.2}), p99 +{:.2} ms ({:.2} → {:.2})",
                    p.0 - d.0,
                    d.0,
                    p.0,
                    p.1 - d.1,
                    d.1,
                    p.1
                ),
            )
        };
        for (what, value) in [
            added("stdio", [g.mcp_direct, g.mcp_proxied]),
            added("streamable HTTP", g.mcp_http),
        ] {
            row(out, &what, value, "measured");
        }
    }
}

/// The targets measured on ledgers at scale (1M and 10M receipts).
fn scale_targets(r: &Results, out: &mut String) {
    let Some((s10, note)) = at_10m(r) else {
        for t in [
            "full audit of a 1M and a 10M export ≥ 80 % of the `verify_strict` limit, peak RSS ≤ 100 MiB",
            "audit over tiles (`cairn-verify audit --url`) ≥ 70 % of the `verify_strict` limit",
            "≥ 50,000 inclusion proofs/s served at tree size 10M",
            "disk ≤ 1.5 × receipt bytes + 200 B per receipt, at 1M and 10M",
            "ledger RSS ≤ 150 MiB serving at 10M",
        ] {
            row(
                out,
                t,
                "no ledger at scale in this run (`--no-scale`)".into(),
                NOT_MEASURED,
            );
        }
        return;
    };
    // The audit at every size measured, each against the limit.
    let audits: Vec<(u64, f64, f64)> = r
        .scales
        .iter()
        .map(|s| {
            let frac = s.receipts as f64 / s.audit_secs.max(1e-9) / r.verify_limit;
            (s.receipts, frac, mib(s.audit_rss_kb))
        })
        .collect();
    let sizes_ok = r.scales.iter().any(|s| s.receipts == 1_000_000) && note.is_empty();
    row(
        out,
        "full audit of a 1M and a 10M export ≥ 80 % of the `verify_strict` limit, peak RSS ≤ 100 MiB",
        audits
            .iter()
            .map(|(n, frac, rss)| format!("{} receipts: {:.0} %, {rss:.0} MiB", int(*n as f64), frac * 100.0))
            .collect::<Vec<_>>()
            .join("; "),
        if sizes_ok {
            verdict(audits.iter().all(|(_, frac, rss)| *frac >= 0.8 && *rss <= 100.0))
        } else {
            "not measured at both sizes"
        },
    );
    let tiles: Vec<(u64, f64)> = r
        .scales
        .iter()
        .map(|s| {
            (
                s.receipts,
                s.receipts as f64 / s.tiles_audit_secs.max(1e-9) / r.verify_limit,
            )
        })
        .collect();
    row(
        out,
        "audit over tiles (`cairn-verify audit --url`) ≥ 70 % of the `verify_strict` limit",
        tiles
            .iter()
            .map(|(n, frac)| format!("{} receipts: {:.0} %", int(*n as f64), frac * 100.0))
            .collect::<Vec<_>>()
            .join("; "),
        verdict(tiles.iter().all(|(_, frac)| *frac >= 0.7)),
    );
    row(
        out,
        "≥ 50,000 inclusion proofs/s served at tree size 10M",
        format!("{}/s{note}", si(s10.inclusion)),
        verdict(s10.inclusion.median >= 50_000.0 && note.is_empty()),
    );
    let per_scale: Vec<(u64, f64, f64)> = r
        .scales
        .iter()
        .map(|s| {
            let (per, limit) = disk_per_entry(s);
            (s.receipts, per, limit)
        })
        .collect();
    row(
        out,
        "disk ≤ 1.5 × receipt bytes + 200 B per receipt, at 1M and 10M",
        per_scale
            .iter()
            .map(|(n, per, limit)| {
                format!(
                    "{} receipts: {} B per entry (limit {} B)",
                    int(*n as f64),
                    int(*per),
                    int(*limit)
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        verdict(per_scale.iter().all(|(_, per, limit)| per <= limit)),
    );
    row(
        out,
        "ledger RSS ≤ 150 MiB serving at 10M (growth over a soak: `bench/run --long`)",
        format!("{:.0} MiB serving proofs and queries{note}", mib(s10.serve_rss_kb)),
        verdict(mib(s10.serve_rss_kb) <= 150.0 && note.is_empty()),
    );
}
