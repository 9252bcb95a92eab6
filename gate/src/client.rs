//! The gate's side of the ledger's write API: submit a signed receipt with a
//! deadline, and believe the acknowledgement only when its tlog-proof
//! verifies under the log key the gate was configured with.
//!
//! Blocking (ureq): a gate calls this on the path of one tool call and
//! waits for the answer or the deadline, whichever comes first.

use std::time::Duration;

use cairn_api::entry::Entry;
use cairn_api::keys::VerifierKey;
use cairn_api::note::Checkpoint;
use cairn_api::proof::TlogProof;
use cairn_api::receipt::SignedReceipt;
use cairn_api::wire::{Ack, BatchResponse, Problem, ProblemType};

/// Largest acknowledgement read from a ledger, in bytes (a batch answer
/// of [`MAX_BATCH`] acknowledgements fits).
pub const MAX_ACK_BYTES: u64 = 4 * 1024 * 1024;
/// Most receipts [`HttpLedger::submit_batch`] sends in one request (the
/// ledger's default limit, `CAIRN_MAX_BATCH`, is 256).
pub const MAX_BATCH: usize = 256;

/// A durable acknowledgement, checked.
#[derive(Debug, Clone)]
pub struct Acknowledged {
    /// The entry's index.
    pub index: u64,
    /// True when the ledger already had it (a retry, or the same idempotency key).
    pub existing: bool,
    /// The proof bundle: index, inclusion proof, signed checkpoint.
    pub proof: TlogProof,
    /// When the ledger answered a retry with the entry it already had for
    /// the same (gate, idempotency key): that entry's body (the receipt the
    /// gate signed the first time), proven included.
    pub original: Option<Vec<u8>>,
    /// Present when the ledger logged the receipt late (docs/spec.md 20.1):
    /// its `integrated_at` minus its `decided_at`, in milliseconds.
    pub late_by_ms: Option<u64>,
}

/// Why a submission has no acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// No answer in time, no connection, or a server-side failure (5xx,
    /// 503 with a full queue): the receipt may or may not be logged; retry
    /// with the same idempotency key.
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    /// The ledger refused the submission (4xx): retrying the same bytes
    /// will not help.
    #[error("ledger refused the submission: HTTP {status} {}: {detail}", problem.map_or("(no problem type)", ProblemType::slug))]
    Refused {
        /// The status.
        status: u16,
        /// The problem type, when the answer named one of cairn's.
        problem: Option<ProblemType>,
        /// The problem detail.
        detail: String,
    },
    /// The ledger answered, but its answer does not prove the receipt is
    /// logged (bad JSON, a proof that does not verify): treated as no
    /// acknowledgement at all.
    #[error("the ledger's acknowledgement does not hold: {0}")]
    BadAcknowledgement(String),
}

/// Somewhere receipts can be submitted.
pub trait Ledger: Send + Sync {
    /// Submit one COSE_Sign1 receipt; answer within `deadline`.
    fn submit(&self, body: &[u8], deadline: Duration) -> Result<Acknowledged, LedgerError>;
}

/// The header a ledger instance that does not write names the writing
/// instance in (docs/spec.md 20).
pub const LEADER_HEADER: &str = "cairn-leader";

/// A ledger's HTTP API, for the calls that need no proof (admin POSTs).
///
/// It may name several instances of one log (sharing one database, one of
/// them writing: docs/operations.md, "Running cairn highly available"). A
/// request goes to the instance that answered last; when that one cannot
/// be reached or answers 502, 503 or 504, the request goes to the next one
/// within the same deadline, or straight to the one a `not-leader` answer
/// names. Every submission is idempotent, so sending it again to another
/// instance is safe.
#[derive(Debug, Clone)]
pub struct Http {
    bases: std::sync::Arc<[String]>,
    current: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    agent: ureq::Agent,
}

/// One answer: the status, a bounded body, and the leader hint.
struct Answer {
    status: u16,
    body: Vec<u8>,
    leader: Option<String>,
}

