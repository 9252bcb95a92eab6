//! One bounded file reader: every file cairn reads (keys, configuration,
//! trust and state files, policy files, receipts) is read through it with a
//! named limit, and a file over the limit is refused, never truncated.

use std::io::Read as _;
use std::path::{Path, PathBuf};

/// A file could not be read within its bound. The operator's file or the
/// machine, never the program's fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than the bound.
    #[error("{} is larger than {limit} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The bound.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error("{} is not UTF-8 text", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
}

impl ReadError {
    /// The I/O error of `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        ReadError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Read at most `limit` bytes of `path` from an open file.
pub fn read_open(f: std::fs::File, path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut buf = Vec::new();
    f.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| ReadError::io(path, e))?;
    if buf.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(buf)
}

/// Read a whole file of at most `limit` bytes.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let f = std::fs::File::open(path).map_err(|e| ReadError::io(path, e))?;
    read_open(f, path, limit)
}

/// Read a whole UTF-8 text file of at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read_bounded(path, limit)?).map_err(|_| ReadError::NotText { path: path.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_bound_and_refuses_beyond_it() {
        let dir = std::env::temp_dir().join(format!("cairn-host-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_bounded(&p, 10).unwrap(), b"0123456789");
        assert!(matches!(read_bounded(&p, 9), Err(ReadError::TooLarge { limit: 9, .. })));
        assert!(matches!(read_bounded(&dir.join("none"), 9), Err(ReadError::Io { .. })));
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_text(&p, 10), Err(ReadError::NotText { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
