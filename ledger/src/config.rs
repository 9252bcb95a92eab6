//! The ledger's configuration file (TOML), documented by
//! `ledger/cairn-ledger.example.toml`.
//!
//! Every setting also has a command-line flag; a flag given on the command
//! line wins over the file, and the file over the built-in default. Unknown
//! keys are refused (a misspelt setting must not silently keep its default),
//! and relative paths in the file are taken from the file's own directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::sequencer::SequencerConfig;

/// Largest configuration file read, in bytes.
pub const MAX_CONFIG_FILE: u64 = 64 * 1024;
/// Largest group commit a configuration may ask for.
pub const MAX_BATCH_LIMIT: usize = 65_536;
/// Largest submission queue a configuration may ask for.
pub const MAX_QUEUE_LIMIT: usize = 1 << 20;
/// Largest connection cap a configuration may ask for.
pub const MAX_CONNECTIONS_LIMIT: usize = 1 << 20;
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8417";
/// The default origin (log key name) for a new log.
pub const DEFAULT_ORIGIN: &str = "cairn.local/log";
/// The default request-body deadline, in milliseconds.
pub const DEFAULT_BODY_DEADLINE_MS: u64 = 10_000;

/// The configuration is unusable: always the operator's fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_CONFIG_FILE`].
    #[error("{0}: larger than {MAX_CONFIG_FILE} bytes")]
    TooLarge(PathBuf),
    /// The file is not valid TOML for this schema (unknown key, wrong type).
    #[error("{path}: {detail}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        detail: String,
    },
    /// A required setting is missing from both the file and the flags.
    #[error("missing setting `{0}` (in the config file or as a flag)")]
    Missing(&'static str),
    /// A setting is out of its allowed range.
    #[error("setting `{name}`: {detail}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

/// The file's contents; every field optional so flags can supply it.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Where the database and the log key live.
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL database for the log instead of the redb file in
    /// `data_dir` (`postgres://...` or `key=value` pairs), which several
    /// instances may share.
    pub database: Option<String>,
    /// With `database`: the URL clients reach this instance at, named to
    /// them as the leader's while it writes.
    pub advertise: Option<String>,
    /// With `database`: the sequencer lease's time to live, in
    /// milliseconds (default 5000, at least 500).
    pub lease_ttl_ms: Option<u64>,
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// The log's origin when the log key is first created.
    pub origin: Option<String>,
    /// Authority verifier keys (vkey strings, or `@FILE`).
    pub authorities: Option<Vec<String>>,
    /// File holding the admin bearer credential.
    pub admin_token_file: Option<PathBuf>,
    /// Group commit and queue.
    #[serde(default)]
    pub sequencer: FileSequencer,
    /// HTTP limits.
    #[serde(default)]
    pub http: FileHttp,
    /// TLS; plain HTTP when absent.
    pub tls: Option<TlsFiles>,
    /// Witnesses; not witnessed when absent.
    #[serde(default)]
    pub witnessing: FileWitnessing,
}

/// `[witnessing]`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWitnessing {
    /// The witness file: `witness NAME KEY URL`, `group`, `quorum` lines.
    pub witnesses: Option<PathBuf>,
    /// At most one round per this many milliseconds (default 1000).
    pub interval_ms: Option<u64>,
    /// The bound on one witness call, in milliseconds (default 5000).
    pub timeout_ms: Option<u64>,
}

/// The resolved `[witnessing]` settings; the file is read at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessingSettings {
    /// The witness file.
    pub file: PathBuf,
    /// The round interval.
    pub interval: Duration,
    /// The bound on one witness call.
    pub timeout: Duration,
}

/// `[sequencer]`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSequencer {
    /// Most entries in one group commit.
    pub max_batch: Option<usize>,
    /// Longest a batch waits, in microseconds.
    pub max_wait_us: Option<u64>,
    /// Submission queue capacity.
    pub queue: Option<usize>,
    /// Largest accepted lead of `decided_at` over the ledger's clock, in
    /// seconds; older receipts are accepted and marked late.
    pub max_clock_skew_s: Option<u64>,
    /// Largest accepted age of `decided_at`, in seconds (default 30 days).
    pub max_lateness_s: Option<u64>,
    /// Longest a submission may wait in the queue, in milliseconds, before
    /// new ones are shed (default 500; 0: only a full queue sheds).
    pub max_queue_wait_ms: Option<u64>,
    /// Receipts per second each gate key may submit (0 or absent: no limit).
    pub gate_rate_per_s: Option<u32>,
    /// How many receipts a gate may submit at once (default: twice the rate).
    pub gate_burst: Option<u32>,
}

