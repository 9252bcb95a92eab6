//! Human approval: when the policy permits an action only with an
//! APPROVED approval, the gate asks an [`Approver`] and waits at most a
//! deadline. No answer in time is TIMED_OUT, which denies.

use std::io::{BufRead, Write};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use cairn_api::receipt::{ApprovalOutcome, Approver as ApproverId};
use cairn_api::timestamp::Timestamp;
use serde_json::json;

/// Largest webhook answer read, in bytes.
pub const MAX_WEBHOOK_ANSWER: u64 = 64 * 1024;

/// What an approver is shown and asked.
#[derive(Debug, Clone)]
pub struct ApprovalRequest {
    /// The request's id (also in the receipt).
    pub request_id: String,
    /// The CIBA binding message ("Approve delete_database on postgres:prod?").
    pub binding_message: String,
    /// The exact tool arguments.
    pub arguments: serde_json::Value,
    /// When the gate asked.
    pub requested_at: Timestamp,
    /// When the request expires.
    pub expires_at: Timestamp,
}

/// The approver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalAnswer {
    /// APPROVED, DENIED or TIMED_OUT.
    pub outcome: ApprovalOutcome,
    /// Who answered, when someone did.
    pub approver: Option<ApproverId>,
}

impl ApprovalAnswer {
    /// No answer in time.
    pub fn timed_out() -> Self {
        ApprovalAnswer {
            outcome: ApprovalOutcome::TimedOut,
            approver: None,
        }
    }
}

/// Someone (or something) who can approve.
pub trait Approver: Send + Sync {
    /// The channel name recorded in receipts (`terminal`, `webhook`, ...).
    fn channel(&self) -> &str;
    /// Ask, and answer within `deadline` (TIMED_OUT when there is no answer).
    fn ask(&self, request: &ApprovalRequest, deadline: Duration) -> ApprovalAnswer;
}

/// Asks on a terminal: shows the binding message and the exact arguments,
/// reads `y` or `n`. Lines come from a reader thread, so a deadline holds
/// even when nobody types.
pub struct TerminalApprover {
    lines: Mutex<Receiver<String>>,
    out: Mutex<Box<dyn Write + Send>>,
    who: String,
}

impl std::fmt::Debug for TerminalApprover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalApprover")
            .field("who", &self.who)
            .finish_non_exhaustive()
    }
}

impl TerminalApprover {
    /// Read answers from `input`, show requests on `output`; `who` is the
    /// approver's identity recorded in receipts.
    pub fn new(input: Box<dyn BufRead + Send>, output: Box<dyn Write + Send>, who: &str) -> Self {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in input.lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        TerminalApprover {
            lines: Mutex::new(rx),
            out: Mutex::new(output),
            who: who.to_owned(),
        }
    }

    /// On this process's stdin and stderr, as `$USER`.
    pub fn stdio() -> Self {
        let who = std::env::var("USER").unwrap_or_else(|_| "operator".into());
        Self::new(
            Box::new(std::io::BufReader::new(std::io::stdin())),
            Box::new(std::io::stderr()),
            &who,
        )
    }
}

impl Approver for TerminalApprover {
    fn channel(&self) -> &str {
        "terminal"
    }

    fn ask(&self, request: &ApprovalRequest, deadline: Duration) -> ApprovalAnswer {
        if let Ok(mut out) = self.out.lock() {
            let arguments = match &request.arguments {
                serde_json::Value::Null => "(none)".to_owned(),
                serde_json::Value::Object(m) if m.is_empty() => "(none)".to_owned(),
                other => other.to_string(),
            };
            let _ = writeln!(
                out,
                "\n[approval {}] {}\n  arguments: {arguments}\n  approve? [y/n] (within {} s) ",
                request.request_id,
                request.binding_message,
                deadline.as_secs()
            );
            let _ = out.flush();
        }
        let Ok(lines) = self.lines.lock() else {
            return ApprovalAnswer::timed_out();
        };
        // Answers typed before the question do not count.
        while lines.try_recv().is_ok() {}
        let end = Instant::now() + deadline;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(l) => {
                    let outcome = match l.trim().to_ascii_lowercase().as_str() {
                        "y" | "yes" => ApprovalOutcome::Approved,
                        "n" | "no" => ApprovalOutcome::Denied,
                        _ => continue,
                    };
                    return ApprovalAnswer {
                        outcome,
                        approver: Some(ApproverId {
                            iss: "terminal".into(),
                            sub: self.who.clone(),
                        }),
                    };
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return ApprovalAnswer::timed_out(),
            }
        }
    }
}