impl Http {
    /// A client for the ledger at `base`: one URL, or several instances of
    /// the same log separated by commas.
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut bases: Vec<String> = base
            .split(',')
            .map(|b| b.trim().trim_end_matches('/').to_owned())
            .filter(|b| !b.is_empty())
            .collect();
        if bases.is_empty() {
            bases.push(base.trim_end_matches('/').to_owned());
        }
        Http {
            bases: bases.into(),
            current: std::sync::Arc::default(),
            agent,
        }
    }

    /// The base URL requests go to now.
    pub fn base(&self) -> &str {
        let i = self.current.load(std::sync::atomic::Ordering::Relaxed);
        self.bases
            .get(i)
            .or_else(|| self.bases.first())
            .map_or("", String::as_str)
    }

    /// Every instance this client knows, in the order given.
    pub fn bases(&self) -> &[String] {
        &self.bases
    }

    /// Send `call` to the instances in turn (see [`Http`]) within `deadline`.
    fn each(
        &self,
        path: &str,
        deadline: Duration,
        call: impl Fn(&str, Duration) -> Result<Answer, String>,
    ) -> Result<(u16, Vec<u8>), LedgerError> {
        use std::sync::atomic::Ordering;
        let until = std::time::Instant::now() + deadline;
        let n = self.bases.len();
        let mut at = self.current.load(Ordering::Relaxed) % n.max(1);
        let mut failures = Vec::new();
        for attempt in 0..n {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if attempt > 0 && left.is_zero() {
                break;
            }
            let base = &self.bases[at];
            let next = (at + 1) % n;
            match call(base, left) {
                Ok(a) if matches!(a.status, 502..=504) && attempt + 1 < n => {
                    failures.push(format!("{base}{path}: HTTP {}", a.status));
                    // A follower names the writer: go there next.
                    at = a
                        .leader
                        .as_deref()
                        .map(|l| l.trim_end_matches('/'))
                        .and_then(|l| self.bases.iter().position(|b| b == l))
                        .filter(|&i| i != at)
                        .unwrap_or(next);
                }
                Ok(a) => {
                    self.current.store(at, Ordering::Relaxed);
                    return Ok((a.status, a.body));
                }
                Err(e) => {
                    failures.push(e);
                    at = next;
                }
            }
        }
        Err(LedgerError::Unavailable(failures.join("; ")))
    }

    /// POST `body` to `path` with `content_type`; the status and a bounded body.
    pub fn post(
        &self,
        path: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        deadline: Duration,
    ) -> Result<(u16, Vec<u8>), LedgerError> {
        self.each(path, deadline, |base, left| {
            let url = format!("{base}{path}");
            let mut req = self
                .agent
                .post(&url)
                .config()
                .timeout_global(Some(left))
                .build()
                .header("Content-Type", content_type);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let resp = req.send(body).map_err(|e| format!("{url}: {e}"))?;
            read_answer(resp, MAX_ACK_BYTES).map_err(|e| format!("{url}: {e}"))
        })
    }

    /// GET `path`; the status and a body of at most `limit` bytes.
    pub fn get(&self, path: &str, limit: u64, deadline: Duration) -> Result<(u16, Vec<u8>), LedgerError> {
        self.each(path, deadline, |base, left| {
            let url = format!("{base}{path}");
            let resp = self
                .agent
                .get(&url)
                .config()
                .timeout_global(Some(left))
                .build()
                .call()
                .map_err(|e| format!("{url}: {e}"))?;
            read_answer(resp, limit).map_err(|e| format!("{url}: {e}"))
        })
    }
}

