//! The spool: signed receipts the ledger has not acknowledged yet, kept on
//! disk so that no evidence is lost when the ledger is down, and delivered
//! (same bytes, so the same idempotency key) when it is back. Survives gate
//! restarts: each receipt is one file, written to a temporary name, synced
//! and renamed, and removed only after a durable acknowledgement.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_api::cose::MAX_COSE_BYTES;

use crate::client::{Ledger, LedgerError};

/// The most receipts a spool holds; beyond it the gate refuses to spool
/// (and so refuses actions) rather than fill the disk.
pub const MAX_SPOOLED: usize = 100_000;
/// The file suffix of a spooled receipt.
const SUFFIX: &str = ".cose";

/// The spool could not be used: the gate host's disk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// A file operation failed.
    #[error("spool {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A spooled file could not be read within its bound.
    #[error("spool: {0}")]
    Read(#[from] cairn_host::file::ReadError),
    /// The spool holds [`MAX_SPOOLED`] receipts already.
    #[error("the spool is full ({MAX_SPOOLED} receipts)")]
    Full,
}

/// What a delivery round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Acknowledged and removed.
    pub delivered: usize,
    /// Refused by the ledger for good, moved aside to `rejected/` (kept as
    /// evidence, out of the delivery queue).
    pub rejected: usize,
    /// Refused for a reason time or an operator can cure (a gate clock
    /// ahead of the ledger's, a key or bundle not registered yet, an answer
    /// that is not the ledger's): kept in the spool for the next round.
    pub held: usize,
    /// Still waiting (ledger unavailable).
    pub waiting: usize,
}

/// The directory, under the spool, of receipts set aside.
pub const REJECTED_DIR: &str = "rejected";

