//! `cairn-gate serve`: load the key, the bundles and the callers, start
//! the submitter and the spool's delivery, and serve the AuthZEN API until
//! SIGTERM or Ctrl-C (in-flight decisions finish first).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use cairn_api::receipt::Mode;
use cairn_gate::approval::{Approver, WebhookApprover};
use cairn_gate::client::{HttpLedger, Ledger};
use cairn_gate::gate::{Gate, GateConfig};
use cairn_gate::spool::Spool;
use cairn_host::keyfile;

use crate::approval_page::Desk;
use crate::approvers::Approvers;
use crate::auth::Callers;
use crate::config::ServeConfig;
use crate::delivery::Delivery;
use crate::http::{AppState, router};
use crate::pdp::Pdp;
use crate::submitter::Batcher;

/// Why the gate could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A key, bundle, credential or spool could not be loaded (the
    /// operator's files; exit 3).
    #[error("{0}")]
    Load(String),
    /// The listen address could not be bound, or serving failed (exit 1).
    #[error("{0}")]
    Io(String),
}

impl ServeError {
    /// The process's exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            ServeError::Load(_) => 3,
            ServeError::Io(_) => 1,
        }
    }
}

/// A gate's decision point and the background work that lives as long
/// as it: what `serve` and `mcp` share.
#[derive(Debug)]
pub struct Gates {
    /// The decision point.
    pub pdp: Arc<Pdp>,
    /// The submitter (its counters).
    pub batcher: Arc<Batcher>,
    _delivery: Delivery,
}

/// The running parts of a served gate: its state for the router, and the
/// background work that lives as long as it.
#[derive(Debug)]
pub struct Running {
    /// The router's state.
    pub state: AppState,
    /// The submitter (its counters).
    pub batcher: Arc<Batcher>,
    _gates: Gates,
}

/// Load the key and the bundles, start the submitter and the spool's
/// delivery. `desk` is the approval page's, for the approver `page`
/// (only `serve` has one: the page needs the HTTP server).
pub fn gates(cfg: &ServeConfig, desk: Option<Arc<Desk>>) -> Result<Gates, ServeError> {
    let load = |e: String| ServeError::Load(e);
    let key = keyfile::read_key(&cfg.gate_key).map_err(|e| load(e.to_string()))?;
    let log_key = keyfile::read_vkey_arg(&cfg.log_key).map_err(|e| load(format!("log_key: {e}")))?;
    let spool = Spool::open(&cfg.spool).map_err(|e| load(e.to_string()))?;
    let batcher = Arc::new(
        Batcher::start(HttpLedger::new(&cfg.ledger, log_key), cfg.batch)
            .map_err(|e| ServeError::Io(format!("the submitter's threads: {e}")))?,
    );
    let ledger: Arc<dyn Ledger> = batcher.clone();
    let approver: Option<Arc<dyn Approver>> = match cfg.approver.as_deref() {
        None => None,
        Some("page") => Some(desk.ok_or_else(|| {
            ServeError::Load("approver `page`: the approval page is served by `cairn-gate serve` only".into())
        })? as Arc<dyn Approver>),
        Some(a) => a
            .strip_prefix("webhook:")
            .map(|url| Arc::new(WebhookApprover::new(url)) as Arc<dyn Approver>),
    };
    let config = GateConfig {
        mode: if cfg.shadow { Mode::Shadow } else { Mode::Enforce },
        submit_deadline: cfg.deadline,
        approval_deadline: cfg.approval,
    };
    let gate = |path: &std::path::Path| -> Result<Arc<Gate>, ServeError> {
        let bundle = cairn_gate::policy_dir::load(path).map_err(|e| load(e.to_string()))?;
        Gate::new(
            key.clone(),
            bundle,
            ledger.clone(),
            spool.clone(),
            approver.clone(),
            config.clone(),
        )
        .map(Arc::new)
        .map_err(|e| load(format!("{}: {e}", path.display())))
    };
    let default = cfg.bundle.as_deref().map(gate).transpose()?;
    let mut by_surface = BTreeMap::new();
    for (surface, path) in &cfg.surfaces {
        by_surface.insert(surface.clone(), gate(path)?);
    }
    let pdp = Arc::new(Pdp::new(default, by_surface));
    let delivery = Delivery::start(pdp.clone(), cfg.spool_interval)
        .map_err(|e| ServeError::Io(format!("the spool's delivery thread: {e}")))?;
    Ok(Gates {
        pdp,
        batcher,
        _delivery: delivery,
    })
}

/// Build a gate server's state from its settings (`callers` or
/// `client_ca` required: every caller is authenticated).
pub fn start(cfg: &ServeConfig) -> Result<Running, ServeError> {
    if cfg.callers.is_none() && cfg.client_ca.is_none() {
        return Err(ServeError::Load(
            "missing setting `callers` (or `client_ca`): serving needs caller credentials".into(),
        ));
    }
    let callers = cfg
        .callers
        .as_deref()
        .map(|path| Callers::load(path).map(Arc::new))
        .transpose()
        .map_err(|e| ServeError::Load(e.to_string()))?;
    let desk = match (cfg.approver.as_deref(), &cfg.approvers) {
        (Some("page"), Some(file)) => {
            let approvers = Approvers::load(file).map_err(|e| ServeError::Load(e.to_string()))?;
            let base = cfg
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", cfg.listen));
            Some(Arc::new(Desk::new(approvers, &base)))
        }
        _ => None,
    };
    let gates = gates(cfg, desk.clone())?;
    Ok(Running {
        state: AppState {
            pdp: gates.pdp.clone(),
            callers,
            public_url: cfg.public_url.clone(),
            desk,
        },
        batcher: gates.batcher.clone(),
        _gates: gates,
    })
}

/// Serve `cfg` until `shutdown` completes. `ready` is called with the
/// bound address once the gate listens.
pub async fn serve(
    cfg: ServeConfig,
    ready: impl FnOnce(std::net::SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let running = tokio::task::block_in_place(|| start(&cfg))?;
    let tls = cfg
        .tls
        .as_ref()
        .map(|(cert, key)| cairn_tls::server_config(cert, key, cfg.client_ca.as_deref()))
        .transpose()
        .map_err(|e| ServeError::Load(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| ServeError::Io(format!("{}: {e}", cfg.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Io(format!("{}: {e}", cfg.listen)))?;
    let app = router(running.state.clone());
    let served = match tls {
        Some(tls) => {
            let listener = cairn_tls::TlsListener::new(listener, tls).map_err(|e| ServeError::Io(e.to_string()))?;
            ready(addr);
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await
        }
        None => {
            ready(addr);
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await
        }
    };
    served.map_err(|e| ServeError::Io(e.to_string()))
}

/// Threads for blocking work: each decision runs on one until its receipt
/// is logged, for as long as a person takes to answer an approval (up to
/// [`crate::approval_page::MAX_PENDING`] wait at once), and the MCP proxy
/// holds one per open upstream stream. tokio's default (512) would queue
/// decisions behind waiting approvals.
pub const MAX_BLOCKING_THREADS: usize = 4096;

/// The runtime of a served gate (`serve`, `mcp --upstream`).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
}

/// SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
