//! `cairn-gate mcp [settings] -- <server command>`: start the MCP server
//! and stand between it and the agent (`cairn_gate_server::mcp`).
//!
//! stdout and stdin belong to the MCP conversation: the proxy writes
//! nothing else there (its log goes to stderr, the server's stderr is
//! passed through). Exit status: the server's, or 3 when the gate could
//! not start (a key, a bundle), 4 for bad settings, 1 when the server
//! could not be started.

use std::collections::BTreeSet;
use std::io::BufReader;
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};

use cairn_gate_server::config::Settings;
use cairn_gate_server::mcp::{McpMapping, Shared, run};

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
    let mapping = McpMapping {
        server: args.server,
        agent_type: args.agent_type,
        agent_id: args.agent,
        resource_args: args.resource_arg,
        redact: args.redact.into_iter().collect::<BTreeSet<_>>(),
    };
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
