//! An embedded ledger: cairn-ledger's sequencer and HTTP router on a
//! loopback port, on a runtime thread of its own, with the same redb file
//! `cairn-ledger serve` uses. For the demo, the load generator and tests;
//! gates talk to it over HTTP exactly as to a remote ledger.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn_api::keys::{SignerKey, VerifierKey};
use cairn_ledger::http::{AppState, router};
use cairn_ledger::sequencer::{Sequencer, SequencerConfig};
use cairn_ledger::store::{RedbStore, Store};
use tokio::sync::oneshot;

/// How long a stop waits for the batch in flight.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running embedded ledger.
#[derive(Debug)]
pub struct EmbeddedLedger {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What an embedded ledger needs.
#[derive(Debug, Clone)]
pub struct LedgerSetup {
    /// The redb file.
    pub db: PathBuf,
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// The log's signing key.
    pub log_key: SignerKey,
    /// Authority verifier keys.
    pub authorities: Vec<VerifierKey>,
    /// The admin bearer credential.
    pub admin_token: Option<String>,
    /// The sequencer's tuning.
    pub sequencer: SequencerConfig,
}

impl LedgerSetup {
    /// Defaults: any loopback port, default tuning.
    pub fn new(db: &Path, log_key: SignerKey, authorities: Vec<VerifierKey>) -> Self {
        LedgerSetup {
            db: db.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_key,
            authorities,
            admin_token: None,
            sequencer: SequencerConfig::default(),
        }
    }
}

impl EmbeddedLedger {
    /// Start it; returns once it listens.
    pub fn start(setup: LedgerSetup) -> Result<Self, String> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<SocketAddr, String>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                let started = async {
                    let store: Arc<dyn Store> = Arc::new(RedbStore::open(&setup.db).map_err(|e| e.to_string())?);
                    let (sequencer, task) =
                        Sequencer::start(store.clone(), setup.log_key, setup.authorities, setup.sequencer)
                            .await
                            .map_err(|e| e.to_string())?;
                    let listener = tokio::net::TcpListener::bind(setup.listen)
                        .await
                        .map_err(|e| format!("{}: {e}", setup.listen))?;
                    let addr = listener.local_addr().map_err(|e| e.to_string())?;
                    let app = router(AppState {
                        sequencer,
                        store,
                        admin_token: setup.admin_token.map(Into::into),
                        body_deadline: Duration::from_secs(10),
                        limits: cairn_ledger::http::Limits::default(),
                    });
                    Ok::<_, String>((listener, addr, app, task))
                };
                match started.await {
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                    Ok((listener, addr, app, task)) => {
                        let _ = ready_tx.send(Ok(addr));
                        let _ = axum::serve(listener, app)
                            .with_graceful_shutdown(async {
                                let _ = stop_rx.await;
                            })
                            .await;
                        let _ = tokio::time::timeout(STOP_TIMEOUT, task).await;
                    }
                }
            });
        });
        let addr = ready_rx
            .recv()
            .map_err(|_| "the embedded ledger's thread ended before it listened".to_owned())??;
        Ok(EmbeddedLedger {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop it: connections drain, the batch in flight finishes, the
    /// database is closed. Returns when it is down.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EmbeddedLedger {
    fn drop(&mut self) {
        self.shutdown();
    }
}