/// `[http]`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHttp {
    /// The longest a client may take to send a request body, in milliseconds.
    pub body_deadline_ms: Option<u64>,
    /// Most connections open at once.
    pub max_connections: Option<usize>,
    /// Most connections open at once from one IP address.
    pub max_connections_per_source: Option<usize>,
    /// The longest a connection may take to send a request head, or stay
    /// idle between requests, in milliseconds.
    pub header_timeout_ms: Option<u64>,
    /// Largest receipt POST body, in bytes (at most the default).
    pub max_receipt_body: Option<usize>,
    /// Largest admin body, in bytes (at most the default).
    pub max_admin_body: Option<usize>,
    /// Most receipts per batch (at most the default).
    pub max_batch_items: Option<usize>,
    /// Largest batch body, in bytes (at most the default).
    pub max_batch_body: Option<usize>,
    /// Most entries, checkpoints or query hits per page (at most the default).
    pub max_page: Option<usize>,
}

/// `[tls]`: PEM certificate chain and private key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The settings `serve` runs with, after file, flags and defaults.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where the database and the log key live.
    pub data_dir: PathBuf,
    /// The PostgreSQL database holding the log, when not the redb file in
    /// `data_dir` (the log key and the query index stay in `data_dir`).
    pub database: Option<String>,
    /// The URL clients reach this instance at (the leader hint).
    pub advertise: Option<String>,
    /// The sequencer lease's time to live.
    pub lease_ttl: Duration,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The log's origin: the name a new log key gets (default
    /// [`DEFAULT_ORIGIN`]); when given, an existing log key must have it.
    pub origin: Option<String>,
    /// Authority verifier keys (vkey strings, or `@FILE`), at least one.
    pub authorities: Vec<String>,
    /// File holding the admin bearer credential.
    pub admin_token_file: Option<PathBuf>,
    /// The sequencer's tuning.
    pub sequencer: SequencerConfig,
    /// The request-body deadline.
    pub body_deadline: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// The header-read (and idle) timeout and the per-source cap.
    pub conn: crate::accept::ConnRules,
    /// Request limits.
    pub limits: crate::http::Limits,
    /// TLS files, if the ledger serves HTTPS.
    pub tls: Option<TlsFiles>,
    /// Witnessing, if configured.
    pub witnessing: Option<WitnessingSettings>,
}

