//! `cairn-gate mcp`: a gate in front of an MCP server (stdio transport).
//!
//! The agent starts `cairn-gate mcp [settings] -- <server command>` where
//! its MCP configuration started the server; the proxy starts the server
//! and passes every JSON-RPC message through unchanged, both ways, except
//! a `tools/call` request from the agent. That one becomes an AuthZEN
//! request ([`McpMapping::evaluation`]) decided by the gate ([`Pdp`]):
//! signed, logged durably, with a human asked when the policy says so.
//! Only a durable PERMIT forwards the call to the server; anything else
//! answers the agent with a tool error carrying the reason ("Action
//! blocked by policy: ..."), and the server never sees the call.
//!
//! Messages are newline-delimited JSON-RPC (the MCP stdio transport). A
//! line from the agent over [`MAX_LINE_BYTES`] is refused with a JSON-RPC
//! error and dropped; so is a batch (a JSON array) holding a `tools/call`
//! (MCP 2025-06-18 has no batches; a gate cannot forward part of one).
//! Decisions run concurrently, each on its own thread, so a call waiting
//! for a human does not hold up the others.

use std::collections::BTreeSet;
use std::io::{BufRead, Read, Write};
use std::sync::{Arc, Mutex};

use cairn_api::merkle::{MerkleHasher as _, Sha256};
use serde_json::{Map, Value, json};

use crate::authzen::{Action, Decision, Entity, EvaluationRequest};
use crate::pdp::Pdp;

/// Longest JSON-RPC line read from the agent, in bytes.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;
/// The JSON-RPC error code of a request the proxy refuses to read.
pub const INVALID_REQUEST: i64 = -32600;
/// The JSON-RPC error code of a message that is not JSON.
pub const PARSE_ERROR: i64 = -32700;

/// How a tool call becomes an AuthZEN request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpMapping {
    /// The server's name: the resource's `type`, so the surface whose
    /// policy decides.
    pub server: String,
    /// The agent's subject `type` and `id`.
    pub agent_type: String,
    /// The agent's subject id.
    pub agent_id: String,
    /// The arguments whose (string) value is the resource's `id` (a path,
    /// a namespace, a database): the first of them the call has; the
    /// tool's name when it has none.
    pub resource_args: Vec<String>,
    /// Arguments recorded as the SHA-256 digest of their value, not the
    /// value.
    pub redact: BTreeSet<String>,
}

/// The value with every object's members in key order (UTF-8 byte order).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&o[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// `{"sha256": hex}` of a value's compact JSON with sorted members.
pub fn digest(v: &Value) -> Value {
    let bytes = serde_json::to_vec(&sorted(v)).unwrap_or_default();
    json!({ "sha256": Sha256::digest(&[&bytes]).to_string() })
}

impl McpMapping {
    /// The AuthZEN request for calling `tool` with `arguments` over stdio:
    /// subject the agent, action the tool with the (redacted) arguments as
    /// its properties, resource the server and the target, context the
    /// transport.
    pub fn evaluation(&self, tool: &str, arguments: &Map<String, Value>) -> EvaluationRequest {
        self.evaluation_over(tool, arguments, "stdio")
    }

    /// [`McpMapping::evaluation`] over `transport` (`stdio` or
    /// `streamable-http`, recorded in the context).
    pub fn evaluation_over(&self, tool: &str, arguments: &Map<String, Value>, transport: &str) -> EvaluationRequest {
        let target = self
            .resource_args
            .iter()
            .find_map(|a| arguments.get(a).and_then(Value::as_str))
            .unwrap_or(tool);
        let recorded: Map<String, Value> = arguments
            .iter()
            .map(|(k, v)| {
                let v = if self.redact.contains(k) { digest(v) } else { v.clone() };
                (k.clone(), v)
            })
            .collect();
        EvaluationRequest {
            subject: Entity {
                kind: self.agent_type.clone(),
                id: self.agent_id.clone(),
                properties: None,
            },
            action: Action {
                name: tool.to_owned(),
                properties: (!recorded.is_empty()).then_some(recorded),
            },
            resource: Entity {
                kind: self.server.clone(),
                id: target.to_owned(),
                properties: None,
            },
            context: Some(Map::from_iter([
                ("mcp_server".to_owned(), json!(self.server)),
                ("mcp_transport".to_owned(), json!(transport)),
            ])),
        }
    }
}

