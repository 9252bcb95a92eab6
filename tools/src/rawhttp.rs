//! A minimal async HTTP/1.1 client for the flood load generator: one
//! keep-alive connection per task, bound to a chosen loopback source
//! address (the ledger caps connections per source address, so thousands
//! of connections come from many of them), `Content-Length` bodies only.
//! Not a general client: it speaks to cairn's ledger, whose answers always
//! carry a `Content-Length`.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

/// The largest response head read.
pub const MAX_HEAD: usize = 16 * 1024;
/// The largest response body read.
pub const MAX_BODY: usize = 4 << 20;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RawError {
    /// Connecting, writing or reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server's answer is not an HTTP/1.1 response this client reads.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
}

/// An answer: status, whether it carried `Retry-After`, and the body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: bool,
    pub body: Vec<u8>,
}

/// The address of an `http://HOST:PORT` URL whose host is an IP address.
pub fn socket_addr(url: &str) -> Option<SocketAddr> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    authority.parse().ok()
}

/// One connection to `server` from `source`, opened on first use and again
/// after the server closed it.
#[derive(Debug)]
pub struct Conn {
    server: SocketAddr,
    source: IpAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    /// A connection to `server` that will be opened from `source`.
    pub fn new(server: SocketAddr, source: IpAddr) -> Self {
        Conn {
            server,
            source,
            stream: None,
            buf: Vec::with_capacity(4096),
        }
    }

    async fn open(&mut self) -> Result<&mut TcpStream, RawError> {
        if self.stream.is_none() {
            let socket = if self.server.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            socket.bind(SocketAddr::new(self.source, 0))?;
            let s = socket.connect(self.server).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
        }
        self.stream.as_mut().ok_or(RawError::Malformed("no connection"))
    }

    /// `POST path` with `body`; on any failure the connection is dropped
    /// (the next request opens a new one).
    pub async fn post(&mut self, path: &str, content_type: &str, body: &[u8]) -> Result<Answer, RawError> {
        let r = self.exchange(path, content_type, body).await;
        if !matches!(&r, Ok((_, true))) {
            self.stream = None;
        }
        r.map(|(a, _)| a)
    }

    /// Send a whole request built by [`request_bytes`]; on any failure
    /// the connection is dropped (the next request opens a new one).
    pub async fn send(&mut self, request: &[u8]) -> Result<Answer, RawError> {
        let r = self.exchange_bytes(&[request]).await;
        if !matches!(&r, Ok((_, true))) {
            self.stream = None;
        }
        r.map(|(a, _)| a)
    }

    /// The answer and whether the connection may be kept.
    async fn exchange(&mut self, path: &str, content_type: &str, body: &[u8]) -> Result<(Answer, bool), RawError> {
        let head = request_head(self.server, path, content_type, body.len());
        self.exchange_bytes(&[head.as_bytes(), body]).await
    }

    /// Write `parts` in order, then read one answer.
    async fn exchange_bytes(&mut self, parts: &[&[u8]]) -> Result<(Answer, bool), RawError> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let stream = self.open().await?;
        for p in parts {
            stream.write_all(p).await?;
        }
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_HEAD {
                return Err(RawError::Malformed("response head too long"));
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(RawError::Malformed("connection closed before the answer"));
            }
        };
        let parsed = parse_head(&buf[..end])?;
        if parsed.length > MAX_BODY {
            return Err(RawError::Malformed("response body too long"));
        }
        while buf.len() < end + parsed.length {
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(RawError::Malformed("connection closed inside the body"));
            }
        }
        let answer = Answer {
            status: parsed.status,
            retry_after: parsed.retry_after,
            body: buf[end..end + parsed.length].to_vec(),
        };
        let keep = parsed.keep_alive && buf.len() == end + parsed.length;
        self.buf = buf;
        Ok((answer, keep))
    }
}

/// The head of a `POST` of `len` bytes.
fn request_head(host: SocketAddr, path: &str, content_type: &str, len: usize) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n\r\n")
}

/// A whole `POST` request (head and body), to build before a timed run.
pub fn request_bytes(host: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut r = request_head(host, path, content_type, body.len()).into_bytes();
    r.extend_from_slice(body);
    r
}

struct Head {
    status: u16,
    length: usize,
    retry_after: bool,
    keep_alive: bool,
}

fn parse_head(head: &[u8]) -> Result<Head, RawError> {
    let text = std::str::from_utf8(head).map_err(|_| RawError::Malformed("head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or(RawError::Malformed("no HTTP/1.1 status line"))?;
    let mut h = Head {
        status,
        length: 0,
        retry_after: false,
        keep_alive: true,
    };
    let mut has_length = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or(RawError::Malformed("header without a colon"))?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => {
                h.length = value.parse().map_err(|_| RawError::Malformed("bad Content-Length"))?;
                has_length = true;
            }
            "transfer-encoding" => return Err(RawError::Malformed("chunked answers are not read")),
            "retry-after" => h.retry_after = true,
            "connection" => h.keep_alive = !value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    if !has_length {
        return Err(RawError::Malformed("no Content-Length"));
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_read_strictly() {
        let h =
            parse_head(b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 12\r\n\r\n").unwrap();
        assert_eq!((h.status, h.length, h.retry_after, h.keep_alive), (503, 12, true, true));
        let h = parse_head(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        assert!(!h.keep_alive && !h.retry_after);
        for bad in [
            &b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
        ] {
            assert!(matches!(parse_head(bad), Err(RawError::Malformed(_))));
        }
        assert_eq!(
            socket_addr("http://127.0.0.1:8417"),
            Some("127.0.0.1:8417".parse().unwrap())
        );
        assert_eq!(socket_addr("https://127.0.0.1:8417"), None);
    }
}
