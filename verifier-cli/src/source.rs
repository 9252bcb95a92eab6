//! Where the evidence comes from: an export file, or a live ledger over
//! HTTP(S) with a blocking client (ureq; no async runtime). Every byte a
//! ledger sends is treated as hostile: bodies are bounded, statuses checked,
//! and nothing it says is believed without a signature or a proof.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use crate::tiles::{TileDir, TileStore, TilesReader};

/// Largest JSON or text answer read from a ledger (checkpoints, proofs,
/// query pages).
pub const MAX_SMALL_BODY: u64 = 8 * 1024 * 1024;
/// Connecting to a ledger gives up after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A ledger that sends nothing for this long is given up on.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The default bound on one request, answer and body together: a tile or
/// a proof is at most a few hundred KiB, so a server that takes longer is
/// trickling (the black-box test's 1 byte/s server held the verifier for
/// ever).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(120);

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

/// `--url URL`, `--export FILE` or `--tiles DIR`, exactly one.
#[derive(clap::Args, Debug)]
pub struct SourceArgs {
    /// A ledger's base URL (http:// or https://), read through its C2SP
    /// tlog-tiles (`/checkpoint`, `/tile/...`): a live ledger, or any web
    /// server or CDN holding its tiles.
    #[arg(long)]
    url: Option<String>,
    /// An export file (`cairn-ledger export`, or `GET /v1/export` saved).
    #[arg(long)]
    export: Option<PathBuf>,
    /// A directory of C2SP tlog-tiles (`cairn-ledger export-tiles`).
    #[arg(long)]
    tiles: Option<PathBuf>,
    /// The longest one request to --url may take, answer and body, in
    /// seconds: a server that trickles its answer is given up on (exit 3).
    #[arg(long, default_value_t = REQUEST_DEADLINE.as_secs(), value_parser = clap::value_parser!(u64).range(1..=86_400))]
    request_timeout_s: u64,
}

impl SourceArgs {
    /// The source they name; `Err` is a usage message.
    pub fn source(&self) -> Result<Source, String> {
        match (&self.url, &self.export, &self.tiles) {
            (None, None, Some(dir)) => Ok(Source::Tiles(TileDir(dir.clone()))),
            (Some(u), None, None) => Ok(Source::Ledger(Ledger::with_deadline(
                u,
                Duration::from_secs(self.request_timeout_s),
            )?)),
            (_, _, None) => Source::from_args(self.url.as_deref(), self.export.as_ref()),
            _ => Err("give exactly one of --url, --export and --tiles".into()),
        }
    }
}

/// An export file, a ledger's base URL or a directory of tiles.
#[derive(Debug, Clone)]
pub enum Source {
    /// `--export FILE`.
    Export(PathBuf),
    /// `--url URL` (read through its tiles).
    Ledger(Ledger),
    /// `--tiles DIR`.
    Tiles(TileDir),
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

    /// The export stream from entry 0 (an export file as it is; a ledger
    /// or a tile directory read through its tiles, spec section 10.1) and,
    /// for tiles, the number of entries it holds (for progress).
    pub fn open(&self) -> Result<(Box<dyn Read>, Option<u64>), SourceError> {
        fn tiles<T: TileStore + 'static>(r: TilesReader<T>) -> (Box<dyn Read>, Option<u64>) {
            let size = r.size();
            (Box::new(r), Some(size))
        }
        match self {
            Source::Export(path) => {
                let f = std::fs::File::open(path).map_err(|source| SourceError::File {
                    path: path.clone(),
                    source,
                })?;
                Ok((Box::new(std::io::BufReader::with_capacity(1 << 20, f)), None))
            }
            Source::Ledger(l) => TilesReader::open(l.clone()).map(tiles),
            Source::Tiles(dir) => TilesReader::open(dir.clone()).map(tiles),
        }
    }

    /// For reports.
    pub fn describe(&self) -> String {
        match self {
            Source::Export(p) => format!("export {}", p.display()),
            Source::Ledger(l) => format!("ledger {} (tiles)", l.base),
            Source::Tiles(d) => format!("tiles {}", d.0.display()),
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
        Self::with_deadline(base, REQUEST_DEADLINE)
    }

    /// A client whose every request (answer and body) must complete within
    /// `deadline`.
    pub fn with_deadline(base: &str, deadline: Duration) -> Result<Self, String> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("--url {base}: must start with http:// or https://"));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(READ_TIMEOUT))
            .timeout_recv_body(None)
            .timeout_global(Some(deadline))
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

    /// A small body, at most [`MAX_SMALL_BODY`] bytes.
    pub fn get(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        self.get_bounded(path, MAX_SMALL_BODY)
    }

    /// A body of at most `limit` bytes.
    pub fn get_bounded(&self, path: &str, limit: u64) -> Result<Vec<u8>, SourceError> {
        let url = format!("{}{path}", self.base);
        let mut resp = self.call(path)?;
        resp.body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| SourceError::Transport {
                url,
                detail: e.to_string(),
            })
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
