//! Where the records go: an OpenTelemetry collector over OTLP/HTTP
//! ([`OtlpSink`], JSON or protobuf) or a file of OCSF JSON lines
//! ([`OcsfSink`]). A sink returns only once the batch is taken: a `2xx`
//! from the collector, or the lines written and synced.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::ocsf::Event;
use super::otlp::ExportLogs;
use super::record::Logged;

/// The most of a collector's answer read.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// A batch not taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The collector could not be reached, or answered 429, 502, 503 or
    /// 504 (OTLP's retryable answers): transient.
    #[error("the collector at {url}: {detail}")]
    Unavailable {
        /// The endpoint.
        url: String,
        /// What happened.
        detail: String,
        /// The collector's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The collector refused the batch (any other non-2xx answer): it will
    /// refuse it again, so the follower stops rather than drop it.
    #[error("the collector at {url} refused the batch: HTTP {status}: {detail}")]
    Refused {
        /// The endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of its answer.
        detail: String,
    },
    /// Writing the lines failed (the operator's disk).
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl SinkError {
    /// Whether trying again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SinkError::Unavailable { .. })
    }

    /// How long the collector asked to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SinkError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What a sink did with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Taken {
    /// Records the collector said it rejected in a partial success: it
    /// must not be retried, so it is reported.
    pub rejected: u64,
}

/// Where records go.
pub trait Sink: std::fmt::Debug {
    /// Deliver `records` (one batch, possibly empty) from the log `origin`.
    fn deliver(&mut self, origin: &str, records: &[Logged]) -> Result<Taken, SinkError>;
}

impl<T: Sink + ?Sized> Sink for Box<T> {
    fn deliver(&mut self, origin: &str, records: &[Logged]) -> Result<Taken, SinkError> {
        (**self).deliver(origin, records)
    }
}

/// The OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// `application/json`.
    #[value(name = "http/json")]
    Json,
    /// `application/x-protobuf`.
    #[value(name = "http/protobuf")]
    Protobuf,
}

/// An OpenTelemetry collector's `/v1/logs`.
#[derive(Debug)]
pub struct OtlpSink {
    endpoint: String,
    protocol: Protocol,
    headers: Vec<(String, String)>,
    agent: ureq::Agent,
}

impl OtlpSink {
    /// POST to `endpoint` (the full URL, `.../v1/logs`), each call bounded
    /// by `timeout`, with extra `headers` (for example an authorization).
    pub fn new(endpoint: &str, protocol: Protocol, headers: Vec<(String, String)>, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        OtlpSink {
            endpoint: endpoint.to_owned(),
            protocol,
            headers,
            agent,
        }
    }
}

fn retry_after(v: Option<&ureq::http::HeaderValue>) -> Option<Duration> {
    v.and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.min(300)))
}

impl Sink for OtlpSink {
    fn deliver(&mut self, origin: &str, records: &[Logged]) -> Result<Taken, SinkError> {
        if records.is_empty() {
            return Ok(Taken::default());
        }
        let export = ExportLogs::new(origin, records);
        let (content_type, body) = match self.protocol {
            Protocol::Json => (
                "application/json",
                serde_json::to_vec(&export.to_json()).unwrap_or_default(),
            ),
            Protocol::Protobuf => ("application/x-protobuf", super::otlp_proto::encode(&export)),
        };
        let mut req = self.agent.post(&self.endpoint).header("Content-Type", content_type);
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let unavailable = |detail: String, retry_after: Option<Duration>| SinkError::Unavailable {
            url: self.endpoint.clone(),
            detail,
            retry_after,
        };
        let mut resp = req.send(&body[..]).map_err(|e| unavailable(e.to_string(), None))?;
        let status = resp.status().as_u16();
        let wait = retry_after(resp.headers().get("retry-after"));
        let answer = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .unwrap_or_default();
        match status {
            200..=299 => Ok(Taken {
                rejected: match self.protocol {
                    Protocol::Json => rejected(&answer),
                    Protocol::Protobuf => super::otlp_proto::rejected(&answer),
                },
            }),
            429 | 502 | 503 | 504 => Err(unavailable(format!("HTTP {status}"), wait)),
            _ => Err(SinkError::Refused {
                url: self.endpoint.clone(),
                status,
                detail: String::from_utf8_lossy(&answer[..answer.len().min(300)]).into_owned(),
            }),
        }
    }
}