impl FileConfig {
    /// Parse a configuration text; `base` resolves its relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut c: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            detail: e.to_string().trim_end().to_owned(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rel = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        c.data_dir.as_mut().map(rel);
        c.admin_token_file.as_mut().map(rel);
        c.witnessing.witnesses.as_mut().map(rel);
        if let Some(t) = c.tls.as_mut() {
            rel(&mut t.cert);
            rel(&mut t.key);
        }
        if let Some(a) = c.authorities.as_mut() {
            for k in a.iter_mut() {
                if let Some(f) = k.strip_prefix('@') {
                    let mut p = PathBuf::from(f);
                    rel(&mut p);
                    *k = format!("@{}", p.display());
                }
            }
        }
        Ok(c)
    }

    /// Read and parse a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        use std::io::Read as _;
        let read = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let f = std::fs::File::open(path).map_err(read)?;
        let mut text = String::new();
        f.take(MAX_CONFIG_FILE + 1).read_to_string(&mut text).map_err(read)?;
        if text.len() as u64 > MAX_CONFIG_FILE {
            return Err(ConfigError::TooLarge(path.to_owned()));
        }
        Self::parse(&text, path)
    }

    /// Lay `over` (the command line) on top of `self` (the file).
    #[must_use]
    pub fn overlay(self, over: FileConfig) -> FileConfig {
        FileConfig {
            data_dir: over.data_dir.or(self.data_dir),
            database: over.database.or(self.database),
            advertise: over.advertise.or(self.advertise),
            lease_ttl_ms: over.lease_ttl_ms.or(self.lease_ttl_ms),
            listen: over.listen.or(self.listen),
            origin: over.origin.or(self.origin),
            authorities: over.authorities.filter(|a| !a.is_empty()).or(self.authorities),
            admin_token_file: over.admin_token_file.or(self.admin_token_file),
            sequencer: FileSequencer {
                max_batch: over.sequencer.max_batch.or(self.sequencer.max_batch),
                max_wait_us: over.sequencer.max_wait_us.or(self.sequencer.max_wait_us),
                queue: over.sequencer.queue.or(self.sequencer.queue),
                max_clock_skew_s: over.sequencer.max_clock_skew_s.or(self.sequencer.max_clock_skew_s),
                max_lateness_s: over.sequencer.max_lateness_s.or(self.sequencer.max_lateness_s),
                max_queue_wait_ms: over.sequencer.max_queue_wait_ms.or(self.sequencer.max_queue_wait_ms),
                gate_rate_per_s: over.sequencer.gate_rate_per_s.or(self.sequencer.gate_rate_per_s),
                gate_burst: over.sequencer.gate_burst.or(self.sequencer.gate_burst),
            },
            http: FileHttp {
                body_deadline_ms: over.http.body_deadline_ms.or(self.http.body_deadline_ms),
                max_connections: over.http.max_connections.or(self.http.max_connections),
                max_connections_per_source: over
                    .http
                    .max_connections_per_source
                    .or(self.http.max_connections_per_source),
                header_timeout_ms: over.http.header_timeout_ms.or(self.http.header_timeout_ms),
                max_receipt_body: over.http.max_receipt_body.or(self.http.max_receipt_body),
                max_admin_body: over.http.max_admin_body.or(self.http.max_admin_body),
                max_batch_items: over.http.max_batch_items.or(self.http.max_batch_items),
                max_batch_body: over.http.max_batch_body.or(self.http.max_batch_body),
                max_page: over.http.max_page.or(self.http.max_page),
            },
            tls: over.tls.or(self.tls),
            witnessing: FileWitnessing {
                witnesses: over.witnessing.witnesses.or(self.witnessing.witnesses),
                interval_ms: over.witnessing.interval_ms.or(self.witnessing.interval_ms),
                timeout_ms: over.witnessing.timeout_ms.or(self.witnessing.timeout_ms),
            },
        }
    }

    /// The final settings: defaults filled in, required ones present,
    /// ranges checked.
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let defaults = SequencerConfig::default();
        let data_dir = self.data_dir.ok_or(ConfigError::Missing("data_dir"))?;
        let authorities = self
            .authorities
            .filter(|a| !a.is_empty())
            .ok_or(ConfigError::Missing("authorities"))?;
        let listen = match self.listen {
            Some(l) => l,
            None => DEFAULT_LISTEN.parse().map_err(|_| ConfigError::Missing("listen"))?,
        };
        let max_batch = self.sequencer.max_batch.unwrap_or(defaults.max_batch);
        let queue = self.sequencer.queue.unwrap_or(defaults.queue);
        range("sequencer.max_batch", max_batch, MAX_BATCH_LIMIT)?;
        range("sequencer.queue", queue, MAX_QUEUE_LIMIT)?;
        let gate_rate = match self.sequencer.gate_rate_per_s.filter(|r| *r > 0) {
            None => None,
            Some(rate) => {
                let burst = self.sequencer.gate_burst.unwrap_or(rate.saturating_mul(2));
                if burst == 0 {
                    return Err(ConfigError::Invalid {
                        name: "sequencer.gate_burst",
                        detail: "must be at least 1".into(),
                    });
                }
                Some(crate::ratelimit::GateRate {
                    per_second: f64::from(rate),
                    burst: f64::from(burst),
                })
            }
        };
        let max_connections = self
            .http
            .max_connections
            .unwrap_or(crate::conn::DEFAULT_MAX_CONNECTIONS);
        range("http.max_connections", max_connections, MAX_CONNECTIONS_LIMIT)?;
        let per_source = self
            .http
            .max_connections_per_source
            .unwrap_or(crate::accept::DEFAULT_MAX_PER_SOURCE);
        range("http.max_connections_per_source", per_source, MAX_CONNECTIONS_LIMIT)?;
        let header_timeout_ms = self
            .http
            .header_timeout_ms
            .unwrap_or(u64::try_from(crate::accept::DEFAULT_HEADER_TIMEOUT.as_millis()).unwrap_or(10_000));
        range(
            "http.header_timeout_ms",
            usize::try_from(header_timeout_ms).unwrap_or(usize::MAX),
            600_000,
        )?;
        let d = crate::http::Limits::default();
        let limit = |name: &'static str, v: Option<usize>, max: usize| -> Result<usize, ConfigError> {
            let v = v.unwrap_or(max);
            range(name, v, max)?;
            Ok(v)
        };
        let limits = crate::http::Limits {
            receipt_body: limit("http.max_receipt_body", self.http.max_receipt_body, d.receipt_body)?,
            admin_body: limit("http.max_admin_body", self.http.max_admin_body, d.admin_body)?,
            batch_items: limit("http.max_batch_items", self.http.max_batch_items, d.batch_items)?,
            batch_body: limit("http.max_batch_body", self.http.max_batch_body, d.batch_body)?,
            page: limit("http.max_page", self.http.max_page, d.page)?,
        };
        let body_deadline_ms = self.http.body_deadline_ms.unwrap_or(DEFAULT_BODY_DEADLINE_MS);
        if body_deadline_ms == 0 {
            return Err(ConfigError::Invalid {
                name: "http.body_deadline_ms",
                detail: "must be at least 1".into(),
            });
        }
        let witnessing = match self.witnessing.witnesses {
            None => None,
            Some(file) => {
                let ms = |name: &'static str, v: Option<u64>, default: Duration| match v {
                    None => Ok(default),
                    Some(0) => Err(ConfigError::Invalid {
                        name,
                        detail: "must be at least 1".into(),
                    }),
                    Some(v) => Ok(Duration::from_millis(v)),
                };
                Some(WitnessingSettings {
                    file,
                    interval: ms(
                        "witnessing.interval_ms",
                        self.witnessing.interval_ms,
                        crate::witnessing::DEFAULT_INTERVAL,
                    )?,
                    timeout: ms(
                        "witnessing.timeout_ms",
                        self.witnessing.timeout_ms,
                        crate::witnessing::DEFAULT_TIMEOUT,
                    )?,
                })
            }
        };
        let lease_ttl = match self.lease_ttl_ms {
            None => crate::store::pg_lease::DEFAULT_LEASE_TTL,
            Some(ms) if Duration::from_millis(ms) < crate::store::pg_lease::MIN_LEASE_TTL => {
                return Err(ConfigError::Invalid {
                    name: "lease_ttl_ms",
                    detail: format!("must be at least {}", crate::store::pg_lease::MIN_LEASE_TTL.as_millis()),
                });
            }
            Some(ms) => Duration::from_millis(ms),
        };
        if let Some(a) = &self.advertise
            && !(a.starts_with("http://") || a.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                name: "advertise",
                detail: format!("{a:?} is not an http:// or https:// URL"),
            });
        }
        Ok(ServeConfig {
            witnessing,
            data_dir,
            database: self.database,
            advertise: self.advertise,
            lease_ttl,
            listen,
            origin: self.origin,
            authorities,
            admin_token_file: self.admin_token_file,
            sequencer: SequencerConfig {
                max_batch,
                queue,
                max_wait: self
                    .sequencer
                    .max_wait_us
                    .map_or(defaults.max_wait, Duration::from_micros),
                max_clock_skew: self
                    .sequencer
                    .max_clock_skew_s
                    .map_or(defaults.max_clock_skew, Duration::from_secs),
                max_lateness: self
                    .sequencer
                    .max_lateness_s
                    .map_or(defaults.max_lateness, Duration::from_secs),
                max_queue_wait: self
                    .sequencer
                    .max_queue_wait_ms
                    .map_or(defaults.max_queue_wait, Duration::from_millis),
                clock: defaults.clock,
                gate_rate,
                leadership: None,
            },
            body_deadline: Duration::from_millis(body_deadline_ms),
            max_connections,
            conn: crate::accept::ConnRules {
                header_timeout: Duration::from_millis(header_timeout_ms),
                per_source,
            },
            limits,
            tls: self.tls,
        })
    }
}