/// A spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Spool {
    /// Open (creating) the spool at `dir`.
    pub fn open(dir: &Path) -> Result<Self, SpoolError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        Ok(Spool { dir: dir.to_owned() })
    }

    /// The spool's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The spooled receipts' files, oldest name first.
    pub fn pending(&self) -> Result<Vec<PathBuf>, SpoolError> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let p = e.map_err(io(&self.dir))?.path();
            if p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(SUFFIX))
            {
                out.push(p);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Keep `body` (a signed receipt) under `name` (its receipt id) until
    /// delivered. Durable when this returns.
    pub fn put(&self, name: &str, body: &[u8]) -> Result<PathBuf, SpoolError> {
        if self.pending()?.len() >= MAX_SPOOLED {
            return Err(SpoolError::Full);
        }
        // Names sort by time: receipt ids are UUIDv7.
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
            .collect();
        let path = self.dir.join(format!("{safe}{SUFFIX}"));
        let tmp = self.dir.join(format!(".{safe}.tmp"));
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(body).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(path)
    }

    /// How many receipts were ever set aside in `rejected/` (the spool's
    /// durable count: what `decide` reports and an operator investigates).
    pub fn set_aside(&self) -> Result<usize, SpoolError> {
        let aside = self.dir.join(REJECTED_DIR);
        match std::fs::read_dir(&aside) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io(&aside)(e)),
            Ok(entries) => {
                let mut n = 0;
                for e in entries {
                    let name = e.map_err(io(&aside))?.file_name();
                    n += usize::from(name.to_str().is_some_and(|n| n.ends_with(SUFFIX)));
                }
                Ok(n)
            }
        }
    }

    /// Try to deliver everything spooled, oldest first; stop at the first
    /// "unavailable" (the ledger is still down).
    pub fn deliver(&self, ledger: &dyn Ledger, deadline: Duration) -> Result<Delivered, SpoolError> {
        let mut d = Delivered::default();
        let pending = self.pending()?;
        for (i, path) in pending.iter().enumerate() {
            let body = cairn_host::file::read_bounded(path, MAX_COSE_BYTES as u64)?;
            match ledger.submit(&body, deadline) {
                Ok(ack) => {
                    std::fs::remove_file(path).map_err(io(path))?;
                    d.delivered += 1;
                    tracing::info!(file = %path.display(), index = ack.index, "spooled receipt delivered");
                }
                Err(LedgerError::Refused {
                    problem, ref detail, ..
                }) if problem.is_none_or(cairn_api::wire::ProblemType::may_pass_later) => {
                    tracing::warn!(
                        file = %path.display(),
                        problem = problem.map_or("(not a cairn problem)", cairn_api::wire::ProblemType::slug),
                        detail = %detail,
                        "spooled receipt refused for a reason that may pass; kept in the spool"
                    );
                    d.held += 1;
                }
                Err(e @ LedgerError::Refused { .. }) => {
                    tracing::warn!(file = %path.display(), error = %e, "spooled receipt refused; set aside in rejected/");
                    // Kept as evidence, out of the delivery queue.
                    let aside = self.dir.join(REJECTED_DIR);
                    std::fs::create_dir_all(&aside).map_err(io(&aside))?;
                    let to = aside.join(path.file_name().unwrap_or_default());
                    std::fs::rename(path, &to).map_err(io(&to))?;
                    d.rejected += 1;
                }
                Err(_) => {
                    d.waiting = pending.len() - i;
                    break;
                }
            }
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Acknowledged;
    use cairn_api::wire::ProblemType;
    use std::sync::Mutex;

    /// A ledger that answers from a script, one answer per call.
    struct Scripted(Mutex<Vec<Result<(), LedgerError>>>, Mutex<Vec<Vec<u8>>>);

    impl Ledger for Scripted {
        fn submit(&self, body: &[u8], _: Duration) -> Result<Acknowledged, LedgerError> {
            self.1.lock().unwrap().push(body.to_vec());
            self.0.lock().unwrap().remove(0).map(|()| ack())
        }
    }

    fn refused(status: u16, problem: Option<ProblemType>) -> Result<(), LedgerError> {
        Err(LedgerError::Refused {
            status,
            problem,
            detail: String::new(),
        })
    }

    fn ack() -> Acknowledged {
        use cairn_api::merkle::{MerkleHasher, Sha256};
        let key = cairn_api::examples::log_key();
        let checkpoint = cairn_api::note::Checkpoint::new(key.name(), 1, Sha256::hash_leaf(b"x"))
            .sign(&key)
            .unwrap();
        Acknowledged {
            index: 0,
            existing: false,
            proof: cairn_api::proof::TlogProof {
                extra: None,
                index: 0,
                hashes: vec![],
                checkpoint,
            },
            original: None,
            late_by_ms: None,
        }
    }

    #[test]
    fn spooled_receipts_survive_and_are_delivered_in_order() {
        let dir = std::env::temp_dir().join(format!("cairn-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = Spool::open(&dir).unwrap();
        s.put("0190-a", b"first").unwrap();
        s.put("0190-b", b"second").unwrap();
        s.put("0190-c", b"third").unwrap();
        s.put("0190-d", b"fourth").unwrap();
        s.put("0190-e", b"fifth").unwrap();
        s.put("0190-f", b"sixth").unwrap();
        // A "restart": a new handle on the same directory.
        let s = Spool::open(&dir).unwrap();
        assert_eq!(s.pending().unwrap().len(), 6);
        let ledger = Scripted(
            Mutex::new(vec![
                Ok(()),
                refused(400, Some(ProblemType::InvalidReceipt)),
                refused(422, Some(ProblemType::ClockSkew)),
                refused(404, None),
                Err(LedgerError::Unavailable("down".into())),
                Ok(()),
                Ok(()),
                Ok(()),
                Ok(()),
            ]),
            Mutex::new(Vec::new()),
        );
        let d = s.deliver(&ledger, Duration::from_secs(1)).unwrap();
        assert_eq!(
            d,
            Delivered {
                delivered: 1,
                rejected: 1,
                held: 2,
                waiting: 2
            }
        );
        // Only the receipt refused for good is set aside; one refused for a
        // reason that passes, or by something that is not the ledger, stays.
        assert!(dir.join("rejected/0190-b.cose").exists());
        assert_eq!(s.set_aside().unwrap(), 1);
        assert_eq!(s.pending().unwrap().len(), 4);
        // The ledger is back: the rest goes, in order, same bytes.
        let d = s.deliver(&ledger, Duration::from_secs(1)).unwrap();
        assert_eq!((d.delivered, d.held, d.rejected), (4, 0, 0));
        assert!(s.pending().unwrap().is_empty());
        let sent = ledger.1.lock().unwrap().clone();
        assert_eq!(
            sent,
            [
                &b"first"[..],
                b"second",
                b"third",
                b"fourth",
                b"fifth",
                b"third",
                b"fourth",
                b"fifth",
                b"sixth"
            ]
            .map(<[u8]>::to_vec)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
