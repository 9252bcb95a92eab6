//! `cairn-ledger serve` as a child process, and a minimal HTTP/1.1 client.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cairn_api::examples;
use cairn_api::keys::VerifierKey;

/// The admin credential the child runs with.
pub const TOKEN: &str = "e2e-admin-token";

/// A running `cairn-ledger serve`; SIGKILLed when dropped.
pub struct Server {
    /// The child process.
    pub child: Child,
    /// `host:port`.
    pub addr: String,
    /// The log's verifier key, as printed.
    pub log_key: VerifierKey,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `serve` on `dir` (origin `e2e.example/log`, the example authority).
pub fn start(dir: &Path) -> Server {
    start_with(dir, &[])
}

/// [`start`] with extra flags.
pub fn start_with(dir: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-ledger"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--origin",
            "e2e.example/log",
            "--data-dir",
        ])
        .arg(dir)
        .arg("--authority")
        .arg(examples::authority_key().verifier().to_string())
        .args(extra)
        .env("CAIRN_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let key = lines.next().unwrap().unwrap();
    let listen = lines.next().unwrap().unwrap();
    Server {
        child,
        addr: listen.trim_start_matches("listening on http://").to_owned(),
        log_key: VerifierKey::parse(key.trim_start_matches("log key: ")).unwrap(),
    }
}

/// One request on a fresh connection; `None` when the connection fails
/// (the server is gone) or the answer is cut short.
pub fn try_http(addr: &str, method: &str, path: &str, body: &[u8], admin: bool) -> Option<(u16, Vec<u8>)> {
    try_http_as(addr, method, path, "application/cose", body, admin)
}

/// [`try_http`] with a content type.
pub fn try_http_as(
    addr: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    admin: bool,
) -> Option<(u16, Vec<u8>)> {
    let (status, _, body) = try_http_full(addr, method, path, content_type, body, admin, Duration::from_secs(30))?;
    Some((status, body))
}

/// One request, waiting at most `timeout` to connect and for each read:
/// (status, the response head lowercased, body); `None` without a whole
/// answer.
pub fn try_http_full(
    addr: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    admin: bool,
    timeout: Duration,
) -> Option<(u16, String, Vec<u8>)> {
    let sock = std::net::ToSocketAddrs::to_socket_addrs(addr).ok()?.next()?;
    let mut s = TcpStream::connect_timeout(&sock, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    let auth = if admin {
        format!("Authorization: Bearer {TOKEN}\r\n")
    } else {
        String::new()
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status: u16 = String::from_utf8_lossy(resp.get(9..12)?).parse().ok()?;
    let head = String::from_utf8_lossy(&resp[..split]).to_ascii_lowercase();
    let body = resp[split + 4..].to_vec();
    // A body shorter than announced was cut by a kill.
    if let Some(len) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        && body.len() != len
    {
        return None;
    }
    Some((status, head, body))
}

/// [`try_http`] that must succeed.
pub fn http(addr: &str, method: &str, path: &str, body: &[u8], admin: bool) -> (u16, Vec<u8>) {
    try_http(addr, method, path, body, admin).unwrap_or_else(|| panic!("{method} {path}: no answer"))
}

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh one.
    pub fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("cairn-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Server {
    /// Stop it gracefully (SIGTERM): the database is closed cleanly.
    pub fn terminate(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Start `serve` on `dir`, register the example gate key, archive an empty
/// bundle and log `n` receipts; the server keeps running.
pub fn populated(dir: &Path, n: u64) -> Server {
    use cairn_api::entry::{KeyAction, POLICY_CONTENT_TYPE};
    let server = start(dir);
    let key = super::key_statement(KeyAction::Register, &examples::gate_key());
    assert_eq!(http(&server.addr, "POST", "/v1/keys", &key, true).0, 201);
    let bundle = super::bundle("empty", b"");
    let b = cairn_api::cose::sign(bundle.as_bytes(), POLICY_CONTENT_TYPE, &examples::authority_key()).unwrap();
    assert_eq!(http(&server.addr, "POST", "/v1/policies", &b, true).0, 201);
    for k in 0..n {
        let body = super::receipt(k, &examples::gate_key(), super::now_ms(), &bundle, "pop");
        assert_eq!(http(&server.addr, "POST", "/v1/receipts", &body, false).0, 201);
    }
    server
}
