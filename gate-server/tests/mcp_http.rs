//! The streamable HTTP proxy's edges, against a real gate and ledger and an
//! upstream on loopback that records what reaches it: pass-through of
//! everything but `tools/call` (headers, path, query, status, body), a
//! `tools/call` the policy blocks never reaching the server, the refusals
//! (a malformed call, a body over the limit), and an upstream that is down.
//! The real MCP parts (the Python SDK, server-everything) are in
//! `interop/mcp/streamable_story.py`.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cairn_gate_server::mcp::McpMapping;
use cairn_gate_server::mcp_http::{ProxyState, router};
use common::fixture::{Served, send};
use serde_json::json;

/// One request as the upstream saw it: request line, headers (lowercase
/// names), body.
type Seen = (String, Vec<(String, String)>, Vec<u8>);

/// An upstream that answers every request `200` with an `mcp-session-id`,
/// `text/event-stream`, and one event echoing the request line.
fn upstream() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let mut headers = Vec::new();
            let mut len = 0;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
                let (k, v) = h.trim_end().split_once(':').unwrap();
                let (k, v) = (k.to_ascii_lowercase(), v.trim().to_owned());
                if k == "content-length" {
                    len = v.parse().unwrap();
                }
                headers.push((k, v));
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let event = format!("event: message\ndata: {}\n\n", line.trim_end());
            s.lock().unwrap().push((line.trim_end().to_owned(), headers, body));
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nMcp-Session-Id: s-1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{event}",
                event.len()
            );
        }
    });
    (url, seen)
}

fn mapping() -> McpMapping {
    McpMapping {
        server: "eks".into(),
        agent_type: "agent".into(),
        agent_id: "agent:devops-helper".into(),
        resource_args: vec!["target".into()],
        redact: Default::default(),
    }
}

fn call(id: serde_json::Value, target: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": "delete_pod", "arguments": {"target": target}}})
    .to_string()
}

fn post(path: &str, body: String) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", "s-1")
        .header("authorization", "Bearer agent-token")
        .header("connection", "keep-alive")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_but_a_blocked_call_reaches_the_server_as_it_came() {
    let served = Served::new("mcp-http");
    let (url, seen) = upstream();
    let app = router(ProxyState::new(served.running.state.pdp.clone(), mapping(), &url, None));

    // Not a tool call: passed on, answer streamed back with its headers.
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.to_owned();
    let a = send(&app, post("/mcp?x=1", list.clone())).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["mcp-session-id"], "s-1");
    assert_eq!(a.headers["content-type"], "text/event-stream");
    {
        let seen = seen.lock().unwrap();
        let (line, headers, body) = &seen[0];
        assert_eq!(line, "POST /mcp?x=1 HTTP/1.1");
        assert_eq!(body, list.as_bytes());
        let h = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(h("mcp-session-id"), Some("s-1"));
        assert_eq!(h("authorization"), Some("Bearer agent-token"));
        assert_ne!(
            h("connection"),
            Some("keep-alive"),
            "hop-by-hop headers stay with the proxy"
        );
    }

    // A delete in production: blocked, the server never sees it.
    let a = send(&app, post("/mcp", call(json!(7), "production:web"))).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["id"], 7);
    assert_eq!(a.json["result"]["isError"], true);
    assert!(
        a.json["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Action blocked by policy"),
        "{}",
        a.json
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    let blocked_index = a.json["result"]["_meta"]["cairn"]["cairn"]["log_index"]
        .as_u64()
        .unwrap();
    let r = served.logged(blocked_index);
    assert_eq!(
        r.parts().request.context.as_ref().unwrap()["mcp_transport"],
        "streamable-http"
    );

    // The same on staging: forwarded byte for byte.
    let body = call(json!("a"), "staging:web");
    let a = send(&app, post("/mcp", body.clone())).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(seen.lock().unwrap()[1].2, body.as_bytes());

    // GET (the server's stream) and DELETE (end of session) pass too.
    for method in ["GET", "DELETE"] {
        let req = Request::builder()
            .method(method)
            .uri("/mcp")
            .header("mcp-session-id", "s-1")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, req).await.status, StatusCode::OK);
    }
    let lines: Vec<String> = seen.lock().unwrap().iter().map(|s| s.0.clone()).collect();
    assert_eq!(&lines[2..], ["GET /mcp HTTP/1.1", "DELETE /mcp HTTP/1.1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_an_upstream_that_is_down() {
    let served = Served::new("mcp-http-refusals");
    let (url, seen) = upstream();
    let app = router(ProxyState::new(served.running.state.pdp.clone(), mapping(), &url, None));
    // A tools/call without an id: 400, nothing decided or forwarded.
    let no_id = json!({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "x"}}).to_string();
    let a = send(&app, post("/mcp", no_id)).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json["error"]["code"], -32600);
    // A batch holding a tools/call: 400.
    let batch = format!("[{}]", call(json!(1), "staging:web"));
    assert_eq!(send(&app, post("/mcp", batch)).await.status, StatusCode::BAD_REQUEST);
    // Over 4 MiB: 413.
    let big = "x".repeat(cairn_gate_server::mcp::MAX_LINE_BYTES + 1);
    assert_eq!(
        send(&app, post("/mcp", big)).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Not strict JSON (a lone surrogate, which JSON.parse would read): 400.
    let lone = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_pod\ud800","arguments":{}}}"#;
    let a = send(&app, post("/mcp", lone.into())).await;
    assert_eq!(
        (a.status, &a.json["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!(-32700))
    );
    // An encoded body, or a body on a GET: 415.
    let mut gz = post("/mcp", call(json!(2), "staging:web"));
    gz.headers_mut().insert("content-encoding", "gzip".parse().unwrap());
    assert_eq!(send(&app, gz).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let get = Request::get("/mcp")
        .body(Body::from(call(json!(3), "staging:web")))
        .unwrap();
    assert_eq!(send(&app, get).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(seen.lock().unwrap().is_empty());

    // Nothing listens upstream: 502 with a JSON-RPC error.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = router(ProxyState::new(
        served.running.state.pdp.clone(),
        mapping(),
        &down,
        None,
    ));
    let a = send(&app, post("/mcp", r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.into())).await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY);
    assert!(a.json["error"]["message"].as_str().unwrap().contains("did not answer"));
}
