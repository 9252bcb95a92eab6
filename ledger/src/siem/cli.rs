//! `cairn-ledger siem`: the command that follows a ledger into a SIEM, and
//! its loop (polling, retries with backoff, a clean stop on a signal).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cairn_api::keys::VerifierKey;
use clap::Args;

use super::SiemError;
use super::follow::{Follower, Progress};
use super::sink::{OcsfSink, OtlpSink, Protocol, Sink};
use super::source::HttpLedger;

/// The longest wait between two tries after a transient failure.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Tries of one step before `--once` gives up on a transient failure.
pub const ONCE_TRIES: u32 = 6;

/// `cairn-ledger siem`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("sink").required(true).args(["otlp_endpoint", "ocsf"])))]
pub struct SiemArgs {
    /// The ledger to follow (any instance): its base URL.
    #[arg(long, env = "CAIRN_LEDGER_URL")]
    pub ledger: String,
    /// The log's verifier key (text, or @FILE): every checkpoint must be
    /// signed by it.
    #[arg(long)]
    pub log_key: String,
    /// The cursor file (created on the first run; one per sink).
    #[arg(long)]
    pub cursor: PathBuf,
    /// Send OpenTelemetry logs to this OTLP/HTTP endpoint (the full URL,
    /// for example http://collector:4318/v1/logs).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// The OTLP/HTTP encoding.
    #[arg(
        long,
        value_enum,
        default_value = "http/protobuf",
        env = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"
    )]
    pub otlp_protocol: Protocol,
    /// An extra header on every OTLP request, `NAME=VALUE` (repeatable),
    /// for example `Authorization=Bearer ...`.
    #[arg(long = "otlp-header", value_parser = header)]
    pub otlp_headers: Vec<(String, String)>,
    /// Append OCSF events as JSON lines to this file (`-`: standard
    /// output).
    #[arg(long)]
    pub ocsf: Option<PathBuf>,
    /// How often to look for new entries once caught up, in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub poll_ms: u64,
    /// How long one HTTP call may take, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub timeout_ms: u64,
    /// Stop once caught up (and after a few tries on a transient failure)
    /// instead of following.
    #[arg(long)]
    pub once: bool,
}

fn header(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or("expected NAME=VALUE")?;
    let k = k.trim();
    if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
        return Err(format!("{k:?} is not a header name"));
    }
    if v.bytes().any(|b| b.is_ascii_control()) {
        return Err("a header value has no control characters".into());
    }
    Ok((k.to_owned(), v.trim().to_owned()))
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Entries verified.
    pub entries: u64,
    /// Receipts delivered.
    pub delivered: u64,
    /// Records a collector reported rejected.
    pub rejected: u64,
    /// The next index.
    pub next: u64,
}

/// A failure of the command: bad arguments (exit 4) or a stop (exit 1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The arguments (the operator's).
    #[error("{0}")]
    Usage(String),
    /// Following stopped.
    #[error(transparent)]
    Stopped(#[from] SiemError),
}

/// Run the command until caught up (`--once`), a permanent failure, or
/// `stop`.
pub fn run(args: &SiemArgs, stop: &Arc<AtomicBool>) -> Result<Totals, RunError> {
    let key: VerifierKey =
        cairn_host::keyfile::read_vkey_arg(&args.log_key).map_err(|e| RunError::Usage(format!("--log-key: {e}")))?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let source = HttpLedger::new(&args.ledger, timeout);
    let sink: Box<dyn Sink> = match (&args.otlp_endpoint, &args.ocsf) {
        (Some(url), None) => Box::new(OtlpSink::new(
            url,
            args.otlp_protocol,
            args.otlp_headers.clone(),
            timeout,
        )),
        (None, Some(path)) => Box::new(OcsfSink::open(path).map_err(SiemError::from)?),
        _ => return Err(RunError::Usage("give exactly one of --otlp-endpoint and --ocsf".into())),
    };
    let mut f = Follower::new(source, sink, key, args.cursor.clone())?;
    let mut totals = Totals {
        next: f.next(),
        ..Totals::default()
    };
    let mut failures = 0u32;
    while !stop.load(Ordering::Relaxed) {
        match f.step() {
            Ok(Some(p)) => {
                failures = 0;
                add(&mut totals, p);
                if p.rejected > 0 {
                    tracing::warn!(
                        rejected = p.rejected,
                        next = p.next,
                        "the collector rejected records of a batch (partial success)"
                    );
                }
                tracing::debug!(next = p.next, delivered = p.delivered, "batch delivered");
            }
            Ok(None) if args.once => break,
            Ok(None) => {
                failures = 0;
                sleep(Duration::from_millis(args.poll_ms), stop);
            }
            Err(e) if e.is_transient() => {
                failures += 1;
                if args.once && failures >= ONCE_TRIES {
                    return Err(e.into());
                }
                let wait = backoff(failures, &e);
                tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "transient failure; retrying");
                sleep(wait, stop);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(totals)
}

fn add(t: &mut Totals, p: Progress) {
    t.entries += p.entries;
    t.delivered += p.delivered;
    t.rejected += p.rejected;
    t.next = p.next;
}

/// 100 ms doubling to [`MAX_BACKOFF`], or what the collector asked for.
fn backoff(failures: u32, e: &SiemError) -> Duration {
    if let SiemError::Sink(s) = e
        && let Some(d) = s.retry_after()
    {
        return d.min(MAX_BACKOFF);
    }
    Duration::from_millis(100u64.saturating_mul(1 << failures.min(10))).min(MAX_BACKOFF)
}

fn sleep(d: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_name_equals_value() {
        assert_eq!(
            header("Authorization=Bearer a=b").unwrap(),
            ("Authorization".into(), "Bearer a=b".into())
        );
        assert!(header("no-equals").is_err());
        assert!(header("bad name=x").is_err());
        assert!(header("X=a\nb").is_err());
    }

    #[test]
    fn backoff_doubles_to_a_bound() {
        let e = SiemError::Unreachable {
            url: "u".into(),
            detail: "d".into(),
        };
        assert_eq!(backoff(1, &e), Duration::from_millis(200));
        assert_eq!(backoff(30, &e), MAX_BACKOFF);
    }
}
