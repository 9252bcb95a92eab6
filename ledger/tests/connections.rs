//! Connection exhaustion (the black-box finding): 2,000 idle and 1,100
//! slowloris connections, from other source addresses, held open against
//! `cairn-ledger serve` while a gate's requests must still be answered; a
//! connection that sends nothing is closed within the header timeout.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::server::{start_with, try_http};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

const IDLE: usize = 2000;
const SLOWLORIS: usize = 1100;
const HEADER_TIMEOUT_MS: u64 = 2000;

/// The soft limit on open files, from /proc (None when unknown).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// A connection from `127.0.0.<host>` (one source per host byte).
async fn connect_from(host: u8, to: SocketAddr) -> Option<TcpStream> {
    let s = TcpSocket::new_v4().ok()?;
    s.bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, host), 0))).ok()?;
    tokio::time::timeout(Duration::from_secs(2), s.connect(to))
        .await
        .ok()?
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slowloris_floods_do_not_lock_out_the_gates() {
    if open_files_limit().is_some_and(|n| n < 8192) {
        eprintln!("skipped: the open-files limit is below 8192 (ulimit -n); this test holds 3,100 sockets");
        return;
    }
    let dir = common::server::TempDir::new("conn-flood");
    let timeout = HEADER_TIMEOUT_MS.to_string();
    let server = start_with(&dir.0, &["--header-timeout-ms", &timeout]);
    let addr: SocketAddr = server.addr.parse().unwrap();

    // 2,000 idle connections from ten sources (127.0.0.2-11): they send nothing.
    let mut idle = Vec::new();
    for k in 0..IDLE {
        let host = 2 + u8::try_from(k % 10).unwrap();
        if let Some(c) = connect_from(host, addr).await {
            idle.push(c);
        }
    }
    // 1,100 slowloris connections from eleven more (127.0.0.12-22): a
    // request head that never ends, one header line every half second.
    let mut slow = tokio::task::JoinSet::new();
    for k in 0..SLOWLORIS {
        let host = 12 + u8::try_from(k % 11).unwrap();
        slow.spawn(async move {
            let Some(mut c) = connect_from(host, addr).await else {
                return;
            };
            if c.write_all(b"POST /v1/receipts HTTP/1.1\r\nHost: x\r\n").await.is_err() {
                return;
            }
            for n in 0u32.. {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if c.write_all(format!("X-Slow-{n}: 1\r\n").as_bytes()).await.is_err() {
                    return; // closed by the server
                }
            }
        });
    }
    let held = idle.len();
    assert!(held >= 1000, "only {held} idle connections could be opened");

    // A gate (127.0.0.1) is served while the floods are held open. While
    // the flood holds every slot, a new connection is answered 503 busy
    // with Retry-After, or closed, at once (never left waiting); the gate
    // retries, as
    // its spool does, and is served as soon as the server has closed the
    // flood's connections (within the header timeout).
    let started = Instant::now();
    let a = server.addr.clone();
    let (served, busy) = tokio::task::spawn_blocking(move || {
        let (mut served, mut busy) = (0, 0);
        let deadline = Instant::now() + Duration::from_millis(HEADER_TIMEOUT_MS + 10_000);
        while served < 20 && Instant::now() < deadline {
            match try_http(&a, "GET", "/v1/checkpoints?from=0", b"", false) {
                Some((200, _)) => served += 1,
                // 503 busy, or closed at once while more connections than
                // the server answers are beyond its cap: both say "retry".
                Some((503, _)) | None => {
                    busy += 1;
                    std::thread::sleep(Duration::from_millis(200));
                }
                other => panic!("a gate's request got {other:?}"),
            }
        }
        (served, busy)
    })
    .await
    .unwrap();
    assert_eq!(
        served, 20,
        "a gate's requests were not served while the flood was held open"
    );
    eprintln!(
        "{held} idle and {SLOWLORIS} slowloris connections held; 20 requests served in {:?} ({busy} answered 503 busy or closed first)",
        started.elapsed()
    );

    // Idle connections are closed by the server within the header timeout.
    for c in idle.iter_mut().take(50) {
        let mut b = [0u8; 1];
        let r = tokio::time::timeout(Duration::from_millis(HEADER_TIMEOUT_MS + 5000), c.read(&mut b)).await;
        assert!(
            matches!(r, Ok(Ok(0)) | Ok(Err(_))),
            "an idle connection was not closed: {r:?}"
        );
    }
    slow.abort_all();
    drop(server);
}

/// A connection beyond the global cap is answered 503 `busy` with
/// Retry-After at once, not left in the kernel's accept queue behind
/// connections that are kept alive; a slot freed serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_beyond_the_cap_is_answered_busy_at_once() {
    let dir = common::server::TempDir::new("conn-cap");
    let server = start_with(&dir.0, &["--max-connections", "8", "--header-timeout-ms", "60000"]);
    let addr: SocketAddr = server.addr.parse().unwrap();
    // Eight connections kept alive (each made one request) hold every slot.
    let mut held = Vec::new();
    for k in 0..8u8 {
        let mut c = connect_from(2 + k, addr).await.expect("connect");
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut b = [0u8; 512];
        let n = c.read(&mut b).await.unwrap();
        assert!(
            b[..n].starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&b[..n])
        );
        held.push(c);
    }
    // The ninth: a receipt POST, answered 503 busy within the refusal deadline.
    let started = Instant::now();
    let mut c = connect_from(20, addr).await.expect("connect");
    let body = vec![0xa0u8; 1300];
    c.write_all(
        format!(
            "POST /v1/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/cose\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    c.write_all(&body).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut answer))
        .await
        .expect("answered and closed, not left waiting")
        .expect("read without a reset");
    let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 503"), "{text}");
    assert!(
        text.contains("retry-after: 1") && text.contains("connection: close"),
        "{text}"
    );
    assert!(text.contains("/problems/busy"), "{text}");
    eprintln!("answered 503 busy in {:?}", started.elapsed());
    // A slot freed: served again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let a = server.addr.clone();
    let ok = tokio::task::spawn_blocking(move || try_http(&a, "GET", "/healthz", b"", false))
        .await
        .unwrap();
    assert_eq!(ok.map(|(s, _)| s), Some(200));
}
