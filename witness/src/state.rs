//! The witness's durable state: per log, the latest checkpoint it
//! cosigned, and the evidence of every fork it refused.
//!
//! ```text
//! <data-dir>/logs/<hex SHA-256 of the origin>.checkpoint   the cosigned note
//! <data-dir>/forks/<nanoseconds>-<hex>.json                 ForkEvidence
//! ```
//!
//! Every write is a new file written, fsynced, renamed over the old one and
//! followed by an fsync of the directory: after [`State::put`] returns, the
//! record survives a crash, and a crash before it leaves the old record
//! whole. The caller holds the state under one lock from the check to the
//! write (C2SP: checking the old size and persisting must be atomic).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use cairn_api::merkle::Hash;
use cairn_api::note::{Checkpoint, MAX_NOTE_BYTES, SignedNote};
use cairn_api::witness::wire::ForkEvidence;
use sha2::Digest as _;

/// Most fork evidence files `GET /forks` returns.
pub const MAX_FORKS_LISTED: usize = 1000;
/// Largest fork evidence file read back, in bytes.
const MAX_EVIDENCE_BYTES: u64 = 4 * MAX_NOTE_BYTES as u64;

/// The state cannot be read or written: the machine's fault, or a data
/// directory someone else changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A file could not be read, written or synced.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A stored record is not what this witness writes.
    #[error("{path}: {detail} (the data directory was changed by something else: restore it from backup)")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The latest checkpoint cosigned for one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its tree size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
    /// The note: the checkpoint, the log's signature and this witness's
    /// cosignature.
    pub note: String,
}

/// Every log's record, in memory and on disk.
#[derive(Debug)]
pub struct State {
    dir: PathBuf,
    logs: HashMap<String, Record>,
}

fn file_name(origin: &str) -> String {
    format!("{}.checkpoint", hex::encode(sha2::Sha256::digest(origin.as_bytes())))
}

/// Write `bytes` to `path` durably: a temporary file, fsync, rename, fsync
/// of the directory.
fn write_durably(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

impl State {
    /// Open (creating) the data directory and load every record. A
    /// temporary file left by a crash is removed (its rename never
    /// happened, so nothing was answered from it).
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        let logs_dir = dir.join("logs");
        std::fs::create_dir_all(&logs_dir).map_err(io(&logs_dir))?;
        let forks = dir.join("forks");
        std::fs::create_dir_all(&forks).map_err(io(&forks))?;
        let mut logs = HashMap::new();
        for e in std::fs::read_dir(&logs_dir).map_err(io(&logs_dir))? {
            let path = e.map_err(io(&logs_dir))?.path();
            match path.extension().and_then(|x| x.to_str()) {
                Some("tmp") => std::fs::remove_file(&path).map_err(io(&path))?,
                Some("checkpoint") => {
                    let (origin, record) = Self::load(&path)?;
                    logs.insert(origin, record);
                }
                _ => {}
            }
        }
        Ok(State {
            dir: dir.to_owned(),
            logs,
        })
    }

    fn load(path: &Path) -> Result<(String, Record), StateError> {
        let corrupt = |detail: String| StateError::Corrupt {
            path: path.to_owned(),
            detail,
        };
        let bytes = cairn_host::file::read_bounded(path, MAX_NOTE_BYTES as u64).map_err(|e| corrupt(e.to_string()))?;
        let note = SignedNote::parse(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let cp = Checkpoint::parse(note.text()).map_err(|e| corrupt(e.to_string()))?;
        if path.file_name().and_then(|n| n.to_str()) != Some(file_name(&cp.origin).as_str()) {
            return Err(corrupt(format!("holds the checkpoint of {:?}", cp.origin)));
        }
        Ok((
            cp.origin,
            Record {
                size: cp.size,
                root: cp.root,
                note: note.to_text(),
            },
        ))
    }

    /// The record of `origin`, if this witness ever cosigned for it.
    pub fn get(&self, origin: &str) -> Option<&Record> {
        self.logs.get(origin)
    }

    /// Every record, by origin.
    pub fn all(&self) -> impl Iterator<Item = (&String, &Record)> {
        self.logs.iter()
    }

    /// Replace the record of `origin`, durably, before anything is answered.
    pub fn put(&mut self, origin: &str, record: Record) -> Result<(), StateError> {
        let dir = self.dir.join("logs");
        write_durably(&dir, &dir.join(file_name(origin)), record.note.as_bytes())?;
        self.logs.insert(origin.to_owned(), record);
        Ok(())
    }

    /// Keep the evidence of a refused fork, durably.
    pub fn record_fork(&self, evidence: &ForkEvidence) -> Result<(), StateError> {
        let dir = self.dir.join("forks");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let digest = sha2::Sha256::digest(evidence.refused.as_bytes());
        let path = dir.join(format!("{nanos:024}-{}.json", hex::encode(&digest[..8])));
        let bytes = serde_json::to_vec_pretty(evidence).map_err(|e| StateError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_durably(&dir, &path, &bytes)
    }

    /// The fork evidence kept, oldest first (at most [`MAX_FORKS_LISTED`]).
    pub fn forks(&self) -> Result<Vec<ForkEvidence>, StateError> {
        let dir = self.dir.join("forks");
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(io(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .take(MAX_FORKS_LISTED)
            .map(|p| {
                let bytes = cairn_host::file::read_bounded(p, MAX_EVIDENCE_BYTES).map_err(|e| StateError::Corrupt {
                    path: p.clone(),
                    detail: e.to_string(),
                })?;
                serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
                    path: p.clone(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }
}
