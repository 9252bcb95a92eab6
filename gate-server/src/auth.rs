//! Who may call the gate: bearer credentials from a file.
//!
//! The file holds one credential per line (blank lines and lines starting
//! with `#` aside), each at least [`MIN_TOKEN_BYTES`] printable ASCII
//! characters. A call must carry `Authorization: Bearer <credential>`
//! with one of them; it is compared in constant time, by its SHA-256, so
//! neither the comparison's time nor the memory the gate keeps reveals a
//! credential. Every AuthZEN route requires it; the metadata document
//! (`/.well-known/authzen-configuration`) and the health probes do not.

use std::path::{Path, PathBuf};

use cairn_api::merkle::{Hash, MerkleHasher as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Shortest credential accepted, in bytes.
pub const MIN_TOKEN_BYTES: usize = 16;
/// Largest credential file read, in bytes.
pub const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// The credential file is unusable: the operator's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// It could not be read.
    #[error("{path}: {detail}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A line is not a usable credential.
    #[error("{path}:{line}: a credential is {MIN_TOKEN_BYTES} or more printable ASCII characters without spaces")]
    BadToken {
        /// The file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
    },
    /// The file holds no credential.
    #[error("{0}: no credential in the file")]
    Empty(PathBuf),
}

/// The credentials a caller may present.
#[derive(Clone)]
pub struct Callers {
    digests: Vec<Hash>,
}

impl std::fmt::Debug for Callers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callers")
            .field("credentials", &self.digests.len())
            .finish()
    }
}

impl Callers {
    /// The credentials in `text` (the file's contents; `path` for messages).
    pub fn parse(text: &str, path: &Path) -> Result<Self, AuthError> {
        let mut digests = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if t.len() < MIN_TOKEN_BYTES || !t.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
                return Err(AuthError::BadToken {
                    path: path.to_owned(),
                    line: i + 1,
                });
            }
            digests.push(Sha256::digest(&[t.as_bytes()]));
        }
        if digests.is_empty() {
            return Err(AuthError::Empty(path.to_owned()));
        }
        Ok(Callers { digests })
    }

    /// The credentials in the file at `path`.
    pub fn load(path: &Path) -> Result<Self, AuthError> {
        let bytes = cairn_host::file::read_bounded(path, MAX_TOKEN_FILE).map_err(|e| AuthError::Read {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|_| AuthError::Read {
            path: path.to_owned(),
            detail: "not UTF-8".into(),
        })?;
        Callers::parse(&text, path)
    }

    /// Whether `authorization` (the header's value) presents one of the
    /// credentials.
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(token) = authorization.and_then(bearer) else {
            return false;
        };
        let d = Sha256::digest(&[token]);
        // Every credential is compared, whatever matched.
        self.digests
            .iter()
            .fold(0u8, |hit, c| hit | c.as_bytes().ct_eq(d.as_bytes()).unwrap_u8())
            == 1
    }
}

/// The credential of an `Authorization: Bearer <credential>` value.
fn bearer(v: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = (v.get(..7)?, v.get(7..)?);
    scheme.eq_ignore_ascii_case(b"bearer ").then(|| rest.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callers() -> Callers {
        Callers::parse(
            "# gates\n\nsecret-credential-one\n  secret-credential-two  \n",
            Path::new("t"),
        )
        .unwrap()
    }

    #[test]
    fn only_a_listed_bearer_credential_is_admitted() {
        let c = callers();
        assert!(c.admits(Some(b"Bearer secret-credential-one")));
        assert!(c.admits(Some(b"bearer secret-credential-two")));
        assert!(!c.admits(Some(b"Bearer secret-credential-three")));
        assert!(!c.admits(Some(b"Basic secret-credential-one")));
        assert!(!c.admits(Some(b"Bearer")));
        assert!(!c.admits(None));
    }

    #[test]
    fn short_or_spaced_credentials_and_empty_files_are_refused() {
        assert!(matches!(
            Callers::parse("short\n", Path::new("t")),
            Err(AuthError::BadToken { line: 1, .. })
        ));
        assert!(matches!(
            Callers::parse("# only\n\nwith a space in it here\n", Path::new("t")),
            Err(AuthError::BadToken { line: 3, .. })
        ));
        assert!(matches!(
            Callers::parse("# none\n", Path::new("t")),
            Err(AuthError::Empty(_))
        ));
    }
}