fn range(name: &'static str, v: usize, max: usize) -> Result<(), ConfigError> {
    if v == 0 || v > max {
        return Err(ConfigError::Invalid {
            name,
            detail: format!("{v} is not in 1..={max}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../cairn-ledger.example.toml");

    fn parse(text: &str) -> Result<FileConfig, ConfigError> {
        FileConfig::parse(text, Path::new("/etc/cairn/ledger.toml"))
    }

    #[test]
    fn the_example_file_parses_and_resolves() {
        let c = parse(EXAMPLE).unwrap().resolve().unwrap();
        assert_eq!(c.data_dir, Path::new("/etc/cairn/data"));
        assert_eq!(c.listen, "127.0.0.1:8417".parse().unwrap());
        assert_eq!(c.origin.as_deref(), Some("ledger.example.com/log"));
        assert_eq!(c.authorities, vec!["@/etc/cairn/authority.vkey".to_owned()]);
        assert_eq!(c.admin_token_file.as_deref(), Some(Path::new("/etc/cairn/admin.token")));
        assert_eq!(c.sequencer.max_batch, 512);
        assert_eq!(c.sequencer.max_wait, Duration::from_micros(500));
        assert_eq!(c.sequencer.queue, 8192);
        assert_eq!(c.sequencer.max_clock_skew, Duration::from_secs(300));
        assert_eq!(
            c.sequencer.gate_rate,
            Some(crate::ratelimit::GateRate {
                per_second: 1000.0,
                burst: 2000.0
            })
        );
        assert_eq!(c.body_deadline, Duration::from_secs(10));
        assert_eq!(c.max_connections, 1024);
        assert_eq!(c.limits.batch_items, 64);
        assert_eq!(c.limits.receipt_body, crate::http::MAX_RECEIPT_BODY);
        // HTTPS is commented out, so that a copy of the file starts as is.
        assert!(c.tls.is_none());
        // Uncommented, its paths are the file's.
        let with_tls = EXAMPLE
            .replace("# [tls]", "[tls]")
            .replace("# cert =", "cert =")
            .replace("# key =", "key =");
        let tls = parse(&with_tls).unwrap().resolve().unwrap().tls.unwrap();
        assert_eq!(tls.cert, Path::new("/etc/cairn/tls/cert.pem"));
        assert_eq!(tls.key, Path::new("/etc/cairn/tls/key.pem"));
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let file = parse("data_dir = \"d\"\nauthorities = [\"k\"]\n[sequencer]\nmax_batch = 7\nqueue = 9\n").unwrap();
        let flags = FileConfig {
            sequencer: FileSequencer {
                max_batch: Some(3),
                ..FileSequencer::default()
            },
            ..FileConfig::default()
        };
        let c = file.overlay(flags).resolve().unwrap();
        assert_eq!(c.sequencer.max_batch, 3);
        assert_eq!(c.sequencer.queue, 9);
        assert_eq!(c.sequencer.max_wait, SequencerConfig::default().max_wait);
        assert_eq!(c.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(c.origin, None);
        // Relative to the file's directory.
        assert_eq!(c.data_dir, Path::new("/etc/cairn/d"));
        assert!(c.tls.is_none());
    }

    #[test]
    fn refusals_name_the_setting() {
        let e = parse("data_dir = \"d\"\nauthoritys = [\"k\"]\n").unwrap_err();
        assert!(
            matches!(&e, ConfigError::Syntax { detail, .. } if detail.contains("authoritys")),
            "{e}"
        );
        assert!(matches!(parse("listen = 5\n"), Err(ConfigError::Syntax { .. })));
        assert!(matches!(
            parse("[tls]\ncert = \"c\"\n"),
            Err(ConfigError::Syntax { .. })
        ));
        assert!(matches!(
            parse("authorities = [\"k\"]\n").unwrap().resolve(),
            Err(ConfigError::Missing("data_dir"))
        ));
        assert!(matches!(
            parse("data_dir = \"d\"\nauthorities = []\n").unwrap().resolve(),
            Err(ConfigError::Missing("authorities"))
        ));
        for (text, name) in [
            ("[sequencer]\nmax_batch = 0\n", "sequencer.max_batch"),
            ("[sequencer]\nqueue = 99999999\n", "sequencer.queue"),
            ("[http]\nbody_deadline_ms = 0\n", "http.body_deadline_ms"),
            (
                "[sequencer]\ngate_rate_per_s = 5\ngate_burst = 0\n",
                "sequencer.gate_burst",
            ),
            ("lease_ttl_ms = 100\n", "lease_ttl_ms"),
            ("advertise = \"ledger-a:8417\"\n", "advertise"),
        ] {
            let text = format!("data_dir = \"d\"\nauthorities = [\"k\"]\n{text}");
            match parse(&text).unwrap().resolve() {
                Err(ConfigError::Invalid { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn load_bounds_the_file() {
        let dir = std::env::temp_dir().join(format!("cairn-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.toml");
        std::fs::write(&big, format!("# {}\n", "x".repeat(MAX_CONFIG_FILE as usize))).unwrap();
        assert!(matches!(FileConfig::load(&big), Err(ConfigError::TooLarge(_))));
        assert!(matches!(
            FileConfig::load(&dir.join("none.toml")),
            Err(ConfigError::Read { .. })
        ));
    }
}
