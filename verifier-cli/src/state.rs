//! The state file: the last checkpoint an audit found valid, so the next
//! audit can tell a log that grew from one that was rolled back or forked.
//! JSON, written only after an audit in which everything held, atomically
//! (a temporary file, fsync, rename).

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use cairn_api::merkle::Hash;
use serde::{Deserialize, Serialize};

/// Largest state file read, in bytes.
pub const MAX_STATE_FILE: u64 = 256 * 1024;
/// The format version written.
pub const STATE_VERSION: u32 = 1;

/// The state file is unusable: the auditor's file, or the machine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// It could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a state file this verifier wrote.
    #[error("{path}: not a cairn-verify state file: {detail}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// What the last clean audit saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The log's origin.
    pub origin: String,
    /// The tree size of the checkpoint.
    pub size: u64,
    /// Its root, hex.
    pub root: String,
    /// The signed checkpoint note itself, kept as evidence.
    pub checkpoint: String,
    /// When the audit ran (RFC 3339, the auditor's clock).
    pub audited_at: String,
}

impl State {
    /// The root as a hash.
    pub fn root_hash(&self, path: &Path) -> Result<Hash, StateError> {
        Hash::from_hex(&self.root).map_err(|e| StateError::Invalid {
            path: path.to_owned(),
            detail: format!("root: {e}"),
        })
    }

    /// Read the state file, or `None` when it does not exist yet.
    pub fn load(path: &Path) -> Result<Option<Self>, StateError> {
        let io = |source| StateError::Io {
            path: path.to_owned(),
            source,
        };
        let f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let mut bytes = Vec::new();
        f.take(MAX_STATE_FILE + 1).read_to_end(&mut bytes).map_err(io)?;
        let invalid = |detail: String| StateError::Invalid {
            path: path.to_owned(),
            detail,
        };
        if bytes.len() as u64 > MAX_STATE_FILE {
            return Err(invalid(format!("larger than {MAX_STATE_FILE} bytes")));
        }
        let s: State = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        if s.version != STATE_VERSION {
            return Err(invalid(format!(
                "version {} (this verifier writes {STATE_VERSION})",
                s.version
            )));
        }
        s.root_hash(path)?;
        Ok(Some(s))
    }

    /// Write atomically: a temporary file beside it, fsync, rename.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: path.to_owned(),
            source,
        };
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| StateError::Invalid {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.write_all(b"\n").map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_foreign_files() {
        let dir = std::env::temp_dir().join(format!("cairn-verify-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("state.json");
        let _ = std::fs::remove_file(&p);
        assert_eq!(State::load(&p).unwrap(), None);
        let s = State {
            version: STATE_VERSION,
            origin: "log.example/cairn".into(),
            size: 7,
            root: "00".repeat(32),
            checkpoint: "note".into(),
            audited_at: "2026-11-21T00:00:00Z".into(),
        };
        s.save(&p).unwrap();
        assert_eq!(State::load(&p).unwrap(), Some(s.clone()));
        std::fs::write(&p, "{\"version\": 1}").unwrap();
        assert!(matches!(State::load(&p), Err(StateError::Invalid { .. })));
        let bad_root = serde_json::to_string(&State {
            root: "zz".into(),
            ..s.clone()
        })
        .unwrap();
        std::fs::write(&p, bad_root).unwrap();
        assert!(matches!(State::load(&p), Err(StateError::Invalid { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
