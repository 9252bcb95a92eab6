//! What `cairn-tools flood` measured, in time windows: the request records
//! and memory samples folded into counts, percentiles and RSS per window,
//! then the recovery after the load.

use std::time::Duration;

use serde::Serialize;

use crate::load::pct;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 200 or 201: durably logged.
    Acked,
    /// 503 with Retry-After: shed, the client may retry later.
    Shed,
    /// Any other answer.
    Refused(u16),
    /// The connection was closed or reset without an answer (a server
    /// over its connection cap closes at once what it cannot even answer).
    Closed,
    /// No answer within the request deadline.
    Failed,
}

/// One request: when it was due (from the start of the load, or of the
/// recovery for probes), how long after that it was answered, how long the
/// client itself made it wait before sending, and how it ended.
#[derive(Debug, Clone, Copy)]
pub struct Rec {
    pub due: Duration,
    pub lag: Duration,
    pub latency: Duration,
    pub outcome: Outcome,
}

impl Rec {
    pub fn new(due: Duration, lag: Duration, latency: Duration, outcome: Outcome) -> Self {
        Rec {
            due,
            lag,
            latency,
            outcome,
        }
    }
}

/// A resident-memory sample of the watched process.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Duration,
    pub rss_kb: u64,
}

/// Percentiles in milliseconds.
#[derive(Debug, Default, Serialize)]
pub struct Millis {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Millis {
    fn of(mut v: Vec<Duration>) -> Self {
        v.sort_unstable();
        let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 1e2;
        Millis {
            p50: ms(pct(&v, 0.5)),
            p99: ms(pct(&v, 0.99)),
            max: ms(pct(&v, 1.0)),
        }
    }
}

/// Counts of a set of requests.
#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub requests: u64,
    pub acked: u64,
    pub shed: u64,
    pub refused: u64,
    pub closed: u64,
    pub failed: u64,
}

impl Counts {
    fn of<'a>(recs: impl Iterator<Item = &'a Rec>) -> Self {
        let mut c = Counts::default();
        for r in recs {
            c.requests += 1;
            match r.outcome {
                Outcome::Acked => c.acked += 1,
                Outcome::Shed => c.shed += 1,
                Outcome::Refused(_) => c.refused += 1,
                Outcome::Closed => c.closed += 1,
                Outcome::Failed => c.failed += 1,
            }
        }
        c
    }
}

/// One window of the load (requests by the time they were due).
#[derive(Debug, Serialize)]
pub struct Window {
    pub from_s: u64,
    #[serde(flatten)]
    pub counts: Counts,
    pub acked_per_second: f64,
    /// Latency of the acknowledged requests.
    pub ack_ms: Millis,
    /// Latency of the shed requests (how fast a 503 comes).
    pub shed_ms: Millis,
    /// The same two from the moment each request was sent.
    pub ack_sent_ms: Millis,
    pub shed_sent_ms: Millis,
    /// How late the client sent its requests (all connections busy): when
    /// large, the offered load was not delivered.
    pub client_lag_ms: Millis,
    /// The watched process's largest and last resident memory in the window.
    pub rss_kb_max: Option<u64>,
    pub rss_kb_last: Option<u64>,
}

/// After the load: one probe every 100 ms.
#[derive(Debug, Serialize)]
pub struct After {
    #[serde(flatten)]
    pub counts: Counts,
    /// From the end of the load to the first probe acknowledged within
    /// [`RECOVERED_WITHIN`], in milliseconds; none when it never was.
    pub recovered_after_ms: Option<u64>,
    /// Latency of the probes acknowledged from then on.
    pub ack_ms: Millis,
    pub rss_kb_max: Option<u64>,
    pub rss_kb_last: Option<u64>,
}

/// A probe acknowledged within this long means the ledger has recovered.
pub const RECOVERED_WITHIN: Duration = Duration::from_millis(100);

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub rate: f64,
    pub seconds: u64,
    pub connections: usize,
    pub sources: u8,
    #[serde(flatten)]
    pub counts: Counts,
    pub acked_per_second: f64,
    pub ack_ms: Millis,
    pub shed_ms: Millis,
    pub ack_sent_ms: Millis,
    pub shed_sent_ms: Millis,
    pub client_lag_ms: Millis,
    pub rss_kb_max: Option<u64>,
    pub windows: Vec<Window>,
    pub after: Option<After>,
    pub first_refusal: Option<u16>,
    /// Why the first request without an answer got none.
    pub first_failure: Option<String>,
    /// Requests due that the generator had not sent when the load's time
    /// was up (it fell behind): offered, not delivered.
    pub not_sent: u64,
    #[serde(skip)]
    pub refused: u64,
    #[serde(skip)]
    pub failed: u64,
}

