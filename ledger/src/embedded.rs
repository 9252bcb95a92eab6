//! An embedded ledger: [`Ledger::start`] on a loopback port, on a runtime
//! thread of its own, with the same redb file `cairn-ledger serve` uses.
//! For the demo, the load generator and the tests of the gate and the
//! verifier, which talk to it over HTTP exactly as to a remote ledger.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_api::keys::{SignerKey, VerifierKey};
use tokio::sync::oneshot;

use crate::start::{Ledger, LedgerConfig, open_redb};

/// The embedded ledger could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbeddedError {
    /// No runtime thread.
    #[error("runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The store could not be opened or read.
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    /// The listen address could not be bound.
    #[error("{addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The thread ended before the ledger listened.
    #[error("the embedded ledger's thread ended before it listened")]
    Ended,
}

/// A running embedded ledger; stopped when dropped.
#[derive(Debug)]
pub struct EmbeddedLedger {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What an embedded ledger needs.
#[derive(Debug, Clone)]
pub struct LedgerSetup {
    /// The redb file (its query index beside it, unless the config places
    /// it: [`crate::query_index::path_for`]).
    pub db: PathBuf,
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// Keys, credential, tuning and limits.
    pub config: LedgerConfig,
}

impl LedgerSetup {
    /// Defaults: any loopback port, default tuning, no admin credential.
    pub fn new(db: &Path, log_key: SignerKey, authorities: Vec<VerifierKey>) -> Self {
        LedgerSetup {
            db: db.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            config: LedgerConfig::new(log_key, authorities),
        }
    }

    /// With this admin credential.
    #[must_use]
    pub fn admin_token(mut self, token: &str) -> Self {
        self.config.admin_token = Some(Arc::from(token));
        self
    }
}

impl EmbeddedLedger {
    /// Start it; returns once it listens.
    pub fn start(setup: LedgerSetup) -> Result<Self, EmbeddedError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<SocketAddr, EmbeddedError>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(EmbeddedError::Runtime(e)));
                    return;
                }
            };
            rt.block_on(async move {
                let started = async {
                    let mut config = setup.config;
                    // The query index beside the database, unless placed.
                    config
                        .query_index
                        .get_or_insert_with(|| crate::query_index::path_for(&setup.db));
                    let ledger = Ledger::start(open_redb(&setup.db)?, config).await?;
                    let listener =
                        tokio::net::TcpListener::bind(setup.listen)
                            .await
                            .map_err(|source| EmbeddedError::Bind {
                                addr: setup.listen,
                                source,
                            })?;
                    let addr = listener.local_addr().map_err(|source| EmbeddedError::Bind {
                        addr: setup.listen,
                        source,
                    })?;
                    Ok::<_, EmbeddedError>((ledger, listener, addr))
                };
                match started.await {
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                    Ok((ledger, listener, addr)) => {
                        let _ = ready_tx.send(Ok(addr));
                        let _ = ledger
                            .serve(listener, async {
                                let _ = stop_rx.await;
                            })
                            .await;
                    }
                }
            });
        });
        let addr = ready_rx.recv().map_err(|_| EmbeddedError::Ended)??;
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
