//! `cairn-gate mcp [settings] -- <server command>`: start the MCP server
//! and stand between it and the agent (`cairn_gate_server::mcp`), or
//! `cairn-gate mcp [settings] --upstream URL`: serve the streamable HTTP
//! transport at `listen` in front of the server at URL
//! (`cairn_gate_server::mcp_http`).
//!
//! On stdio, stdout and stdin belong to the MCP conversation: the proxy
//! writes nothing else there (its log goes to stderr, the server's stderr
//! is passed through). Exit status: the server's (stdio; 0 after SIGTERM
//! over HTTP), or 3 when the gate could not start (a key, a bundle, the
//! token issuers), 4 for bad settings, 1 when the server could not be
//! started or the address not bound.

use std::collections::BTreeSet;
use std::io::BufReader;
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};

use cairn_gate_server::config::{ServeConfig, Settings};
use cairn_gate_server::lineage::TokenIssuers;
use cairn_gate_server::mcp::{McpMapping, Shared, run};
use cairn_gate_server::mcp_http::{ProxyState, router};
use cairn_host::outln;

/// How tool calls are mapped to AuthZEN requests.
#[derive(clap::Args, Debug)]
pub struct McpArgs {
    /// The server's name: the resource type (surface) its calls are decided under.
    #[arg(long, env = "CAIRN_MCP_SERVER")]
    server: String,
    /// The agent's identity (the subject id of every call).
    #[arg(long, env = "CAIRN_MCP_AGENT")]
    agent: String,
    /// The agent's subject type.
    #[arg(long, default_value = "agent")]
    agent_type: String,
    /// An argument whose value is the resource id (a path, a namespace;
    /// repeatable: the first a call has); without one, the tool's name.
    #[arg(long)]
    resource_arg: Vec<String>,
    /// An argument recorded as the SHA-256 of its value (repeatable).
    #[arg(long)]
    redact: Vec<String>,
    /// The MCP server's streamable HTTP base URL (`http://host:port`): serve
    /// the same paths at `listen` instead of running a stdio server.
    #[arg(long, env = "CAIRN_MCP_UPSTREAM")]
    upstream: Option<String>,
    /// The token issuers the gate trusts (JSON, `{"issuers": [{"iss",
    /// "keys": [JWK...]}]}`): the agent's bearer token, verified, becomes
    /// the receipt's lineage (streamable HTTP only).
    #[arg(long, env = "CAIRN_MCP_TOKEN_ISSUERS", requires = "upstream")]
    token_issuers: Option<std::path::PathBuf>,
}

impl McpArgs {
    /// Whether this is the streamable HTTP proxy.
    pub fn is_http(&self) -> bool {
        self.upstream.is_some()
    }

    fn mapping(&self) -> McpMapping {
        McpMapping {
            server: self.server.clone(),
            agent_type: self.agent_type.clone(),
            agent_id: self.agent.clone(),
            resource_args: self.resource_arg.clone(),
            redact: self.redact.iter().cloned().collect::<BTreeSet<_>>(),
        }
    }
}

/// What a stopping proxy adds to the longest a decision can take before it
/// exits anyway.
const SHUTDOWN_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);

/// `cairn-gate mcp --upstream URL`: serve until SIGTERM or Ctrl-C.
fn http(cfg: &ServeConfig, args: &McpArgs, upstream: &str) -> ExitCode {
    let fail = |code: u8, msg: String| {
        eprintln!("cairn-gate mcp: {msg}");
        ExitCode::from(code)
    };
    if !(upstream.starts_with("http://") || upstream.starts_with("https://")) {
        return fail(4, format!("--upstream {upstream:?}: an http:// or https:// URL"));
    }
    let issuers = match args.token_issuers.as_deref().map(TokenIssuers::load).transpose() {
        Ok(i) => i.map(Arc::new),
        Err(e) => return fail(3, e.to_string()),
    };
    let gates = match cairn_gate_server::serve::gates(cfg, None) {
        Ok(g) => g,
        Err(e) => return fail(e.exit_code(), e.to_string()),
    };
    let state = ProxyState::new(gates.pdp.clone(), args.mapping(), upstream, issuers);
    let tls = match cfg
        .tls
        .as_ref()
        .map(|(cert, key)| cairn_tls::server_config(cert, key, cfg.client_ca.as_deref()))
        .transpose()
    {
        Ok(t) => t,
        Err(e) => return fail(3, e.to_string()),
    };
    let rt = match cairn_gate_server::serve::runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(1, format!("the runtime: {e}")),
    };
    let served = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| format!("{}: {e}", cfg.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let app = router(state);
        // On SIGTERM: no new connections; calls in flight get the time a
        // decision can take (approval and ledger deadlines), then the proxy
        // stops even if an agent keeps an event stream open.
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            cairn_gate_server::serve::shutdown_signal().await;
            let _ = stopping.send(());
        };
        let grace = cfg.approval + cfg.deadline + SHUTDOWN_MARGIN;
        let deadline = async move {
            if stopped.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let served = async {
            match tls {
                Some(tls) => {
                    let listener = cairn_tls::TlsListener::new(listener, tls).map_err(|e| e.to_string())?;
                    ready(&format!("https://{addr}"), upstream);
                    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
                }
                None => {
                    ready(&format!("http://{addr}"), upstream);
                    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
                }
            }
            .map_err(|e| e.to_string())
        };
        tokio::select! {
            r = served => r,
            () = deadline => {
                tracing::warn!("stopping with connections still open (event streams)");
                Ok(())
            }
        }
    });
    // Threads still reading an upstream event stream are not waited for.
    rt.shutdown_timeout(SHUTDOWN_MARGIN);
    drop(gates);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(1, e),
    }
}

fn ready(url: &str, upstream: &str) {
    outln!("cairn-gate: MCP proxy on {url} for {upstream}");
    cairn_host::out::flush();
}

pub fn mcp(config: Option<&std::path::Path>, flags: Settings, args: McpArgs, command: &[String]) -> ExitCode {
    let fail = |code: u8, msg: String| {
        eprintln!("cairn-gate mcp: {msg}");
        ExitCode::from(code)
    };
    let cfg = match Settings::from_sources(config, flags) {
        Ok(c) => c,
        Err(e) => return fail(4, e.to_string()),
    };
    if let Some(upstream) = args.upstream.as_deref() {
        return http(&cfg, &args, upstream);
    }
    let Some((program, rest)) = command.split_first() else {
        return fail(4, "give the server's command after --".into());
    };
    let gates = match cairn_gate_server::serve::gates(&cfg, None) {
        Ok(g) => g,
        Err(e) => return fail(e.exit_code(), e.to_string()),
    };
    let mut child = match Command::new(program)
        .args(rest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return fail(1, format!("{program}: {e}")),
    };
    let (Some(server_in), Some(server_out)) = (child.stdin.take(), child.stdout.take()) else {
        return fail(1, "the server's pipes".into());
    };
    let mapping = args.mapping();
    let agent_out: Shared = Arc::new(Mutex::new(Box::new(std::io::stdout())));
    let server_in: Shared = Arc::new(Mutex::new(Box::new(server_in)));
    let proxied = run(
        gates.pdp.clone(),
        mapping,
        std::io::stdin().lock(),
        agent_out,
        server_in,
        BufReader::new(server_out),
    );
    let status = child.wait();
    if let Err(e) = proxied {
        eprintln!("cairn-gate mcp: {e}");
    }
    match status {
        Ok(s) => ExitCode::from(s.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1)),
        Err(e) => fail(1, format!("{program}: {e}")),
    }
}
