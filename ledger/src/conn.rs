//! A cap on open connections: a listener that serves at most N
//! connections at once, so a flood of idle or slow clients cannot exhaust
//! the ledger's file descriptors or memory. A connection beyond the cap is
//! not left in the kernel's accept queue (where, behind connections kept
//! alive, it would wait until its client gives up): it is accepted and
//! answered 503 `busy` with Retry-After and `Connection: close` as soon as
//! its request head has arrived ([`refuse`]), so a gate learns within
//! milliseconds that the ledger is overloaded, spools, and retries later.
//! At most [`MAX_REFUSING`] such answers are in progress; beyond that a
//! connection is closed at once.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use cairn_api::wire::{Problem, ProblemType};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The default cap on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Most connections beyond the cap being answered 503 at once.
pub const MAX_REFUSING: usize = 1024;
/// The most of a refused connection's request read (head and body) before
/// it is closed.
pub const MAX_REFUSED_READ: usize = 128 * 1024;
/// How long a refused connection is given to send its head, and then to
/// take the answer and close.
pub const REFUSAL_DEADLINE: Duration = Duration::from_secs(1);

/// A listener with a cap on open connections.
#[derive(Debug)]
pub struct Limited<L> {
    inner: L,
    permits: Arc<Semaphore>,
    refusing: Arc<Semaphore>,
}

impl<L> Limited<L> {
    /// At most `max` connections of `inner` open at once (at least 1).
    pub fn new(inner: L, max: usize) -> Self {
        Limited {
            inner,
            permits: Arc::new(Semaphore::new(max.max(1))),
            refusing: Arc::new(Semaphore::new(MAX_REFUSING)),
        }
    }
}

/// A connection that frees its slot when closed.
#[derive(Debug)]
pub struct Counted<T> {
    io: T,
    _slot: OwnedSemaphorePermit,
}

/// The answer to a connection beyond the cap.
fn busy_answer() -> Vec<u8> {
    let problem = Problem::new(
        ProblemType::Busy,
        "the ledger is serving as many connections as it may; retry later",
    );
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut a = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    a.extend_from_slice(&body);
    a
}

/// Answer a connection beyond the cap: wait (within [`REFUSAL_DEADLINE`])
/// for its request head, answer 503 `busy`, close the write side, and read
/// what the client still sends (its body) until it closes, so that the
/// close does not reset the connection before the client read the answer.
pub async fn refuse<T: AsyncRead + AsyncWrite + Unpin>(mut io: T) {
    let mut buf = vec![0u8; 8192];
    let mut seen = Vec::new();
    let head = tokio::time::timeout(REFUSAL_DEADLINE, async {
        loop {
            let n = io.read(&mut buf).await.ok().filter(|n| *n > 0)?;
            seen.extend_from_slice(&buf[..n]);
            if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                return Some(());
            }
            if seen.len() > MAX_REFUSED_READ {
                return None;
            }
        }
    })
    .await;
    if !matches!(head, Ok(Some(()))) {
        return;
    }
    let _ = tokio::time::timeout(REFUSAL_DEADLINE, async {
        io.write_all(&busy_answer()).await.ok()?;
        io.shutdown().await.ok()?;
        let mut drained = seen.len();
        while drained <= MAX_REFUSED_READ {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
        Some(())
    })
    .await;
}

impl<L> Listener for Limited<L>
where
    L: Listener,
    L::Io: Unpin + Send + 'static,
{
    type Io = Counted<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = self.inner.accept().await;
            if let Ok(slot) = self.permits.clone().try_acquire_owned() {
                return (Counted { io, _slot: slot }, addr);
            }
            if let Ok(refusing) = self.refusing.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    let _refusing = refusing;
                    refuse(io).await;
                });
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
