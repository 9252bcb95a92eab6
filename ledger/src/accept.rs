//! The accept loop: the router served over a listener with the connection
//! rules that keep a flood of idle or slow clients from holding every
//! connection slot (the black-box finding: 1,100 idle or slowloris
//! connections blocked every gate).
//!
//! - **Header-read timeout**: a request's head must arrive within
//!   [`ConnRules::header_timeout`] of the moment the connection is ready
//!   for it, which is also the idle keep-alive timeout (hyper starts the
//!   timer when it waits for the next request). A connection that sends
//!   nothing, or trickles its head, is closed within seconds. The body has
//!   its own deadline (`http.body_deadline_ms`).
//! - **Per-source cap**: at most [`ConnRules::per_source`] connections from
//!   one IP address; one more is closed at once instead of waiting in the
//!   kernel's queue in front of everyone else.
//! - The global cap is [`crate::conn::Limited`] around the listener.
//! - **Listen backlog** [`LISTEN_BACKLOG`] (the kernel caps it at
//!   `net.core.somaxconn`): a herd of gates reconnecting after an outage
//!   waits in the kernel's queue instead of having its SYNs dropped and
//!   retried a second, then three, then seven seconds later.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::serve::Listener;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};

/// The default [`ConnRules::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`ConnRules::per_source`].
pub const DEFAULT_MAX_PER_SOURCE: usize = 256;
/// The listen backlog asked for (tokio's `TcpListener::bind` asks for 1,024).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Listen on `addr` with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as
/// tokio's `TcpListener::bind` sets on Unix).
pub fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// How connections are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnRules {
    /// The longest a connection may take to send a request's head, from
    /// when it is ready for one (so also the idle keep-alive timeout).
    pub header_timeout: Duration,
    /// Most connections open at once from one IP address.
    pub per_source: usize,
}

impl Default for ConnRules {
    fn default() -> Self {
        ConnRules {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            per_source: DEFAULT_MAX_PER_SOURCE,
        }
    }
}

/// Open connections by source address.
#[derive(Debug, Default)]
struct Sources(Mutex<HashMap<IpAddr, usize>>);

/// One open connection of a source; counted down when dropped.
struct Slot {
    sources: Arc<Sources>,
    ip: IpAddr,
}

impl Sources {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut m = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = m.entry(ip).or_insert(0);
        if *n >= max.max(1) {
            return None;
        }
        *n += 1;
        Some(Slot {
            sources: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut m = self.sources.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Serve `app` on `listener` until `shutdown`, then let the requests in
/// flight finish (each connection is shut down gracefully) and return.
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    rules: ConnRules,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
    L::Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let sources = Arc::new(Sources::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            c = listener.accept() => c,
            () = &mut shutdown => break,
        };
        while conns.try_join_next().is_some() {}
        let Some(slot) = sources.take(peer.ip(), rules.per_source) else {
            tracing::debug!(%peer, per_source = rules.per_source, "connection refused: too many from this source");
            drop(io);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        conns.spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(rules.header_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(io), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "connection closed");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while conns.join_next().await.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_holds_at_most_its_share_and_gets_it_back() {
        let s = Arc::new(Sources::default());
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        let a = s.take(ip, 2).unwrap();
        let _b = s.take(ip, 2).unwrap();
        assert!(s.take(ip, 2).is_none());
        assert!(s.take("127.0.0.3".parse().unwrap(), 2).is_some());
        drop(a);
        assert!(s.take(ip, 2).is_some());
    }
}
