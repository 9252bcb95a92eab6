//! `cairn-gate serve`'s settings, documented by
//! `gate-server/cairn-gate.example.toml`.
//!
//! Each setting is a flag, an environment variable (`CAIRN_GATE_*`) and a
//! key of the TOML file: a flag wins over the environment, the
//! environment over the file, the file over the default. Unknown keys are
//! refused (a misspelt setting must not silently keep its default), and
//! relative paths in the file are taken from the file's own directory.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::submitter::BatchConfig;

/// Largest configuration file read, in bytes.
pub const MAX_CONFIG_FILE: u64 = 64 * 1024;
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8418";
/// The default ledger URL (the ledger's default listen address).
pub const DEFAULT_LEDGER: &str = "http://127.0.0.1:8417";
/// The default spool directory.
pub const DEFAULT_SPOOL: &str = "cairn-gate-spool";
/// The default wait for the ledger's acknowledgement, in milliseconds.
pub const DEFAULT_DEADLINE_MS: u64 = 2000;
/// The default wait for a human approval, in seconds.
pub const DEFAULT_APPROVAL_S: u64 = 60;
/// The default interval between spool deliveries, in seconds.
pub const DEFAULT_SPOOL_INTERVAL_S: u64 = 5;
/// Longest wait for the ledger a configuration may ask for, in ms.
pub const MAX_DEADLINE_MS: u64 = 60_000;
/// Longest approval wait a configuration may ask for, in seconds.
pub const MAX_APPROVAL_S: u64 = 24 * 3600;

/// The configuration is unusable: always the operator's fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {detail}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The file is not valid TOML for this schema (unknown key, wrong type).
    #[error("{path}: {detail}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        detail: String,
    },
    /// A required setting is missing from flags, environment and file.
    #[error("missing setting `{0}` (a flag, its CAIRN_GATE_ variable, or the config file)")]
    Missing(&'static str),
    /// A setting is out of its range or malformed.
    #[error("setting `{name}`: {detail}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

/// The settings as given: every one optional, so that flags, environment
/// and file can each supply any of them.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Listen address (default 127.0.0.1:8418).
    #[arg(long, env = "CAIRN_GATE_LISTEN")]
    pub listen: Option<String>,
    /// The base URL callers reach the gate at, for the AuthZEN metadata
    /// (default: http:// and the Host header of the call).
    #[arg(long, env = "CAIRN_GATE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The ledger's URL (default http://127.0.0.1:8417), or the URLs of
    /// several instances of one log, comma-separated: a submission goes to
    /// the next one when an instance does not answer or answers 502-504
    /// (straight to the leader a `not-leader` answer names).
    #[arg(long, env = "CAIRN_GATE_LEDGER")]
    pub ledger: Option<String>,
    /// The log's verifier key (vkey or @FILE): acknowledgements must prove under it.
    #[arg(long, env = "CAIRN_GATE_LOG_KEY")]
    pub log_key: Option<String>,
    /// The gate's signing key file (its key must be registered in the log).
    #[arg(long, env = "CAIRN_GATE_KEY")]
    pub gate_key: Option<PathBuf>,
    /// The policy for every surface not given its own: a bundle file or
    /// directory, archived in the ledger.
    #[arg(long, env = "CAIRN_GATE_BUNDLE")]
    pub bundle: Option<PathBuf>,
    /// A surface's own bundle, `SURFACE=PATH` (repeatable; in the file, the
    /// `[surfaces]` table).
    #[arg(long = "surface", value_name = "SURFACE=PATH")]
    #[serde(skip)]
    pub surface: Vec<String>,
    /// Bundles by surface (the file's `[surfaces]` table).
    #[arg(skip)]
    pub surfaces: Option<BTreeMap<String, PathBuf>>,
    /// The file of caller credentials (one bearer credential per line).
    #[arg(long, env = "CAIRN_GATE_CALLERS")]
    pub callers: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with `tls_key`).
    #[arg(long, env = "CAIRN_GATE_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `tls_cert`.
    #[arg(long, env = "CAIRN_GATE_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: callers must present a certificate signed by a CA in
    /// this PEM file (needs `tls_cert`; `callers` then optional).
    #[arg(long, env = "CAIRN_GATE_CLIENT_CA")]
    pub client_ca: Option<PathBuf>,
    /// Where SILENCE receipts wait for the ledger (default cairn-gate-spool).
    #[arg(long, env = "CAIRN_GATE_SPOOL")]
    pub spool: Option<PathBuf>,
    /// Who approves when a policy asks for a human: `webhook:URL`, or
    /// `page` (the approval page at /approvals; needs `approvers`).
    #[arg(long, env = "CAIRN_GATE_APPROVER")]
    pub approver: Option<String>,
    /// The approval page's people: one `NAME CREDENTIAL` per line.
    #[arg(long, env = "CAIRN_GATE_APPROVERS")]
    pub approvers: Option<PathBuf>,
    /// Record every decision but never block.
    #[arg(long, env = "CAIRN_GATE_SHADOW", num_args = 0..=1, default_missing_value = "true")]
    pub shadow: Option<bool>,
    /// Longest wait for the ledger's acknowledgement, in milliseconds.
    #[arg(long, env = "CAIRN_GATE_DEADLINE_MS")]
    pub deadline_ms: Option<u64>,
    /// Longest wait for a human approval, in seconds.
    #[arg(long, env = "CAIRN_GATE_APPROVAL_S")]
    pub approval_s: Option<u64>,
    /// Most receipts in one submission to the ledger (1 to 256; default 64).
    #[arg(long, env = "CAIRN_GATE_MAX_BATCH")]
    pub max_batch: Option<usize>,
    /// Submissions in flight at once (default 2).
    #[arg(long, env = "CAIRN_GATE_SUBMITTERS")]
    pub submitters: Option<usize>,
    /// Seconds between deliveries of the spool (default 5).
    #[arg(long, env = "CAIRN_GATE_SPOOL_INTERVAL_S")]
    pub spool_interval_s: Option<u64>,
}

