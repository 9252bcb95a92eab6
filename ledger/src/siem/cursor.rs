//! The follower's cursor: the next log index to deliver, and the Merkle
//! frontier of the tree of that size (so the next entries can be checked
//! against a signed checkpoint without reading the log again), in a small
//! JSON file replaced atomically (write, sync, rename, sync the directory).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use cairn_api::merkle::{Frontier, Hash, Sha256};
use serde::{Deserialize, Serialize};

use super::SiemError;

/// The largest cursor file read.
pub const MAX_CURSOR_BYTES: u64 = 16 * 1024;
/// The cursor format's version.
pub const CURSOR_VERSION: u32 = 1;

/// The file's content.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorFile {
    v: u32,
    /// The log's origin (a cursor is for one log).
    origin: String,
    /// The next index to deliver: every entry before it was delivered.
    next: u64,
    /// The size of the signed checkpoint the entries before `next` were
    /// verified against (never less than `next`).
    checkpoint_size: u64,
    /// The frontier of the tree of size `next`, hex.
    frontier: Vec<String>,
}

/// Where the follower is.
#[derive(Debug, Clone)]
pub struct Cursor {
    /// The log's origin.
    pub origin: String,
    /// The frontier of the tree of the entries delivered (its size is the
    /// next index).
    pub frontier: Frontier<Sha256>,
    /// The size of the largest signed checkpoint seen and verified.
    pub checkpoint_size: u64,
}

impl Cursor {
    /// The start of the log `origin`.
    pub fn start(origin: &str) -> Self {
        Cursor {
            origin: origin.to_owned(),
            frontier: Frontier::new(),
            checkpoint_size: 0,
        }
    }

    /// The next index to deliver.
    pub fn next(&self) -> u64 {
        self.frontier.size()
    }

    /// Read the cursor at `path`, or the start of the log when there is no
    /// file yet. A cursor of another log is refused.
    pub fn load(path: &Path, origin: &str) -> Result<Self, SiemError> {
        let bad = |detail: String| SiemError::Cursor {
            path: path.to_owned(),
            detail,
        };
        if !path.exists() {
            return Ok(Cursor::start(origin));
        }
        let bytes = cairn_host::file::read_bounded(path, MAX_CURSOR_BYTES).map_err(|e| bad(e.to_string()))?;
        let f: CursorFile = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if f.v != CURSOR_VERSION {
            return Err(bad(format!("version {} (this follower writes {CURSOR_VERSION})", f.v)));
        }
        if f.origin != origin {
            return Err(bad(format!("it follows the log {:?}, not {origin:?}", f.origin)));
        }
        if f.checkpoint_size < f.next {
            return Err(bad(format!(
                "next {} is beyond checkpoint size {}",
                f.next, f.checkpoint_size
            )));
        }
        let nodes = f
            .frontier
            .iter()
            .map(|h| Hash::from_hex(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let frontier = Frontier::from_parts(f.next, nodes)
            .ok_or_else(|| bad(format!("the frontier does not fit a tree of {}", f.next)))?;
        Ok(Cursor {
            origin: f.origin,
            frontier,
            checkpoint_size: f.checkpoint_size,
        })
    }

    /// Replace the cursor at `path` atomically and durably.
    pub fn save(&self, path: &Path) -> Result<(), SiemError> {
        let bad = |p: &Path, e: std::io::Error| SiemError::Cursor {
            path: p.to_owned(),
            detail: e.to_string(),
        };
        let f = CursorFile {
            v: CURSOR_VERSION,
            origin: self.origin.clone(),
            next: self.next(),
            checkpoint_size: self.checkpoint_size,
            frontier: self.frontier.nodes().iter().map(Hash::to_hex).collect(),
        };
        let text = serde_json::to_vec_pretty(&f).map_err(|e| bad(path, std::io::Error::other(e)))?;
        let tmp = temp_path(path);
        let mut out = std::fs::File::create(&tmp).map_err(|e| bad(&tmp, e))?;
        out.write_all(&text)
            .and_then(|()| out.sync_all())
            .map_err(|e| bad(&tmp, e))?;
        drop(out);
        std::fs::rename(&tmp, path).map_err(|e| bad(path, e))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| bad(dir, e))
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "cairn-siem-cursor-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_cursor_reads_back_and_belongs_to_one_log() {
        let d = dir();
        let p = d.join("cursor.json");
        let c = Cursor::load(&p, "log.example/a").unwrap();
        assert_eq!(c.next(), 0);
        let mut c = c;
        for i in 0..5u8 {
            c.frontier.append(Hash([i; 32]));
        }
        c.checkpoint_size = 9;
        c.save(&p).unwrap();
        let back = Cursor::load(&p, "log.example/a").unwrap();
        assert_eq!((back.next(), back.checkpoint_size), (5, 9));
        assert_eq!(back.frontier.root(), c.frontier.root());
        assert!(matches!(
            Cursor::load(&p, "log.example/b"),
            Err(SiemError::Cursor { .. })
        ));
        std::fs::write(
            &p,
            b"{\"v\":1,\"origin\":\"log.example/a\",\"next\":3,\"checkpoint_size\":3,\"frontier\":[]}",
        )
        .unwrap();
        assert!(matches!(
            Cursor::load(&p, "log.example/a"),
            Err(SiemError::Cursor { .. })
        ));
        std::fs::write(&p, b"not json").unwrap();
        assert!(matches!(
            Cursor::load(&p, "log.example/a"),
            Err(SiemError::Cursor { .. })
        ));
        let _ = std::fs::remove_dir_all(&d);
    }
}
