//! `cairn-ledger serve`: check everything the configuration names, then
//! touch the disk, then serve.
//!
//! Every check that can fail because of the operator's configuration —
//! the TLS files, the authority keys, the admin credential, the listen
//! address, the data directory, an existing log key and its origin, a
//! database another ledger holds — runs before anything is created, so a
//! failed start leaves no new log key (a new key is a new, permanent log
//! identity) and exits 4 ([`ServeError::Config`]). A log whose database
//! holds entries but whose log key is missing is refused: a new key would
//! silently start another log on the same entries.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_api::keys::{KeyType, SignerKey};
use cairn_host::keyfile::{self, LOG_KEY_FILE, LOG_VKEY_FILE};
use cairn_host::outln;

use crate::config::{DEFAULT_ORIGIN, ServeConfig};
use crate::conn::Limited;
use crate::start::{DB_FILE, Ledger, LedgerConfig};
use crate::store::{RedbStore, Store, StoreError};
use crate::tls::TlsListener;

/// Why the ledger did not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration names something unusable (the operator's; exit 4).
    /// Nothing was created.
    #[error("{0}")]
    Config(String),
    /// Storage failed (the machine's; exit 1).
    #[error("storage: {0}")]
    Storage(#[from] StoreError),
    /// Serving failed (the machine's; exit 1).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ServeError {
    /// The exit code: 4 for the configuration, 1 for the rest.
    pub fn exit_code(&self) -> u8 {
        match self {
            ServeError::Config(_) => 4,
            ServeError::Storage(_) | ServeError::Io(_) => 1,
        }
    }
}

fn config(what: impl std::fmt::Display) -> ServeError {
    ServeError::Config(what.to_string())
}

/// The log key the data directory has, or the one it will get.
enum LogKey {
    Existing(SignerKey),
    ToCreate(SignerKey),
}

/// Check the data directory and its log key against `origin`: nothing is
/// written.
fn plan_log_key(dir: &Path, origin: Option<&str>) -> Result<LogKey, ServeError> {
    if dir.exists() && !dir.is_dir() {
        return Err(config(format!("--data-dir {}: not a directory", dir.display())));
    }
    let key_path = dir.join(LOG_KEY_FILE);
    if key_path.exists() {
        let key = keyfile::read_key(&key_path).map_err(config)?;
        if let Some(o) = origin
            && o != key.name()
        {
            return Err(config(format!(
                "--origin {o} does not match the log key in {} (origin {}): a log's origin cannot change; \
                 drop --origin or give {}",
                key_path.display(),
                key.name(),
                key.name()
            )));
        }
        return Ok(LogKey::Existing(key));
    }
    let db = dir.join(DB_FILE);
    if std::fs::metadata(&db).is_ok_and(|m| m.len() > 0) {
        return Err(config(format!(
            "{} exists but {} is missing: restore the log key from its backup (a new key would start \
             another log on these entries)",
            db.display(),
            key_path.display()
        )));
    }
    let key = keyfile::new_key(origin.unwrap_or(DEFAULT_ORIGIN), KeyType::Ed25519).map_err(config)?;
    Ok(LogKey::ToCreate(key))
}