/// The settings, complete and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// The metadata's base URL, if fixed.
    pub public_url: Option<String>,
    /// The ledger's URL, or several instances' URLs, comma-separated.
    pub ledger: String,
    /// The log key argument (vkey or @FILE).
    pub log_key: String,
    /// The gate's key file.
    pub gate_key: PathBuf,
    /// The default bundle.
    pub bundle: Option<PathBuf>,
    /// Bundles by surface.
    pub surfaces: BTreeMap<String, PathBuf>,
    /// The caller credentials file (to serve the AuthZEN API, this or
    /// `client_ca` is required).
    pub callers: Option<PathBuf>,
    /// HTTPS: the certificate chain and key files.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Mutual TLS: the CA file callers' certificates must chain to.
    pub client_ca: Option<PathBuf>,
    /// The spool directory.
    pub spool: PathBuf,
    /// The approver (`webhook:URL` or `page`).
    pub approver: Option<String>,
    /// The approval page's approvers file (required with `page`).
    pub approvers: Option<PathBuf>,
    /// Shadow mode.
    pub shadow: bool,
    /// Wait for the ledger.
    pub deadline: Duration,
    /// Wait for an approval.
    pub approval: Duration,
    /// Batching.
    pub batch: BatchConfig,
    /// Between spool deliveries.
    pub spool_interval: Duration,
}

fn rebase(dir: &Path, p: Option<PathBuf>) -> Option<PathBuf> {
    p.map(|p| if p.is_absolute() { p } else { dir.join(p) })
}

