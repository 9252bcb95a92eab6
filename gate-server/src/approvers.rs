//! Who may answer on the approval page: names and credentials from a file.
//!
//! One approver per line, `NAME CREDENTIAL` (blank lines and lines starting
//! with `#` aside): the name is what receipts record as the approver's
//! `sub` (1 to 256 printable ASCII characters without spaces), the
//! credential what the person types to sign in (at least
//! [`crate::auth::MIN_TOKEN_BYTES`] printable ASCII characters). Credentials
//! are kept and compared as SHA-256 digests, in constant time.

use std::path::{Path, PathBuf};

use cairn_api::merkle::{Hash, MerkleHasher as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::auth::{MAX_TOKEN_FILE, MIN_TOKEN_BYTES};

/// Most approvers in one file.
pub const MAX_APPROVERS: usize = 1024;

/// The approvers file is unusable: the operator's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApproversError {
    /// It could not be read.
    #[error("{path}: {detail}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A line is not `NAME CREDENTIAL`.
    #[error(
        "{path}:{line}: expected `NAME CREDENTIAL`: a name of 1 to 256 printable ASCII characters without spaces, a credential of {MIN_TOKEN_BYTES} or more"
    )]
    BadLine {
        /// The file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
    },
    /// A name appears twice.
    #[error("{path}:{line}: approver {name} is listed twice")]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
        /// The name.
        name: String,
    },
    /// No approver, or more than [`MAX_APPROVERS`].
    #[error("{0}: 1 to {MAX_APPROVERS} approvers are needed")]
    Count(PathBuf),
}

/// The people who may approve.
#[derive(Clone)]
pub struct Approvers {
    people: Vec<(String, Hash)>,
}

impl std::fmt::Debug for Approvers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approvers").field("count", &self.people.len()).finish()
    }
}

fn printable(s: &str) -> bool {
    s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

impl Approvers {
    /// The approvers in `text` (the file's contents; `path` for messages).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ApproversError> {
        let mut people: Vec<(String, Hash)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let bad = || ApproversError::BadLine {
                path: path.to_owned(),
                line: i + 1,
            };
            let mut parts = t.split_ascii_whitespace();
            let (Some(name), Some(credential), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad());
            };
            if name.len() > 256 || !printable(name) || credential.len() < MIN_TOKEN_BYTES || !printable(credential) {
                return Err(bad());
            }
            if people.iter().any(|(n, _)| n == name) {
                return Err(ApproversError::Duplicate {
                    path: path.to_owned(),
                    line: i + 1,
                    name: name.to_owned(),
                });
            }
            people.push((name.to_owned(), Sha256::digest(&[credential.as_bytes()])));
        }
        if people.is_empty() || people.len() > MAX_APPROVERS {
            return Err(ApproversError::Count(path.to_owned()));
        }
        Ok(Approvers { people })
    }

    /// The approvers in the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ApproversError> {
        let read = |detail: String| ApproversError::Read {
            path: path.to_owned(),
            detail,
        };
        let bytes = cairn_host::file::read_bounded(path, MAX_TOKEN_FILE).map_err(|e| read(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| read("not UTF-8".into()))?;
        Approvers::parse(&text, path)
    }

    /// The approver `name` when `credential` is theirs. Every listed
    /// credential is compared, whatever matched, so the time taken says
    /// nothing about which name exists.
    pub fn sign_in(&self, name: &str, credential: &str) -> Option<String> {
        let d = Sha256::digest(&[credential.as_bytes()]);
        let mut found = None;
        for (n, c) in &self.people {
            let same = c.as_bytes().ct_eq(d.as_bytes()).unwrap_u8() == 1;
            if same && n == name {
                found = Some(n.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approver_signs_in_with_their_own_credential_only() {
        let a = Approvers::parse(
            "# on call\nalice alice-credential-0001\n  bob   bob-credential-00002  \n",
            Path::new("t"),
        )
        .unwrap();
        assert_eq!(a.sign_in("alice", "alice-credential-0001").as_deref(), Some("alice"));
        assert_eq!(a.sign_in("bob", "bob-credential-00002").as_deref(), Some("bob"));
        assert_eq!(a.sign_in("bob", "alice-credential-0001"), None);
        assert_eq!(a.sign_in("carol", "alice-credential-0001"), None);
        assert_eq!(a.sign_in("alice", ""), None);
    }

    #[test]
    fn bad_files_say_which_line() {
        let bad = |t: &str| Approvers::parse(t, Path::new("t")).unwrap_err();
        assert!(matches!(bad("alice short\n"), ApproversError::BadLine { line: 1, .. }));
        assert!(matches!(bad("\nalice\n"), ApproversError::BadLine { line: 2, .. }));
        assert!(matches!(
            bad("alice credential-long-enough x\n"),
            ApproversError::BadLine { line: 1, .. }
        ));
        assert!(matches!(
            bad("a credential-long-enough\na other-credential-long\n"),
            ApproversError::Duplicate { line: 2, .. }
        ));
        assert!(matches!(bad("# nobody\n"), ApproversError::Count(_)));
    }
}