fn read_answer(mut resp: ureq::http::Response<ureq::Body>, limit: u64) -> Result<Answer, ureq::Error> {
    let status = resp.status().as_u16();
    let leader = resp
        .headers()
        .get(LEADER_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.body_mut().with_config().limit(limit).read_to_vec()?;
    Ok(Answer { status, body, leader })
}

/// A ledger over HTTP(S) whose acknowledgements are proven under its log key.
#[derive(Debug, Clone)]
pub struct HttpLedger {
    http: Http,
    log_key: VerifierKey,
}

impl HttpLedger {
    /// A client for the ledger at `base` whose checkpoints `log_key` signs.
    pub fn new(base: &str, log_key: VerifierKey) -> Self {
        HttpLedger {
            http: Http::new(base),
            log_key,
        }
    }

    /// The plain HTTP client.
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// Fetch the entry a retry was answered with and prove it: included
    /// under the log key, signed by the same gate, same idempotency key.
    fn original(&self, body: &[u8], proof: TlogProof, deadline: Duration) -> Result<Acknowledged, LedgerError> {
        let bad = |m: String| LedgerError::BadAcknowledgement(m);
        let path = format!("/v1/entries/{}", proof.index);
        let (status, bytes) = self
            .http
            .get(&path, cairn_api::entry::MAX_ENTRY_BYTES as u64, deadline)?;
        if status != 200 {
            return Err(LedgerError::Unavailable(format!("{path}: HTTP {status}")));
        }
        let entry = Entry::from_cbor(&bytes).map_err(|e| bad(format!("entry {}: {e}", proof.index)))?;
        proof
            .verify(&entry.leaf_hash(), &self.log_key, &[])
            .map_err(|e| bad(format!("the original's proof does not verify: {e}")))?;
        let first = entry
            .receipt()
            .map_err(|e| bad(format!("the original is not a receipt: {e}")))?;
        let ours = SignedReceipt::parse(body).map_err(|e| bad(e.to_string()))?;
        let (a, b) = (first.unverified().parts(), ours.unverified().parts());
        if first.kid() != ours.kid() || a.idempotency_key != b.idempotency_key {
            return Err(bad(
                "the ledger answered with another gate's or another key's receipt".into()
            ));
        }
        Ok(Acknowledged {
            index: proof.index,
            existing: true,
            proof,
            original: Some(entry.body().to_vec()),
            late_by_ms: None,
        })
    }
}

/// Who signed a checkpoint, for messages: `signed by NAME+KEYID, ...`.
pub fn signed_by(note: &cairn_api::note::SignedNote) -> String {
    let who: Vec<String> = note
        .signatures()
        .iter()
        .map(|s| format!("{}+{:08x}", s.name, s.key_id))
        .collect();
    if who.is_empty() {
        "it carries no signature".into()
    } else {
        format!("it is signed by {}", who.join(", "))
    }
}

/// Turn a non-2xx answer into the error it means: a 5xx, 408 or 429 is
/// the ledger being unavailable (retry later, idempotently); any other is
/// a refusal.
pub fn problem(status: u16, body: &[u8]) -> LedgerError {
    let p: Option<Problem> = serde_json::from_slice(body).ok();
    let detail = p
        .as_ref()
        .map_or_else(|| "(no problem details)".to_owned(), |p| p.detail.clone());
    if status >= 500 || status == 408 || status == 429 {
        LedgerError::Unavailable(format!("HTTP {status}: {detail}"))
    } else {
        LedgerError::Refused {
            status,
            problem: p.as_ref().and_then(Problem::problem_type),
            detail,
        }
    }
}

impl HttpLedger {
    /// Believe `ack` for `body` only when its proof verifies under the log
    /// key (or, for a retry answered with the first receipt, when that
    /// receipt is proven and is the same gate's for the same key).
    ///
    /// `verified` remembers the last checkpoint whose signature verified,
    /// so that the acknowledgements of one batch, which share their
    /// checkpoint, verify its signature once; each inclusion proof is
    /// still checked against it.
    fn check(
        &self,
        body: &[u8],
        status: u16,
        ack: Ack,
        deadline: Duration,
        verified: &mut Option<(String, Checkpoint)>,
    ) -> Result<Acknowledged, LedgerError> {
        let proof =
            TlogProof::parse(ack.tlog_proof.as_bytes()).map_err(|e| LedgerError::BadAcknowledgement(e.to_string()))?;
        let existing = ack.existing;
        let note = proof.checkpoint.to_text();
        let holds = match verified.as_ref().filter(|(text, _)| *text == note) {
            Some((_, cp)) => proof
                .entry_for(body)
                .and_then(|e| proof.verify_inclusion_under(&e.leaf_hash(), cp)),
            None => proof.verify_body(body, &self.log_key, &[]).map(|(_, cp, _)| {
                *verified = Some((note, cp));
            }),
        };
        match holds {
            Ok(()) => Ok(Acknowledged {
                index: proof.index,
                existing,
                proof,
                original: None,
                late_by_ms: ack.late_by_ms,
            }),
            // A retry under the same idempotency key: the ledger answers with
            // the first receipt, whose bytes differ (another clock, another id).
            Err(_) if status == 200 && existing => self.original(body, proof, deadline).map(|a| Acknowledged {
                late_by_ms: ack.late_by_ms,
                ..a
            }),
            Err(e) => Err(LedgerError::BadAcknowledgement(format!(
                "the proof does not verify: {e} (expected a checkpoint signed by the log key {}; {})",
                self.log_key.key_ref(),
                signed_by(&proof.checkpoint)
            ))),
        }
    }

    /// Submit several receipts in one `POST /v1/receipts/batch` (at most
    /// [`MAX_BATCH`]): one result per body, in order, each checked as
    /// [`Ledger::submit`] checks one. `Err` when the batch as a whole has no
    /// answer (then none of them is acknowledged).
    pub fn submit_batch(
        &self,
        bodies: &[&[u8]],
        deadline: Duration,
    ) -> Result<Vec<Result<Acknowledged, LedgerError>>, LedgerError> {
        use cairn_api::cbor::CBOR;
        if bodies.is_empty() || bodies.len() > MAX_BATCH {
            return Err(LedgerError::Unavailable(format!(
                "a batch holds 1 to {MAX_BATCH} receipts, not {}",
                bodies.len()
            )));
        }
        let array = CBOR::from(bodies.iter().map(|b| CBOR::to_byte_string(*b)).collect::<Vec<_>>());
        let payload = cairn_api::cbor::encode(&array);
        let (status, bytes) = self
            .http
            .post("/v1/receipts/batch", "application/cbor", &[], &payload, deadline)?;
        if status != 200 {
            return Err(problem(status, &bytes));
        }
        let answer: BatchResponse = serde_json::from_slice(&bytes)
            .map_err(|e| LedgerError::BadAcknowledgement(format!("not a batch answer: {e}")))?;
        if answer.results.len() != bodies.len() {
            return Err(LedgerError::BadAcknowledgement(format!(
                "the batch answer has {} results for {} receipts",
                answer.results.len(),
                bodies.len()
            )));
        }
        let mut verified = None;
        Ok(bodies
            .iter()
            .zip(answer.results)
            .map(|(body, r)| match (r.status, r.ack, r.problem) {
                (200 | 201, Some(ack), _) => self.check(body, r.status, ack, deadline, &mut verified),
                (200 | 201, None, _) => Err(LedgerError::BadAcknowledgement(
                    "a batch item answered 2xx without an acknowledgement".into(),
                )),
                (status, _, p) => Err(problem(
                    status,
                    &p.and_then(|p| serde_json::to_vec(&p).ok()).unwrap_or_default(),
                )),
            })
            .collect())
    }
}

impl Ledger for HttpLedger {
    fn submit(&self, body: &[u8], deadline: Duration) -> Result<Acknowledged, LedgerError> {
        let (status, bytes) = self
            .http
            .post("/v1/receipts", "application/cose", &[], body, deadline)?;
        if status != 200 && status != 201 {
            return Err(problem(status, &bytes));
        }
        let ack: Ack = serde_json::from_slice(&bytes)
            .map_err(|e| LedgerError::BadAcknowledgement(format!("not an acknowledgement: {e}")))?;
        self.check(body, status, ack, deadline, &mut None)
    }
}
