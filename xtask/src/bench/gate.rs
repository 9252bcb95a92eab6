//! The served gate's rows (issue 17): `bench/gate` runs one ledger and one
//! `cairn-gate serve` on loopback and measures AuthZEN evaluations end to
//! end (decision, signed receipt, durable log, proof checked) at 1,000/s
//! offered and as fast as 64 clients go, next to the ledger's own single
//! POSTs, and the MCP proxy's added latency per tool call. This stage runs
//! the script and reads its tagged JSON lines.

use std::path::Path;
use std::process::Command;

/// What `bench/gate` measured.
pub struct GateRow {
    /// Evaluations at 1,000/s offered: p50 and p99 in ms, and how many failed.
    pub at_1000: (f64, f64, u64),
    /// The ledger's own single POSTs at 1,000/s offered: p50 and p99 in ms.
    pub ledger_at_1000: (f64, f64),
    /// The most evaluations per second (64 clients).
    pub max_per_s: f64,
    /// The ledger's single POSTs per second at concurrency 64, same run.
    pub ledger_per_s: f64,
    /// MCP: the median and p99 a call takes straight and through the proxy, ms.
    pub mcp_direct: (f64, f64),
    /// Through the proxy.
    pub mcp_proxied: (f64, f64),
    /// The same over the streamable HTTP transport: straight, then through
    /// the proxy.
    pub mcp_http: [(f64, f64); 2],
}

fn num(v: &serde_json::Value, path: &[&str]) -> Result<f64, String> {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_f64()
        .ok_or_else(|| format!("bench/gate: no {} in {v}", path.join(".")))
}

/// Run `bench/gate` with `n` evaluations per measurement.
pub fn measure(root: &Path, n: u64) -> Result<GateRow, String> {
    let out = Command::new(root.join("bench/gate"))
        .arg(n.to_string())
        .current_dir(root)
        .output()
        .map_err(|e| format!("bench/gate: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "bench/gate failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let tagged = |tag: &str| -> Result<serde_json::Value, String> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')))
            .ok_or_else(|| format!("bench/gate printed no `{tag}` line"))?;
        serde_json::from_str(line).map_err(|e| format!("bench/gate {tag}: {e}"))
    };
    let at = tagged("gate-at-1000")?;
    let max = tagged("gate-max")?;
    let ledger = tagged("ledger-c64")?;
    let ledger_at = tagged("ledger-at-1000")?;
    let mcp = tagged("mcp")?;
    let mcp_http = tagged("mcp-http")?;
    let latency = |v: &serde_json::Value, which: &str| -> Result<(f64, f64), String> {
        Ok((num(v, &[which, "p50"])?, num(v, &[which, "p99"])?))
    };
    Ok(GateRow {
        at_1000: (
            num(&at, &["latency_ms", "p50"])?,
            num(&at, &["latency_ms", "p99"])?,
            num(&at, &["failed"])? as u64,
        ),
        ledger_at_1000: (
            num(&ledger_at, &["latency_ms", "p50"])?,
            num(&ledger_at, &["latency_ms", "p99"])?,
        ),
        max_per_s: num(&max, &["decisions_per_s"])?,
        ledger_per_s: num(&ledger, &["receipts_per_second"])?,
        mcp_direct: latency(&mcp, "direct_ms")?,
        mcp_proxied: latency(&mcp, "proxied_ms")?,
        mcp_http: [latency(&mcp_http, "direct_ms")?, latency(&mcp_http, "proxied_ms")?],
    })
}