impl Settings {
    /// The file's settings; relative paths taken from its directory.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let s: Settings = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Ok(Settings {
            gate_key: rebase(dir, s.gate_key),
            bundle: rebase(dir, s.bundle),
            callers: rebase(dir, s.callers),
            tls_cert: rebase(dir, s.tls_cert),
            tls_key: rebase(dir, s.tls_key),
            client_ca: rebase(dir, s.client_ca),
            approvers: rebase(dir, s.approvers),
            spool: rebase(dir, s.spool),
            surfaces: s
                .surfaces
                .map(|m| m.into_iter().map(|(k, v)| (k, dir.join(v))).collect()),
            log_key: s.log_key.map(|k| match k.strip_prefix('@') {
                Some(f) if Path::new(f).is_relative() => format!("@{}", dir.join(f).display()),
                _ => k,
            }),
            ..s
        })
    }

    /// The file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let bytes = cairn_host::file::read_bounded(path, MAX_CONFIG_FILE).map_err(|e| ConfigError::Read {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| ConfigError::Read {
            path: path.to_owned(),
            detail: "not UTF-8".into(),
        })?;
        Settings::parse(&text, path)
    }

    /// The final settings of a command: the file at `config` (if any)
    /// under `flags` (flags and environment), resolved.
    pub fn from_sources(config: Option<&Path>, flags: Settings) -> Result<ServeConfig, ConfigError> {
        let file = config.map(Settings::load).transpose()?.unwrap_or_default();
        file.overlay(flags).resolve()
    }

    /// Lay `over` (flags and environment) on top of `self` (the file).
    #[must_use]
    pub fn overlay(self, over: Settings) -> Settings {
        let mut surfaces = self.surfaces.unwrap_or_default();
        surfaces.extend(over.surfaces.unwrap_or_default());
        Settings {
            listen: over.listen.or(self.listen),
            public_url: over.public_url.or(self.public_url),
            ledger: over.ledger.or(self.ledger),
            log_key: over.log_key.or(self.log_key),
            gate_key: over.gate_key.or(self.gate_key),
            bundle: over.bundle.or(self.bundle),
            surface: [self.surface, over.surface].concat(),
            surfaces: Some(surfaces),
            callers: over.callers.or(self.callers),
            tls_cert: over.tls_cert.or(self.tls_cert),
            tls_key: over.tls_key.or(self.tls_key),
            client_ca: over.client_ca.or(self.client_ca),
            spool: over.spool.or(self.spool),
            approver: over.approver.or(self.approver),
            approvers: over.approvers.or(self.approvers),
            shadow: over.shadow.or(self.shadow),
            deadline_ms: over.deadline_ms.or(self.deadline_ms),
            approval_s: over.approval_s.or(self.approval_s),
            max_batch: over.max_batch.or(self.max_batch),
            submitters: over.submitters.or(self.submitters),
            spool_interval_s: over.spool_interval_s.or(self.spool_interval_s),
        }
    }

    /// The final settings: defaults filled in, required ones present,
    /// ranges checked.
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let invalid = |name, detail: String| ConfigError::Invalid { name, detail };
        let listen = self.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen
            .parse()
            .map_err(|e| invalid("listen", format!("{listen:?}: {e}")))?;
        let mut surfaces = self.surfaces.unwrap_or_default();
        for s in &self.surface {
            let (name, path) = s
                .split_once('=')
                .filter(|(n, p)| !n.is_empty() && !p.is_empty())
                .ok_or_else(|| invalid("surface", format!("{s:?}: give SURFACE=PATH")))?;
            surfaces.insert(name.to_owned(), PathBuf::from(path));
        }
        if self.bundle.is_none() && surfaces.is_empty() {
            return Err(ConfigError::Missing("bundle"));
        }
        let deadline_ms = self.deadline_ms.unwrap_or(DEFAULT_DEADLINE_MS);
        if !(1..=MAX_DEADLINE_MS).contains(&deadline_ms) {
            return Err(invalid(
                "deadline_ms",
                format!("1 to {MAX_DEADLINE_MS}, not {deadline_ms}"),
            ));
        }
        let approval_s = self.approval_s.unwrap_or(DEFAULT_APPROVAL_S);
        if !(1..=MAX_APPROVAL_S).contains(&approval_s) {
            return Err(invalid(
                "approval_s",
                format!("1 to {MAX_APPROVAL_S}, not {approval_s}"),
            ));
        }
        let max_batch = self.max_batch.unwrap_or(BatchConfig::default().max_batch);
        if !(1..=cairn_gate::client::MAX_BATCH).contains(&max_batch) {
            return Err(invalid(
                "max_batch",
                format!("1 to {}, not {max_batch}", cairn_gate::client::MAX_BATCH),
            ));
        }
        let submitters = self.submitters.unwrap_or(BatchConfig::default().workers);
        if !(1..=64).contains(&submitters) {
            return Err(invalid("submitters", format!("1 to 64, not {submitters}")));
        }
        let spool_interval_s = self.spool_interval_s.unwrap_or(DEFAULT_SPOOL_INTERVAL_S);
        if !(1..=3600).contains(&spool_interval_s) {
            return Err(invalid(
                "spool_interval_s",
                format!("1 to 3600, not {spool_interval_s}"),
            ));
        }
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::Missing("tls_key")),
            (None, Some(_)) => return Err(ConfigError::Missing("tls_cert")),
        };
        if self.client_ca.is_some() && tls.is_none() {
            return Err(invalid("client_ca", "mutual TLS needs tls_cert and tls_key".into()));
        }
        match self.approver.as_deref() {
            None => {}
            Some(a) if a.starts_with("webhook:") => {}
            Some("page") if self.approvers.is_none() => return Err(ConfigError::Missing("approvers")),
            Some("page") => {}
            Some(a) => {
                return Err(invalid(
                    "approver",
                    format!("{a:?}: a served gate's approver is webhook:URL or page"),
                ));
            }
        }
        if let Some(u) = &self.public_url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err(invalid("public_url", format!("{u:?}: an http(s) URL")));
        }
        Ok(ServeConfig {
            listen,
            public_url: self.public_url.map(|u| u.trim_end_matches('/').to_owned()),
            ledger: self.ledger.unwrap_or_else(|| DEFAULT_LEDGER.to_owned()),
            log_key: self.log_key.ok_or(ConfigError::Missing("log_key"))?,
            gate_key: self.gate_key.ok_or(ConfigError::Missing("gate_key"))?,
            bundle: self.bundle,
            surfaces,
            callers: self.callers,
            tls,
            client_ca: self.client_ca,
            spool: self.spool.unwrap_or_else(|| PathBuf::from(DEFAULT_SPOOL)),
            approver: self.approver,
            approvers: self.approvers,
            shadow: self.shadow.unwrap_or(false),
            deadline: Duration::from_millis(deadline_ms),
            approval: Duration::from_secs(approval_s),
            batch: BatchConfig {
                max_batch,
                workers: submitters,
            },
            spool_interval: Duration::from_secs(spool_interval_s),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn required() -> Settings {
        Settings {
            ledger: Some("http://127.0.0.1:8417".into()),
            log_key: Some("@log.vkey".into()),
            gate_key: Some("gate.key".into()),
            bundle: Some("policy".into()),
            callers: Some("callers".into()),
            ..Settings::default()
        }
    }

    #[test]
    fn the_example_file_parses_and_resolves() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cairn-gate.example.toml");
        let s = Settings::load(&path).unwrap();
        let c = s.resolve().unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert!(c.gate_key.starts_with(env!("CARGO_MANIFEST_DIR")));
        assert!(c.surfaces.contains_key("payments"));
    }

    #[test]
    fn flags_win_over_the_file_and_relative_paths_follow_the_file() {
        let file = Settings::parse(
            "ledger = \"http://file\"\nlog_key = \"@keys/log.vkey\"\ngate_key = \"gate.key\"\nbundle = \"b\"\ncallers = \"c\"\ndeadline_ms = 500\n[surfaces]\neks = \"eks-policy\"\n",
            Path::new("/etc/cairn/gate.toml"),
        )
        .unwrap();
        let flags = Settings {
            ledger: Some("http://flag".into()),
            surface: vec!["db=/srv/db-policy".into()],
            ..Settings::default()
        };
        let c = file.overlay(flags).resolve().unwrap();
        assert_eq!(c.ledger, "http://flag");
        assert_eq!(c.log_key, "@/etc/cairn/keys/log.vkey");
        assert_eq!(c.gate_key, Path::new("/etc/cairn/gate.key"));
        assert_eq!(c.deadline, Duration::from_millis(500));
        assert_eq!(c.surfaces["eks"], Path::new("/etc/cairn/eks-policy"));
        assert_eq!(c.surfaces["db"], Path::new("/srv/db-policy"));
    }

    #[test]
    fn unknown_keys_missing_settings_and_ranges_are_refused() {
        assert!(matches!(
            Settings::parse("ledgr = \"x\"\n", Path::new("g.toml")),
            Err(ConfigError::Syntax { .. })
        ));
        let mut s = required();
        s.gate_key = None;
        assert!(matches!(s.resolve(), Err(ConfigError::Missing("gate_key"))));
        let mut s = required();
        s.bundle = None;
        assert!(matches!(s.resolve(), Err(ConfigError::Missing("bundle"))));
        let mut s = required();
        s.max_batch = Some(1000);
        assert!(matches!(
            s.resolve(),
            Err(ConfigError::Invalid { name: "max_batch", .. })
        ));
        let mut s = required();
        s.approver = Some("terminal".into());
        assert!(matches!(
            s.resolve(),
            Err(ConfigError::Invalid { name: "approver", .. })
        ));
        let mut s = required();
        s.approver = Some("page".into());
        assert!(matches!(s.clone().resolve(), Err(ConfigError::Missing("approvers"))));
        s.approvers = Some("people".into());
        assert_eq!(s.resolve().unwrap().approvers, Some(PathBuf::from("people")));
        let mut s = required();
        s.surface = vec!["no-equals".into()];
        assert!(matches!(s.resolve(), Err(ConfigError::Invalid { name: "surface", .. })));
    }
}
