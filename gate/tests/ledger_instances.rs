//! A gate configured with several instances of one log: a request goes to
//! the next instance when one does not answer or answers 503, straight to
//! the leader a `not-leader` answer names, and stays with the instance that
//! answered.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cairn_gate::client::Http;

/// A server answering every request with `status` (and `extra` headers),
/// counting the requests.
fn server(status: &'static str, extra: String) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            h.fetch_add(1, Ordering::SeqCst);
            let body = status;
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, hits)
}

/// A URL nothing listens on.
fn nobody() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", l.local_addr().unwrap())
}

#[test]
fn requests_go_on_to_the_instance_that_writes() {
    let (leader, leader_hits) = server("201 Created", String::new());
    let (busy, busy_hits) = server("503 Service Unavailable", String::new());
    let (follower, follower_hits) = server("503 Service Unavailable", format!("cairn-leader: {leader}\r\n"));
    // Down, then a follower naming the leader: the leader is asked next,
    // not the busy instance listed between them.
    let http = Http::new(&format!("{},{follower},{busy},{leader}", nobody()));
    let (status, body) = http
        .post("/v1/receipts", "application/cose", &[], b"x", Duration::from_secs(5))
        .unwrap();
    assert_eq!((status, body.as_slice()), (201, b"201 Created".as_slice()));
    assert_eq!(follower_hits.load(Ordering::SeqCst), 1);
    assert_eq!(busy_hits.load(Ordering::SeqCst), 0, "the leader hint is followed");
    assert_eq!(http.base(), leader);
    // The next request goes straight to the instance that answered.
    http.post("/v1/receipts", "application/cose", &[], b"y", Duration::from_secs(5))
        .unwrap();
    assert_eq!(leader_hits.load(Ordering::SeqCst), 2);
    assert_eq!(follower_hits.load(Ordering::SeqCst), 1);
}

#[test]
fn every_instance_refusing_is_unavailable_naming_each() {
    let (busy, _) = server("503 Service Unavailable", String::new());
    let down = nobody();
    let http = Http::new(&format!("{down}, {busy}/"));
    let (status, _) = http.get("/v1/checkpoint", 1024, Duration::from_secs(5)).unwrap();
    // The last instance's answer is the answer: a 503 the caller sees.
    assert_eq!(status, 503);
    let e = Http::new(&format!("{down},{}", nobody()))
        .get("/v1/checkpoint", 1024, Duration::from_secs(5))
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains(&down), "{text}");
    assert!(matches!(e, cairn_gate::client::LedgerError::Unavailable(_)));
}

#[test]
fn one_url_behaves_as_before() {
    let (only, hits) = server("503 Service Unavailable", String::new());
    let http = Http::new(&format!("{only}/"));
    assert_eq!(http.bases(), std::slice::from_ref(&only));
    let (status, _) = http
        .post("/v1/receipts", "application/cose", &[], b"x", Duration::from_secs(5))
        .unwrap();
    assert_eq!(status, 503);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}