/// Asks a webhook: POSTs the request as JSON and expects, within the
/// deadline, `{"outcome": "APPROVED"|"DENIED", "approver": {"iss", "sub"}}`.
/// Anything else (an error, a timeout, another answer) is TIMED_OUT.
#[derive(Debug)]
pub struct WebhookApprover {
    url: String,
    agent: ureq::Agent,
}

impl WebhookApprover {
    /// POST approval requests to `url`.
    pub fn new(url: &str) -> Self {
        WebhookApprover {
            url: url.to_owned(),
            agent: ureq::Agent::config_builder().http_status_as_error(false).build().into(),
        }
    }
}

impl Approver for WebhookApprover {
    fn channel(&self) -> &str {
        "webhook"
    }

    fn ask(&self, r: &ApprovalRequest, deadline: Duration) -> ApprovalAnswer {
        let body = json!({
            "request_id": r.request_id,
            "binding_message": r.binding_message,
            "arguments": r.arguments,
            "requested_at": r.requested_at.to_rfc3339(),
            "expires_at": r.expires_at.to_rfc3339(),
        });
        let Ok(mut resp) = self
            .agent
            .post(&self.url)
            .config()
            .timeout_global(Some(deadline))
            .build()
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes())
        else {
            return ApprovalAnswer::timed_out();
        };
        if resp.status().as_u16() != 200 {
            return ApprovalAnswer::timed_out();
        }
        let Ok(bytes) = resp.body_mut().with_config().limit(MAX_WEBHOOK_ANSWER).read_to_vec() else {
            return ApprovalAnswer::timed_out();
        };
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let outcome = match v["outcome"].as_str() {
            Some("APPROVED") => ApprovalOutcome::Approved,
            Some("DENIED") => ApprovalOutcome::Denied,
            _ => return ApprovalAnswer::timed_out(),
        };
        let approver = match (v["approver"]["iss"].as_str(), v["approver"]["sub"].as_str()) {
            (Some(iss), Some(sub)) if !iss.is_empty() && !sub.is_empty() => Some(ApproverId {
                iss: iss.into(),
                sub: sub.into(),
            }),
            _ => return ApprovalAnswer::timed_out(),
        };
        ApprovalAnswer { outcome, approver }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn request() -> ApprovalRequest {
        ApprovalRequest {
            request_id: "req-1".into(),
            binding_message: "Approve drop_database on postgres:prod?".into(),
            arguments: json!({"database": "prod"}),
            requested_at: Timestamp::from_millis(1_000).unwrap(),
            expires_at: Timestamp::from_millis(61_000).unwrap(),
        }
    }

    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_terminal_shows_the_arguments_and_reads_the_answer() {
        let out = Shared::default();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        // A reader that yields lines as the test sends them.
        struct Lines(Receiver<String>, Vec<u8>);
        impl std::io::Read for Lines {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.1.is_empty() {
                    match self.0.recv() {
                        Ok(l) => self.1 = format!("{l}\n").into_bytes(),
                        Err(_) => return Ok(0),
                    }
                }
                let n = buf.len().min(self.1.len());
                buf[..n].copy_from_slice(&self.1[..n]);
                self.1.drain(..n);
                Ok(n)
            }
        }
        let t = TerminalApprover::new(
            Box::new(std::io::BufReader::new(Lines(rx, Vec::new()))),
            Box::new(out.clone()),
            "alice",
        );
        let asker = std::thread::spawn(move || t.ask(&request(), Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(100));
        tx.send("maybe".into()).unwrap();
        tx.send("y".into()).unwrap();
        let a = asker.join().unwrap();
        assert_eq!(a.outcome, ApprovalOutcome::Approved);
        assert_eq!(a.approver.unwrap().sub, "alice");
        let shown = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(shown.contains("Approve drop_database on postgres:prod?"));
        assert!(shown.contains("{\"database\":\"prod\"}"));
        // A call without arguments says so, not "null".
        let out = Shared::default();
        let t = TerminalApprover::new(Box::new(Cursor::new(b"n\n".to_vec())), Box::new(out.clone()), "alice");
        let mut r = request();
        r.arguments = serde_json::Value::Null;
        assert_eq!(t.ask(&r, Duration::from_secs(10)).outcome, ApprovalOutcome::Denied);
        let shown = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(
            shown.contains("arguments: (none)") && !shown.contains("null"),
            "{shown}"
        );
    }

