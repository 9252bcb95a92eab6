//! Progress of long work (export, fsck, load, audit): a bar on a terminal
//! (indicatif), and when stderr is not a terminal (a log, CI) one line per
//! [`LINE_INTERVAL`], so that a long run is never silent. Both show the
//! count, the percentage and an estimate of the time left when the total
//! is known.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a progress line is written when stderr is not a terminal.
pub const LINE_INTERVAL: Duration = Duration::from_secs(10);

/// Where the progress goes.
#[derive(Debug)]
enum Sink {
    Off,
    Bar(ProgressBar),
    Lines { last: Instant },
}

/// The progress of one piece of work.
#[derive(Debug)]
pub struct Progress {
    what: String,
    unit: &'static str,
    total: Option<u64>,
    done: u64,
    started: Instant,
    sink: Sink,
}

impl Progress {
    /// Progress of `what`, counted in `unit` out of `total` (if known).
    /// `quiet` (JSON output, a caller that reports itself) shows nothing.
    pub fn new(what: &str, unit: &'static str, total: Option<u64>, quiet: bool) -> Self {
        let sink = if quiet {
            Sink::Off
        } else if std::io::stderr().is_terminal() {
            let bar = match total {
                Some(t) => ProgressBar::new(t),
                None => ProgressBar::new_spinner(),
            };
            let template = if total.is_some() {
                format!("{what}: [{{bar:30}}] {{pos}}/{{len}} {unit} ({{percent}}%, {{per_sec}}, ETA {{eta}})")
            } else {
                format!("{what}: {{spinner}} {{pos}} {unit} ({{per_sec}})")
            };
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            Sink::Bar(bar)
        } else {
            Sink::Lines { last: Instant::now() }
        };
        Progress {
            what: what.to_owned(),
            unit,
            total,
            done: 0,
            started: Instant::now(),
            sink,
        }
    }

    /// The work is at `done` units.
    pub fn set(&mut self, done: u64) {
        self.done = done;
        match &mut self.sink {
            Sink::Off => {}
            Sink::Bar(bar) => bar.set_position(done),
            Sink::Lines { last } => {
                if last.elapsed() >= LINE_INTERVAL {
                    *last = Instant::now();
                    eprintln!("{}", self.line());
                }
            }
        }
    }

    /// `n` more units done.
    pub fn inc(&mut self, n: u64) {
        self.set(self.done.saturating_add(n));
    }

    /// The line written when stderr is not a terminal.
    pub fn line(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = self.done as f64 / secs;
        match self.total {
            Some(t) if t > 0 => {
                let left = t.saturating_sub(self.done) as f64 / rate.max(1e-9);
                format!(
                    "{}: {}/{t} {} ({:.0}%), {rate:.0}/s, ETA {left:.0} s",
                    self.what,
                    self.done,
                    self.unit,
                    self.done as f64 * 100.0 / t as f64
                )
            }
            _ => format!("{}: {} {}, {rate:.0}/s", self.what, self.done, self.unit),
        }
    }

    /// Done: the bar is cleared.
    pub fn finish(self) {
        if let Sink::Bar(bar) = &self.sink {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_say_count_percentage_and_time_left() {
        let mut p = Progress::new("export", "entries", Some(200), true);
        p.set(50);
        let l = p.line();
        assert!(
            l.starts_with("export: 50/200 entries (25%)") && l.contains("ETA"),
            "{l}"
        );
        let mut q = Progress::new("load", "requests", None, true);
        q.inc(7);
        assert!(q.line().starts_with("load: 7 requests"), "{}", q.line());
        q.finish();
    }
}
