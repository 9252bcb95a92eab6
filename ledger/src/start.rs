//! One place starts a ledger: store → sequencer → router. `serve`, the
//! embedded ledger, `populate`, the benchmarks and the tests all start it
//! here, so that what runs in a test is what runs in production.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use cairn_api::keys::{SignerKey, VerifierKey};

use crate::http::{AppState, DEFAULT_BODY_DEADLINE, Limits, router};
use crate::query_index::QueryIndex;
use crate::query_index::follower::{self, Follower};
use crate::sequencer::{Sequencer, SequencerConfig};
use crate::store::{RedbStore, Store, StoreError};
use crate::witnessing::{Published, WitnessingConfig};

/// How long a stopping ledger waits for the batch in flight.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The redb file's name in a data directory.
pub const DB_FILE: &str = "ledger.redb";

/// Everything a ledger runs with besides its store.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// Signs checkpoints; its name is the log's origin.
    pub log_key: SignerKey,
    /// May register keys and publish bundles.
    pub authorities: Vec<VerifierKey>,
    /// The admin bearer credential; `None` disables admin routes.
    pub admin_token: Option<Arc<str>>,
    /// The sequencer's tuning.
    pub sequencer: SequencerConfig,
    /// The longest a client may take to send a request body.
    pub body_deadline: Duration,
    /// Request limits.
    pub limits: Limits,
    /// Witnesses to collect cosignatures from; `None`: not witnessed.
    pub witnessing: Option<WitnessingConfig>,
    /// How connections are held (header-read timeout, per-source cap).
    pub conn: crate::accept::ConnRules,
    /// Submissions and submission body bytes in flight at most (beyond
    /// them: 503 busy before the body is read).
    pub in_flight: (usize, usize),
    /// The incident-query index's file ([`crate::query_index::INDEX_FILE`]
    /// in the data directory); `None`: held in memory and derived from the
    /// entries at every start.
    pub query_index: Option<PathBuf>,
}

impl LedgerConfig {
    /// Defaults for everything but the keys: no admin credential, default
    /// tuning and limits.
    pub fn new(log_key: SignerKey, authorities: Vec<VerifierKey>) -> Self {
        LedgerConfig {
            log_key,
            authorities,
            admin_token: None,
            sequencer: SequencerConfig::default(),
            body_deadline: DEFAULT_BODY_DEADLINE,
            limits: Limits::default(),
            witnessing: None,
            conn: crate::accept::ConnRules::default(),
            in_flight: (
                crate::http::in_flight::MAX_IN_FLIGHT,
                crate::http::in_flight::MAX_IN_FLIGHT_BYTES,
            ),
            query_index: None,
        }
    }
}

/// Open (or create) the redb store at `path`.
pub fn open_redb(path: &Path) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(RedbStore::open(path)?))
}

/// A started ledger: its sequencer task runs on the current runtime.
#[derive(Debug)]
pub struct Ledger {
    state: AppState,
    task: tokio::task::JoinHandle<()>,
    witnessing: Option<tokio::task::JoinHandle<()>>,
    follower: Follower,
    conn: crate::accept::ConnRules,
}

impl Ledger {
    /// Start the sequencer on `store` (reading the log's state and key
    /// history) and build the HTTP state.
    pub async fn start(store: Arc<dyn Store>, config: LedgerConfig) -> Result<Self, StoreError> {
        // Every entry read that serves evidence is checked against the tree.
        let store: Arc<dyn Store> = Arc::new(crate::store::CheckedStore::new(store));
        let log_vkey = config.log_key.verifier();
        let index = Arc::new(match &config.query_index {
            Some(path) => {
                let (path, s) = (path.clone(), store.clone());
                tokio::task::spawn_blocking(move || QueryIndex::open_for(&path, s.as_ref()))
                    .await
                    .unwrap_or_else(|e| Err(StoreError::backend("open the query index", e)))?
            }
            None => QueryIndex::in_memory()?,
        });
        let (feed, feed_rx) = follower::feed();
        let (sequencer, task) = Sequencer::start(
            store.clone(),
            config.log_key,
            config.authorities,
            config.sequencer,
            Some(feed),
        )
        .await?;
        let follower = follower::spawn(feed_rx, index.clone(), &store, sequencer.metrics())
            .map_err(|e| StoreError::backend("start the query index", e))?;
        let published = Arc::new(Published::default());
        let witnessing = config
            .witnessing
            .map(|w| crate::witnessing::spawn(store.clone(), log_vkey, w, published.clone(), sequencer.metrics()));
        let state = AppState {
            sequencer,
            store,
            index,
            admin_token: config.admin_token,
            body_deadline: config.body_deadline,
            limits: config.limits,
            published,
            in_flight: crate::http::in_flight::InFlight::new(config.in_flight.0, config.in_flight.1),
        };
        Ok(Ledger {
            state,
            task,
            witnessing,
            follower,
            conn: config.conn,
        })
    }

    /// The write path.
    pub fn sequencer(&self) -> &Sequencer {
        &self.state.sequencer
    }

    /// The newest cosigned checkpoint.
    pub fn published(&self) -> &Arc<Published> {
        &self.state.published
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.state.store
    }

    /// The HTTP service.
    pub fn router(&self) -> Router {
        router(self.state.clone())
    }

    /// Serve HTTP on `listener` until `shutdown` completes; then the
    /// connections drain, the batch in flight is committed and answered,
    /// and the sequencer stops.
    pub async fn serve<L>(self, listener: L, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()>
    where
        L: axum::serve::Listener<Addr = std::net::SocketAddr>,
        L::Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let app = self.router();
        let Ledger {
            state,
            task,
            witnessing,
            follower,
            conn,
        } = self;
        drop(state);
        let served = crate::accept::serve(listener, app, conn, shutdown).await;
        // The router (and its sequencer handles) is gone: the sequencer
        // finishes the batch in flight and stops.
        if let Some(w) = witnessing {
            w.abort();
        }
        let _ = tokio::time::timeout(STOP_TIMEOUT, task).await;
        stop_follower(follower).await;
        served
    }

    /// Stop without serving: drop every handle and wait for the batch in
    /// flight.
    pub async fn stop(self) {
        let Ledger {
            state,
            task,
            witnessing,
            follower,
            ..
        } = self;
        drop(state);
        if let Some(w) = witnessing {
            w.abort();
        }
        let _ = tokio::time::timeout(STOP_TIMEOUT, task).await;
        stop_follower(follower).await;
    }
}

/// Stop the query index's follower: it makes what it indexed durable and
/// lets go of the index file (a ledger started again in this process opens
/// it).
async fn stop_follower(follower: Follower) {
    let _ = tokio::time::timeout(STOP_TIMEOUT, tokio::task::spawn_blocking(move || follower.stop())).await;
}