/// Check the whole configuration, then create what is missing and serve
/// until `shutdown` completes.
pub async fn serve(cfg: ServeConfig, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
    // 1. Everything the configuration names, read and checked.
    let tls = cfg
        .tls
        .as_ref()
        .map(|t| crate::tls::server_config(&t.cert, &t.key, None))
        .transpose()
        .map_err(config)?;
    let authorities = cfg
        .authorities
        .iter()
        .map(|a| keyfile::read_vkey_arg(a).map_err(|e| config(format!("authority key: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let admin_token: Option<Arc<str>> = keyfile::admin_token(cfg.admin_token_file.as_deref())
        .map_err(|e| config(format!("admin credential: {e}")))?
        .map(Into::into);
    let witnessing = cfg
        .witnessing
        .as_ref()
        .map(|w| {
            crate::witnessing::WitnessingConfig::load(&w.file, w.interval, w.timeout)
                .map_err(|e| config(format!("witnessing: {}: {e}", w.file.display())))
        })
        .transpose()?;
    let planned = plan_log_key(&cfg.data_dir, cfg.origin.as_deref())?;
    let listener =
        crate::accept::listen(cfg.listen).map_err(|e| config(format!("cannot listen on {}: {e}", cfg.listen)))?;
    // 2. The disk: the directory, the database (refused if another ledger
    //    holds it), and only then a new log key.
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(|e| config(format!("--data-dir {}: {e}", cfg.data_dir.display())))?;
    let planned_vkey = match &planned {
        LogKey::Existing(k) | LogKey::ToCreate(k) => k.verifier().to_string(),
    };
    let mut sequencer = cfg.sequencer.clone();
    let (store, lease): (Arc<dyn Store>, _) = match &cfg.database {
        Some(db) => {
            // Several instances may share the database: the one holding the
            // sequencer lease writes, under an epoch every commit checks.
            let (db, vkey) = (db.clone(), planned_vkey);
            let opened = tokio::task::spawn_blocking(move || {
                let s = crate::store::PgStore::open(&db)?;
                s.claim_identity(&vkey)?;
                Ok::<_, StoreError>(s)
            })
            .await
            .map_err(|e| config(format!("--database: {e}")))?
            .map_err(|e| config(format!("--database: {e}")))?;
            let leadership = Arc::new(crate::leadership::Leadership::new());
            let pg = Arc::new(opened.fenced_by(leadership.clone()));
            let lease_cfg = crate::store::pg_lease::LeaseConfig::new(cfg.advertise.clone(), cfg.lease_ttl);
            let lease = crate::store::pg_lease::spawn(pg.clone(), leadership.clone(), lease_cfg)?;
            sequencer.leadership = Some(leadership);
            (pg as Arc<dyn Store>, Some(lease))
        }
        None => match RedbStore::open(&cfg.data_dir.join(DB_FILE)) {
            Ok(s) => (Arc::new(s) as Arc<dyn Store>, None),
            Err(e @ StoreError::Locked(_)) => return Err(config(e)),
            Err(e) => return Err(e.into()),
        },
    };
    let log_key = match planned {
        LogKey::Existing(k) => k,
        LogKey::ToCreate(k) => {
            let path: PathBuf = cfg.data_dir.join(LOG_KEY_FILE);
            keyfile::write_secret(&path, &k.to_private_string()).map_err(|e| ServeError::Config(e.to_string()))?;
            tracing::info!(path = %path.display(), origin = %k.name(), "created the log key");
            k
        }
    };
    let vkey_path = cfg.data_dir.join(LOG_VKEY_FILE);
    if !vkey_path.exists() {
        std::fs::write(&vkey_path, format!("{}\n", log_key.verifier()))?;
    }
    if admin_token.is_none() {
        tracing::warn!("no admin credential: admin routes answer 401");
    }
    // 3. Serve.
    let ledger = Ledger::start(
        store,
        LedgerConfig {
            log_key: log_key.clone(),
            authorities,
            admin_token,
            sequencer,
            body_deadline: cfg.body_deadline,
            limits: cfg.limits,
            witnessing,
            conn: cfg.conn,
            // As many submissions in flight as the queue holds: more could
            // only wait for a slot, so they are refused before their work.
            in_flight: (cfg.sequencer.queue, crate::http::in_flight::MAX_IN_FLIGHT_BYTES),
            query_index: Some(crate::query_index::path_for(&cfg.data_dir.join(crate::start::DB_FILE))),
        },
    )
    .await?;
    let addr = listener.local_addr()?;
    outln!("log key: {}", log_key.verifier());
    let scheme = if tls.is_some() { "https" } else { "http" };
    outln!("listening on {scheme}://{addr}");
    cairn_host::out::flush();
    tracing::info!(%addr, tls = tls.is_some(), max_connections = cfg.max_connections, "listening");
    match tls {
        Some(tls) => {
            ledger
                .serve(
                    Limited::new(TlsListener::new(listener, tls)?, cfg.max_connections),
                    shutdown,
                )
                .await?;
        }
        None => {
            ledger
                .serve(Limited::new(listener, cfg.max_connections), shutdown)
                .await?;
        }
    }
    if let Some(lease) = lease {
        // After the last batch: hand the lease over at once.
        let _ = tokio::task::spawn_blocking(move || lease.stop()).await;
    }
    tracing::info!("shut down");
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
