//! Where the evidence comes from: an export file, or a live ledger over
//! HTTP(S) with a blocking client (ureq; no async runtime). Every byte a
//! ledger sends is treated as hostile: bodies are bounded, statuses checked,
//! and nothing it says is believed without a signature or a proof.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

/// Largest JSON or text answer read from a ledger (checkpoints, proofs,
/// query pages).
pub const MAX_SMALL_BODY: u64 = 8 * 1024 * 1024;
/// Connecting to a ledger gives up after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A ledger that sends nothing for this long is given up on.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The evidence could not be fetched or read: the auditor cannot evaluate
/// (exit 3), which is not the same as finding it tampered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The ledger could not be reached or the transfer failed.
    #[error("{url}: {detail}")]
    Transport {
        /// What was asked for.
        url: String,
        /// Why it failed.
        detail: String,
    },
    /// The ledger answered 200 with a body that is not what the API says
    /// (the ledger's fault: callers treat it as untrusted, not as missing).
    #[error("{url}: the answer is not what the API defines: {detail}")]
    Malformed {
        /// What was asked for.
        url: String,
        /// Why it does not parse.
        detail: String,
    },
    /// The ledger answered with an error status.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        /// What was asked for.
        url: String,
        /// The status.
        status: u16,
        /// The start of the answer (problem details, usually).
        body: String,
    },
}

/// `--url URL` or `--export FILE`, exactly one.
#[derive(clap::Args, Debug)]
pub struct SourceArgs {
    /// A live ledger's base URL (http:// or https://).
    #[arg(long)]
    url: Option<String>,
    /// An export file (`cairn-ledger export`, or `GET /v1/export` saved).
    #[arg(long)]
    export: Option<PathBuf>,
}

impl SourceArgs {
    /// The source they name; `Err` is a usage message.
    pub fn source(&self) -> Result<Source, String> {
        Source::from_args(self.url.as_deref(), self.export.as_ref())
    }
}

/// An export file or a ledger's base URL.
#[derive(Debug, Clone)]
pub enum Source {
    /// `--export FILE`.
    Export(PathBuf),
    /// `--url URL`.
    Ledger(Ledger),
}

impl Source {
    /// From the `--url` / `--export` pair (exactly one given).
    pub fn from_args(url: Option<&str>, export: Option<&PathBuf>) -> Result<Self, String> {
        match (url, export) {
            (Some(u), None) => Ok(Source::Ledger(Ledger::new(u)?)),
            (None, Some(p)) => Ok(Source::Export(p.clone())),
            _ => Err("give exactly one of --url and --export".into()),
        }
    }

    /// The export stream from entry `from` on.
    pub fn open(&self, from: u64) -> Result<Box<dyn Read>, SourceError> {
        match self {
            Source::Export(path) => {
                let f = std::fs::File::open(path).map_err(|source| SourceError::File {
                    path: path.clone(),
                    source,
                })?;
                Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, f)))
            }
            Source::Ledger(l) => l.stream(&format!("/v1/export?from={from}")),
        }
    }

    /// For reports.
    pub fn describe(&self) -> String {
        match self {
            Source::Export(p) => format!("export {}", p.display()),
            Source::Ledger(l) => format!("ledger {}", l.base),
        }
    }
}

/// A ledger's read API.
#[derive(Debug, Clone)]
pub struct Ledger {
    base: String,
    agent: ureq::Agent,
}

impl Ledger {
    /// A client for the ledger at `base` (`http://` or `https://`).
    pub fn new(base: &str) -> Result<Self, String> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("--url {base}: must start with http:// or https://"));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(READ_TIMEOUT))
            .timeout_recv_body(None)
            .build()
            .into();
        Ok(Ledger { base, agent })
    }

    fn call(&self, path: &str) -> Result<ureq::http::Response<ureq::Body>, SourceError> {
        let url = format!("{}{path}", self.base);
        tracing::debug!(%url, "GET");
        let mut resp = self.agent.get(&url).call().map_err(|e| SourceError::Transport {
            url: url.clone(),
            detail: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        if status != 200 {
            let body = resp
                .body_mut()
                .with_config()
                .limit(4096)
                .read_to_vec()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            return Err(SourceError::Status {
                url,
                status,
                body: body.chars().take(300).collect(),
            });
        }
        Ok(resp)
    }

    /// A streamed body (the export): unbounded here, bounded per item by
    /// the decoder.
    pub fn stream(&self, path: &str) -> Result<Box<dyn Read>, SourceError> {
        let resp = self.call(path)?;
        Ok(Box::new(resp.into_body().into_reader()))
    }

    /// A small body, at most [`MAX_SMALL_BODY`] bytes.
    pub fn get(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let url = format!("{}{path}", self.base);
        let mut resp = self.call(path)?;
        resp.body_mut()
            .with_config()
            .limit(MAX_SMALL_BODY)
            .read_to_vec()
            .map_err(|e| SourceError::Transport {
                url,
                detail: e.to_string(),
            })
    }

    /// The size of the ledger's newest checkpoint, unverified: for progress
    /// estimates only (`None` when it cannot be had).
    pub fn newest_size(&self) -> Option<u64> {
        let note = self.get("/v1/checkpoint").ok()?;
        let note = cairn_api::note::SignedNote::parse(&note).ok()?;
        cairn_api::note::Checkpoint::parse(note.text()).ok().map(|c| c.size)
    }

    /// A small JSON body of the wire contract's type `T`. An answer that
    /// is not one is [`SourceError::Malformed`]: the ledger's fault.
    pub fn get_wire<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, SourceError> {
        let bytes = self.get(path)?;
        serde_json::from_slice(&bytes).map_err(|e| SourceError::Malformed {
            url: format!("{}{path}", self.base),
            detail: e.to_string(),
        })
    }
}
