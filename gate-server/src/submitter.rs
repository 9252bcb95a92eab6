//! Receipts from concurrent decisions, submitted together.
//!
//! [`Batcher`] is a [`Ledger`]: each decision's `submit` puts its receipt
//! in a queue and waits for its own acknowledgement. A few worker threads
//! take everything queued (up to [`BatchConfig::max_batch`]) and send it
//! as one `POST /v1/receipts/batch`, or as a plain `POST /v1/receipts`
//! when there is one. Nothing waits to fill a batch: a lone decision is
//! sent at once, and decisions that arrive while a request is in flight
//! go together in the next one. So batching adds no latency when the load
//! is light and saves the ledger a request per receipt when it is not.
//!
//! Every acknowledgement is checked as [`HttpLedger`] checks one (its
//! proof must verify under the log key); a receipt whose caller stopped
//! waiting is not sent (its gate has already failed closed and spooled a
//! SILENCE receipt for it).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use cairn_gate::client::{Acknowledged, HttpLedger, Ledger, LedgerError, MAX_BATCH};

/// Most receipts waiting to be sent; a submission beyond it is refused at
/// once as unavailable (its gate fails closed).
pub const MAX_QUEUED: usize = 4096;

/// How receipts are batched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Most receipts in one request (1 to [`MAX_BATCH`]).
    pub max_batch: usize,
    /// Requests in flight at once (at least 1).
    pub workers: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_batch: 64,
            workers: 2,
        }
    }
}

type Reply = mpsc::SyncSender<Result<Acknowledged, LedgerError>>;

struct Job {
    body: Vec<u8>,
    deadline: Instant,
    reply: Reply,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

struct Shared {
    ledger: HttpLedger,
    config: BatchConfig,
    queue: Mutex<Queue>,
    ready: Condvar,
    requests: AtomicU64,
    receipts: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A worker that panicked cannot leave the queue inconsistent: every
        // change to it is one push or one drain.
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A batching submitter in front of one ledger.
pub struct Batcher {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("config", &self.shared.config)
            .field("requests", &self.requests())
            .field("receipts", &self.receipts())
            .finish_non_exhaustive()
    }
}

impl Batcher {
    /// A submitter for `ledger` whose workers are not started yet
    /// ([`Batcher::spawn_workers`]); [`Batcher::start`] does both.
    pub fn new(ledger: HttpLedger, config: BatchConfig) -> Self {
        let config = BatchConfig {
            max_batch: config.max_batch.clamp(1, MAX_BATCH),
            workers: config.workers.max(1),
        };
        Batcher {
            shared: Arc::new(Shared {
                ledger,
                config,
                queue: Mutex::new(Queue::default()),
                ready: Condvar::new(),
                requests: AtomicU64::new(0),
                receipts: AtomicU64::new(0),
            }),
        }
    }

    /// A submitter for `ledger`, its workers running.
    pub fn start(ledger: HttpLedger, config: BatchConfig) -> std::io::Result<Self> {
        let b = Batcher::new(ledger, config);
        b.spawn_workers()?;
        Ok(b)
    }

    /// Start the worker threads.
    pub fn spawn_workers(&self) -> std::io::Result<()> {
        for i in 0..self.shared.config.workers {
            let shared = self.shared.clone();
            std::thread::Builder::new()
                .name(format!("cairn-submit-{i}"))
                .spawn(move || work(&shared))?;
        }
        Ok(())
    }

    /// Receipts waiting to be sent.
    pub fn queued(&self) -> usize {
        self.shared.lock().jobs.len()
    }

    /// Requests sent to the ledger so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Receipts sent to the ledger so far.
    pub fn receipts(&self) -> u64 {
        self.shared.receipts.load(Ordering::Relaxed)
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

impl Ledger for Batcher {
    fn submit(&self, body: &[u8], deadline: Duration) -> Result<Acknowledged, LedgerError> {
        let (reply, answer) = mpsc::sync_channel(1);
        {
            let mut q = self.shared.lock();
            if q.closed {
                return Err(LedgerError::Unavailable("the gate is shutting down".into()));
            }
            if q.jobs.len() >= MAX_QUEUED {
                return Err(LedgerError::Unavailable(format!(
                    "{MAX_QUEUED} receipts already wait to be sent to the ledger"
                )));
            }
            q.jobs.push_back(Job {
                body: body.to_vec(),
                deadline: Instant::now() + deadline,
                reply,
            });
        }
        self.shared.ready.notify_one();
        answer.recv_timeout(deadline).unwrap_or_else(|e| {
            Err(LedgerError::Unavailable(match e {
                mpsc::RecvTimeoutError::Timeout => format!("no acknowledgement within {} ms", deadline.as_millis()),
                mpsc::RecvTimeoutError::Disconnected => "the submitter stopped".into(),
            }))
        })
    }
}

/// A worker: take what is queued, send it, answer each caller.
fn work(shared: &Shared) {
    loop {
        let jobs: Vec<Job> = {
            let mut q = shared.lock();
            while q.jobs.is_empty() && !q.closed {
                q = shared.ready.wait(q).unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if q.jobs.is_empty() {
                return;
            }
            let n = q.jobs.len().min(shared.config.max_batch);
            q.jobs.drain(..n).collect()
        };
        // Whoever stopped waiting has failed closed already: not sent.
        let now = Instant::now();
        let jobs: Vec<Job> = jobs.into_iter().filter(|j| j.deadline > now).collect();
        let Some(wait) = jobs.iter().map(|j| j.deadline - now).max() else {
            continue;
        };
        shared.requests.fetch_add(1, Ordering::Relaxed);
        shared.receipts.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        if let [job] = jobs.as_slice() {
            let _ = job.reply.try_send(shared.ledger.submit(&job.body, wait));
            continue;
        }
        let bodies: Vec<&[u8]> = jobs.iter().map(|j| j.body.as_slice()).collect();
        match shared.ledger.submit_batch(&bodies, wait) {
            Ok(results) => {
                for (job, r) in jobs.iter().zip(results) {
                    let _ = job.reply.try_send(r);
                }
            }
            Err(e) => {
                for job in &jobs {
                    let _ = job.reply.try_send(Err(e.clone()));
                }
            }
        }
    }
}