    #[test]
    fn silence_and_a_closed_input_time_out() {
        let t = TerminalApprover::new(Box::new(Cursor::new(Vec::new())), Box::new(std::io::sink()), "bob");
        assert_eq!(
            t.ask(&request(), Duration::from_millis(50)),
            ApprovalAnswer::timed_out()
        );
        let (_tx, rx) = std::sync::mpsc::channel::<String>();
        struct Never(Receiver<String>);
        impl std::io::Read for Never {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                let _ = self.0.recv();
                Ok(0)
            }
        }
        let t = TerminalApprover::new(
            Box::new(std::io::BufReader::new(Never(rx))),
            Box::new(std::io::sink()),
            "bob",
        );
        let started = Instant::now();
        assert_eq!(
            t.ask(&request(), Duration::from_millis(200)).outcome,
            ApprovalOutcome::TimedOut
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    /// A webhook that answers every request with `answer`; what it was sent.
    fn webhook(answer: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
        use std::io::Read as _;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/approve", l.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let mut s = s.unwrap();
                // The whole request: headers, then Content-Length bytes of body.
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                let complete = |r: &[u8]| {
                    let Some(end) = r.windows(4).position(|w| w == b"\r\n\r\n") else {
                        return false;
                    };
                    let head = String::from_utf8_lossy(&r[..end]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    r.len() >= end + 4 + len
                };
                while !complete(&req) {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&req).into_owned());
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        (url, rx)
    }

    #[test]
    fn a_webhook_answer_is_taken_only_when_complete() {
        let (url, sent) = webhook(r#"{"outcome":"APPROVED","approver":{"iss":"https://idp.example","sub":"carol"}}"#);
        let a = WebhookApprover::new(&url).ask(&request(), Duration::from_secs(5));
        assert_eq!(a.outcome, ApprovalOutcome::Approved);
        assert_eq!(a.approver.unwrap().sub, "carol");
        let req = sent.recv().unwrap();
        assert!(req.contains("Approve drop_database on postgres:prod?") && req.contains("\"database\":\"prod\""));
        let (url, _) = webhook(r#"{"outcome":"DENIED","approver":{"iss":"i","sub":"dave"}}"#);
        assert_eq!(
            WebhookApprover::new(&url)
                .ask(&request(), Duration::from_secs(5))
                .outcome,
            ApprovalOutcome::Denied
        );
        // An approval without an approver, or a made-up outcome: not an answer.
        for answer in [r#"{"outcome":"APPROVED"}"#, r#"{"outcome":"SURE"}"#, "not json"] {
            let (url, _) = webhook(answer);
            assert_eq!(
                WebhookApprover::new(&url).ask(&request(), Duration::from_secs(5)),
                ApprovalAnswer::timed_out(),
                "{answer}"
            );
        }
    }

    #[test]
    fn an_unreachable_webhook_times_out() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/approve", l.local_addr().unwrap());
        drop(l);
        let w = WebhookApprover::new(&url);
        assert_eq!(
            w.ask(&request(), Duration::from_millis(500)),
            ApprovalAnswer::timed_out()
        );
    }
}