fn latencies<'a>(recs: impl Iterator<Item = &'a Rec>, o: Outcome) -> Vec<Duration> {
    recs.filter(|r| r.outcome == o).map(|r| r.latency).collect()
}

/// Latencies from the moment the request was sent (its server's answer
/// time, without the generator's own lag).
fn from_send<'a>(recs: impl Iterator<Item = &'a Rec>, o: Outcome) -> Vec<Duration> {
    recs.filter(|r| r.outcome == o)
        .map(|r| r.latency.saturating_sub(r.lag))
        .collect()
}

fn rss(samples: &[Sample], from: Duration, to: Duration) -> (Option<u64>, Option<u64>) {
    let inside: Vec<u64> = samples
        .iter()
        .filter(|s| s.at >= from && s.at < to)
        .map(|s| s.rss_kb)
        .collect();
    (inside.iter().max().copied(), inside.last().copied())
}

impl Report {
    /// Fold the records of the load, of the probes and the memory samples.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        rate: f64,
        seconds: u64,
        window_s: u64,
        connections: usize,
        sources: u8,
        recs: Vec<Rec>,
        probes: Vec<Rec>,
        samples: Vec<Sample>,
    ) -> Self {
        let window = Duration::from_secs(window_s);
        let windows = (0..seconds.div_ceil(window_s))
            .map(|w| {
                let from = window * w as u32;
                let to = from + window;
                let inside = || recs.iter().filter(|r| r.due >= from && r.due < to);
                let counts = Counts::of(inside());
                let (rss_kb_max, rss_kb_last) = rss(&samples, from, to);
                Window {
                    from_s: from.as_secs(),
                    acked_per_second: counts.acked as f64 / window_s.min(seconds - from.as_secs()) as f64,
                    counts,
                    ack_ms: Millis::of(latencies(inside(), Outcome::Acked)),
                    shed_ms: Millis::of(latencies(inside(), Outcome::Shed)),
                    ack_sent_ms: Millis::of(from_send(inside(), Outcome::Acked)),
                    shed_sent_ms: Millis::of(from_send(inside(), Outcome::Shed)),
                    client_lag_ms: Millis::of(inside().map(|r| r.lag).collect()),
                    rss_kb_max,
                    rss_kb_last,
                }
            })
            .collect();
        let end = Duration::from_secs(seconds);
        let after = (!probes.is_empty()).then(|| {
            let recovered = probes
                .iter()
                .position(|p| p.outcome == Outcome::Acked && p.latency <= RECOVERED_WITHIN);
            let (rss_kb_max, rss_kb_last) = rss(&samples, end, Duration::MAX);
            After {
                counts: Counts::of(probes.iter()),
                recovered_after_ms: recovered.and_then(|i| probes.get(i)).map(|p| p.due.as_millis() as u64),
                ack_ms: Millis::of(latencies(
                    probes.iter().skip(recovered.unwrap_or(probes.len())),
                    Outcome::Acked,
                )),
                rss_kb_max,
                rss_kb_last,
            }
        });
        let counts = Counts::of(recs.iter());
        let first_refusal = recs.iter().find_map(|r| match r.outcome {
            Outcome::Refused(s) => Some(s),
            _ => None,
        });
        Report {
            rate,
            seconds,
            connections,
            sources,
            acked_per_second: counts.acked as f64 / seconds as f64,
            refused: counts.refused,
            failed: counts.failed,
            counts,
            ack_ms: Millis::of(latencies(recs.iter(), Outcome::Acked)),
            shed_ms: Millis::of(latencies(recs.iter(), Outcome::Shed)),
            ack_sent_ms: Millis::of(from_send(recs.iter(), Outcome::Acked)),
            shed_sent_ms: Millis::of(from_send(recs.iter(), Outcome::Shed)),
            client_lag_ms: Millis::of(recs.iter().map(|r| r.lag).collect()),
            rss_kb_max: rss(&samples, Duration::ZERO, end).0,
            windows,
            after,
            first_refusal,
            first_failure: None,
            not_sent: 0,
        }
    }

    /// The report as a table, for a terminal.
    pub fn text(&self) -> String {
        let mib = |kb: Option<u64>| kb.map_or_else(|| "-".into(), |k| format!("{:.0}", k as f64 / 1024.0));
        let mut s = format!(
            "flood: {:.0} receipts/s offered for {} s over {} connections from {} sources: {} requests, \
             {} acknowledged ({:.0}/s), {} shed, {} refused, {} closed unanswered, {} failed; {} not sent in time\n\
             from_s  offered   acked  acked/s    shed  refused  closed  failed  ack p50  ack p99  sent→ack p99  sent→503 p99  lag p99  RSS MiB\n",
            self.rate,
            self.seconds,
            self.connections,
            self.sources,
            self.counts.requests,
            self.counts.acked,
            self.acked_per_second,
            self.counts.shed,
            self.counts.refused,
            self.counts.closed,
            self.counts.failed,
            self.not_sent
        );
        for w in &self.windows {
            s += &format!(
                "{:>6}  {:>7}  {:>6}  {:>7.0}  {:>6}  {:>7}  {:>6}  {:>6}  {:>7.2}  {:>7.2}  {:>12.2}  {:>12.2}  {:>7.2}  {:>7}\n",
                w.from_s,
                w.counts.requests,
                w.counts.acked,
                w.acked_per_second,
                w.counts.shed,
                w.counts.refused,
                w.counts.closed,
                w.counts.failed,
                w.ack_ms.p50,
                w.ack_ms.p99,
                w.ack_sent_ms.p99,
                w.shed_sent_ms.p99,
                w.client_lag_ms.p99,
                mib(w.rss_kb_max)
            );
        }
        if let Some(a) = &self.after {
            s += &format!(
                "after the load: {} probes, {} acknowledged; recovered (a probe acknowledged within {} ms) after {}; \
                 probe p99 {:.2} ms; RSS max {} MiB, last {} MiB\n",
                a.counts.requests,
                a.counts.acked,
                RECOVERED_WITHIN.as_millis(),
                a.recovered_after_ms
                    .map_or_else(|| "never".into(), |ms| format!("{ms} ms")),
                a.ack_ms.p99,
                mib(a.rss_kb_max),
                mib(a.rss_kb_last)
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(due_ms: u64, lat_ms: u64, outcome: Outcome) -> Rec {
        Rec::new(
            Duration::from_millis(due_ms),
            Duration::ZERO,
            Duration::from_millis(lat_ms),
            outcome,
        )
    }

    #[test]
    fn requests_and_memory_fall_into_their_windows() {
        let recs = vec![
            rec(0, 2, Outcome::Acked),
            rec(500, 4, Outcome::Acked),
            rec(1_200, 1, Outcome::Shed),
            rec(1_900, 9, Outcome::Refused(500)),
            rec(1_950, 30_000, Outcome::Failed),
        ];
        let probes = vec![
            rec(0, 900, Outcome::Shed),
            rec(100, 300, Outcome::Acked),
            rec(200, 3, Outcome::Acked),
            rec(300, 5, Outcome::Acked),
        ];
        let samples = [(100, 10), (900, 30), (1_500, 20), (2_100, 50), (2_400, 40)]
            .map(|(at, kb)| Sample {
                at: Duration::from_millis(at),
                rss_kb: kb,
            })
            .to_vec();
        let r = Report::build(100.0, 2, 1, 4, 1, recs, probes, samples);
        assert_eq!((r.counts.requests, r.counts.acked, r.counts.shed), (5, 2, 1));
        assert_eq!((r.refused, r.failed, r.first_refusal), (1, 1, Some(500)));
        let [w0, w1] = &r.windows[..] else {
            panic!("two windows")
        };
        assert_eq!(
            (w0.counts.acked, w0.ack_ms.max, w0.rss_kb_max, w0.rss_kb_last),
            (2, 4.0, Some(30), Some(30))
        );
        assert_eq!(
            (w1.counts.shed, w1.counts.refused, w1.counts.failed, w1.rss_kb_max),
            (1, 1, 1, Some(20))
        );
        let a = r.after.as_ref().unwrap();
        // The probe at 100 ms was acknowledged, but slowly: recovery is the one at 200 ms.
        assert_eq!(a.recovered_after_ms, Some(200));
        assert_eq!(
            (a.counts.acked, a.ack_ms.max, a.rss_kb_max, a.rss_kb_last),
            (3, 5.0, Some(50), Some(40))
        );
        assert!(
            r.text()
                .contains("recovered (a probe acknowledged within 100 ms) after 200 ms")
        );
    }
}