/// `partialSuccess.rejectedLogRecords` of a JSON answer (0 otherwise).
fn rejected(answer: &[u8]) -> u64 {
    serde_json::from_slice::<serde_json::Value>(answer)
        .ok()
        .and_then(|v| match &v["partialSuccess"]["rejectedLogRecords"] {
            serde_json::Value::String(s) => s.parse().ok(),
            serde_json::Value::Number(n) => n.as_u64(),
            _ => None,
        })
        .unwrap_or(0)
}

/// OCSF events, one JSON object per line, appended to a file (synced
/// before the batch counts as taken) or written to standard output.
#[derive(Debug)]
pub struct OcsfSink {
    out: Option<(PathBuf, std::fs::File)>,
}

impl OcsfSink {
    /// Append to `path` (created if missing), or write to standard output
    /// for `-`.
    pub fn open(path: &std::path::Path) -> Result<Self, SinkError> {
        if path.as_os_str() == "-" {
            return Ok(OcsfSink { out: None });
        }
        let write = |source| SinkError::Write {
            path: path.to_owned(),
            source,
        };
        let f = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(write)?;
        drop_partial_line(&f).map_err(write)?;
        Ok(OcsfSink {
            out: Some((path.to_owned(), f)),
        })
    }
}

/// A crash in the middle of a write can leave a line without its newline;
/// its batch was not taken (the cursor did not move) and comes again, so
/// the partial line goes.
fn drop_partial_line(mut f: &std::fs::File) -> std::io::Result<()> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut keep = len;
    let mut buf = [0u8; 4096];
    loop {
        let from = keep.saturating_sub(buf.len() as u64);
        let n = (keep - from) as usize;
        f.seek(SeekFrom::Start(from))?;
        f.read_exact(&mut buf[..n])?;
        if keep == len && buf[n - 1] == b'\n' {
            return Ok(());
        }
        match buf[..n].iter().rposition(|&b| b == b'\n') {
            Some(i) => {
                keep = from + i as u64 + 1;
                break;
            }
            None if from == 0 => {
                keep = 0;
                break;
            }
            None => keep = from,
        }
    }
    f.set_len(keep)?;
    f.sync_data()
}

impl Sink for OcsfSink {
    fn deliver(&mut self, origin: &str, records: &[Logged]) -> Result<Taken, SinkError> {
        let mut text = String::new();
        for l in records {
            text.push_str(&Event::of(origin, l).to_line());
            text.push('\n');
        }
        match &mut self.out {
            Some((path, f)) => f
                .write_all(text.as_bytes())
                .and_then(|()| f.sync_data())
                .map_err(|source| SinkError::Write {
                    path: path.clone(),
                    source,
                })?,
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|source| SinkError::Write {
                        path: PathBuf::from("-"),
                        source,
                    })?;
            }
        }
        Ok(Taken::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_by_a_crash_is_dropped_on_open() {
        let p = std::env::temp_dir().join(format!("cairn-siem-ocsf-{}.jsonl", std::process::id()));
        std::fs::write(&p, b"{\"a\":1}\n{\"b\":").unwrap();
        drop(OcsfSink::open(&p).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"{\"a\":1}\n");
        std::fs::write(&p, b"{\"b\":").unwrap();
        drop(OcsfSink::open(&p).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"");
        std::fs::write(&p, b"{}\n").unwrap();
        drop(OcsfSink::open(&p).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"{}\n");
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn a_partial_success_is_read() {
        assert_eq!(
            rejected(br#"{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"x"}}"#),
            3
        );
        assert_eq!(rejected(br#"{"partialSuccess":{"rejectedLogRecords":2}}"#), 2);
        assert_eq!(rejected(b"{}"), 0);
        assert_eq!(rejected(b""), 0);
    }
}