/// The tool error answering a call the gate did not allow.
pub fn blocked(id: &Value, d: &Decision) -> Value {
    let ctx = d.context.as_ref();
    let message = ctx
        .and_then(|c| c.reason_user.as_ref())
        .and_then(|r| r.get("en"))
        .cloned()
        .or_else(|| {
            ctx.and_then(|c| c.error.as_ref())
                .map(|e| format!("Action blocked: {}", e.message))
        })
        .unwrap_or_else(|| "Action blocked by policy".to_owned());
    let mut result = json!({
        "content": [{"type": "text", "text": message}],
        "isError": true,
    });
    if let Some(c) = ctx {
        result["_meta"] = json!({ "cairn": c });
    }
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// A writer several threads share, a whole line at a time.
pub type Shared = Arc<Mutex<Box<dyn Write + Send>>>;

fn write_line(out: &Shared, line: &[u8]) -> std::io::Result<()> {
    let mut w = out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    w.write_all(line)?;
    if !line.ends_with(b"\n") {
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// A JSON-RPC error answer (-32600) to the message `id`.
pub(crate) fn error(id: &Value, message: &str) -> Vec<u8> {
    error_with(INVALID_REQUEST, id, message)
}

fn error_with(code: i64, id: &Value, message: &str) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
        .to_string()
        .into_bytes()
}

/// What to do with one message from the agent.
pub(crate) enum Route {
    /// Pass it to the server unchanged.
    Forward,
    /// A tool call: decide first.
    Decide {
        id: Value,
        tool: String,
        arguments: Map<String, Value>,
    },
    /// Answer the agent with this JSON-RPC error; nothing decided.
    Refuse(Vec<u8>),
}

/// Read one message (a stdio line, a streamable HTTP `POST` body).
pub(crate) fn route(line: &[u8]) -> Route {
    let Ok(v) = serde_json::from_slice::<Value>(line) else {
        // What the gate cannot read is not passed on: a server with a more
        // lenient parser (lone surrogates, a byte order mark, deeper
        // nesting) could read a tools/call in it that was never decided.
        return Route::Refuse(error_with(
            PARSE_ERROR,
            &Value::Null,
            "the cairn gate reads every message as strict JSON (RFC 8259), and this is not",
        ));
    };
    let is_call = |m: &Value| m.get("method").and_then(Value::as_str) == Some("tools/call");
    match &v {
        Value::Array(items) if items.iter().any(is_call) => Route::Refuse(error(
            &Value::Null,
            "a batch holding tools/call is not accepted by the cairn gate",
        )),
        Value::Object(o) if is_call(&v) => {
            let id = o.get("id").cloned().unwrap_or(Value::Null);
            let params = o.get("params");
            let tool = params.and_then(|p| p.get("name")).and_then(Value::as_str);
            let arguments = match params.and_then(|p| p.get("arguments")) {
                None | Some(Value::Null) => Some(Map::new()),
                Some(Value::Object(a)) => Some(a.clone()),
                Some(_) => None,
            };
            match (tool, arguments) {
                (Some(t), Some(a)) if !id.is_null() => Route::Decide {
                    id,
                    tool: t.to_owned(),
                    arguments: a,
                },
                _ => Route::Refuse(error(
                    &id,
                    "tools/call needs an id, params.name and object params.arguments",
                )),
            }
        }
        _ => Route::Forward,
    }
}

/// Proxy between the agent (`agent_in`, `agent_out`) and the server
/// (`server_in`, `server_out`) until the agent closes its side and every
/// decision in flight is answered; then the server's input is closed and
/// what it still writes is passed on until it closes its output.
pub fn run(
    pdp: Arc<Pdp>,
    mapping: McpMapping,
    mut agent_in: impl BufRead,
    agent_out: Shared,
    server_in: Shared,
    server_out: impl BufRead + Send + 'static,
) -> std::io::Result<()> {
    let to_agent = agent_out.clone();
    let copier = std::thread::Builder::new()
        .name("cairn-mcp-out".into())
        .spawn(move || copy_lines(server_out, &to_agent))?;
    let mapping = Arc::new(mapping);
    let mut pending = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = Read::take(&mut agent_in, MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if line.len() > MAX_LINE_BYTES && !line.ends_with(b"\n") {
            // Drop the rest of the line, then refuse it.
            let mut rest = Vec::new();
            while !rest.ends_with(b"\n") {
                rest.clear();
                if Read::take(&mut agent_in, MAX_LINE_BYTES as u64).read_until(b'\n', &mut rest)? == 0 {
                    break;
                }
            }
            write_line(&agent_out, &error(&Value::Null, "message over the gate's size limit"))?;
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match route(&line) {
            Route::Forward => write_line(&server_in, &line)?,
            Route::Refuse(answer) => write_line(&agent_out, &answer)?,
            Route::Decide { id, tool, arguments } => {
                let (pdp, mapping) = (pdp.clone(), mapping.clone());
                let (to_server, to_agent) = (server_in.clone(), agent_out.clone());
                let call = line.clone();
                pending.push(std::thread::Builder::new().name("cairn-mcp-call".into()).spawn(
                    move || -> std::io::Result<()> {
                        let req = mapping.evaluation(&tool, &arguments);
                        let d = pdp.evaluate(req, None).unwrap_or_else(|e| e.as_decision());
                        if d.decision {
                            tracing::info!(tool = %tool, "tools/call allowed");
                            write_line(&to_server, &call)
                        } else {
                            tracing::warn!(tool = %tool, reason = ?d.context.as_ref().map(|c| &c.id), "tools/call blocked");
                            write_line(&to_agent, blocked(&id, &d).to_string().as_bytes())
                        }
                    },
                )?);
            }
        }
        pending.retain(|t| !t.is_finished());
    }
    for t in pending {
        let _ = t.join();
    }
    // The agent is done: close the server's input so that it ends.
    {
        let mut w = server_in.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *w = Box::new(std::io::sink());
    }
    let _ = copier.join();
    Ok(())
}

/// Pass the server's lines to the agent, each whole.
fn copy_lines(mut from: impl BufRead, to: &Shared) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match from.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if write_line(to, &line).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> McpMapping {
        McpMapping {
            server: "filesystem".into(),
            agent_type: "agent".into(),
            agent_id: "agent:files".into(),
            resource_args: vec!["path".into(), "source".into()],
            redact: BTreeSet::from(["content".to_owned()]),
        }
    }

    #[test]
    fn a_tool_call_becomes_an_authzen_request_with_redacted_arguments() {
        let args = json!({"path": "/srv/production/a.txt", "content": {"b": 1, "a": [2]}})
            .as_object()
            .cloned()
            .unwrap();
        let r = mapping().evaluation("write_file", &args);
        assert_eq!(
            (r.resource.kind.as_str(), r.resource.id.as_str()),
            ("filesystem", "/srv/production/a.txt")
        );
        assert_eq!(r.action.name, "write_file");
        let props = r.action.properties.unwrap();
        assert_eq!(props["path"], "/srv/production/a.txt");
        // The digest does not depend on member order.
        assert_eq!(props["content"], digest(&json!({"a": [2], "b": 1})));
        assert_eq!(
            props["content"]["sha256"],
            Sha256::digest(&[br#"{"a":[2],"b":1}"#]).to_string()
        );
        let args = json!({"source": "/srv/production/a", "destination": "/srv/production/b"});
        let r = mapping().evaluation("move_file", args.as_object().unwrap());
        assert_eq!(r.resource.id, "/srv/production/a");
        // Without a resource argument: the tool's name.
        let r = mapping().evaluation("list_allowed_directories", &Map::new());
        assert_eq!(r.resource.id, "list_allowed_directories");
        assert!(r.action.properties.is_none());
    }

    #[test]
    fn only_tool_calls_are_decided() {
        assert!(matches!(
            route(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            Route::Forward
        ));
        assert!(matches!(route(b"not json"), Route::Refuse(_)));
        // JSON.parse reads a lone surrogate; serde_json does not: refused,
        // never forwarded undecided.
        assert!(matches!(
            route(br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"x\ud800"}}"#),
            Route::Refuse(_)
        ));
        assert!(matches!(route(b"\xef\xbb\xbf{}"), Route::Refuse(_)));
        assert!(matches!(
            route(br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"x","arguments":{"a":1}}}"#),
            Route::Decide { .. }
        ));
        assert!(matches!(
            route(br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x","arguments":[1]}}"#),
            Route::Refuse(_)
        ));
        assert!(matches!(
            route(br#"[{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"x"}}]"#),
            Route::Refuse(_)
        ));
        assert!(matches!(
            route(br#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}}"#),
            Route::Refuse(_)
        ));
    }

    #[test]
    fn a_blocked_call_is_a_tool_error_with_the_reason() {
        let d = Decision {
            decision: false,
            context: Some(crate::authzen::DecisionContext {
                id: "denied_by_rule".into(),
                reason_user: Some([("en".to_owned(), "Action blocked by policy: no".to_owned())].into()),
                ..Default::default()
            }),
        };
        let v = blocked(&json!(7), &d);
        assert_eq!(v["id"], 7);
        assert_eq!(v["result"]["isError"], true);
        assert_eq!(v["result"]["content"][0]["text"], "Action blocked by policy: no");
        assert_eq!(v["result"]["_meta"]["cairn"]["id"], "denied_by_rule");
    }
}
