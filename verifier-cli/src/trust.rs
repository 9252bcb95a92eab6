//! The trust file: which keys an auditor trusts, one statement per line, in
//! the style of the Sigsum/C2SP policy files. Every key is a C2SP verifier
//! key string (`name+hexid+base64`).
//!
//! ```text
//! # cairn trust file
//! log        cairn.example/log+1a2b3c4d+AQ...     # the log's checkpoint key (one or more)
//! authority  authority.example/root+...+AQ...     # may register gate keys and publish bundles
//! gate       gate.example/ci+...+AQ...            # optional: only these gate keys are trusted
//! witness    w1 witness1.example+...+BA... https://w1.example  # optional: witnesses by name (URL optional)
//! witness    w2 witness2.example+...+BA...
//! group      both 2 w1 w2                         # k of the members, or "all" / "any"
//! quorum     both                                 # a group or witness name, or "none"
//! ```
//!
//! Blank lines and `#` comments are ignored. Names are defined once and
//! before use; at least one `log` and one `authority` line are required.
//! The `witness`, `group` and `quorum` statements are
//! [`cairn_api::witness::WitnessPolicy`]'s, shared with the ledger and the
//! gate.

use std::path::Path;

use cairn_api::keys::{KeyType, VerifierKey};
use cairn_api::witness::{PolicyError, WitnessPolicy};

/// Largest trust file read, in bytes.
pub const MAX_TRUST_FILE: u64 = 64 * 1024;

/// The trust file cannot be used: always its author's fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The file could not be read, or is too large or not UTF-8.
    #[error("{0}")]
    Read(String),
    /// A line is wrong.
    #[error("line {line}: {detail}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// A required statement is missing.
    #[error("the trust file needs at least one `{0}` line")]
    Missing(&'static str),
    /// Witnesses are named but no `quorum` line says what they must do.
    #[error("the trust file names witnesses but has no `quorum` line (give a group or witness name, or `quorum none`)")]
    NoQuorum,
}

/// What an auditor trusts.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// The log's checkpoint keys.
    pub log: Vec<VerifierKey>,
    /// Authority keys (key statements and policy bundles).
    pub authorities: Vec<VerifierKey>,
    /// Pinned gate keys; empty means "whatever the authorities registered".
    pub gates: Vec<VerifierKey>,
    /// Witnesses, groups and the quorum.
    pub witnesses: WitnessPolicy,
}

fn key(line: usize, s: &str) -> Result<VerifierKey, TrustError> {
    VerifierKey::parse(s).map_err(|e| TrustError::Line {
        line,
        detail: format!("not a verifier key: {e}"),
    })
}

impl Trust {
    /// Read and parse a trust file.
    pub fn load(path: &Path) -> Result<Self, TrustError> {
        use std::io::Read as _;
        let f = std::fs::File::open(path).map_err(|e| TrustError::Read(format!("{}: {e}", path.display())))?;
        let mut bytes = Vec::new();
        f.take(MAX_TRUST_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| TrustError::Read(format!("{}: {e}", path.display())))?;
        if bytes.len() as u64 > MAX_TRUST_FILE {
            return Err(TrustError::Read(format!(
                "{}: larger than {MAX_TRUST_FILE} bytes",
                path.display()
            )));
        }
        let text = String::from_utf8(bytes).map_err(|_| TrustError::Read(format!("{}: not UTF-8", path.display())))?;
        Self::parse(&text)
    }

    /// Parse a trust file's text.
    pub fn parse(text: &str) -> Result<Self, TrustError> {
        let mut t = Trust::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.split('#').next().unwrap_or("");
            let words: Vec<&str> = content.split_whitespace().collect();
            let bad = |detail: String| TrustError::Line { line, detail };
            if let Some(r) = t.witnesses.statement(line, &words) {
                r?;
                continue;
            }
            match words.as_slice() {
                [] => {}
                ["log", k] => {
                    let k = key(line, k)?;
                    if k.key_type() != KeyType::Ed25519 {
                        return Err(bad("a log key is an Ed25519 (type 0x01) key".into()));
                    }
                    t.log.push(k);
                }
                ["authority", k] => t.authorities.push(key(line, k)?),
                ["gate", k] => t.gates.push(key(line, k)?),
                [word, ..] => {
                    return Err(bad(format!(
                        "`{word}` with {} values is not a statement (log, authority, gate, witness, group, quorum)",
                        words.len() - 1
                    )));
                }
            }
        }
        if t.log.is_empty() {
            return Err(TrustError::Missing("log"));
        }
        if t.authorities.is_empty() {
            return Err(TrustError::Missing("authority"));
        }
        t.witnesses.finish()?;
        Ok(t)
    }

    /// The log key whose name is `origin`.
    pub fn log_key(&self, origin: &str) -> Option<&VerifierKey> {
        self.log.iter().find(|k| k.name() == origin)
    }

    /// The authority key with this key reference (`name+hexid`).
    pub fn authority(&self, kid: &str) -> Option<&VerifierKey> {
        self.authorities.iter().find(|k| k.key_ref() == kid)
    }

    /// Whether `key` may sign receipts as far as the pins go.
    pub fn gate_pinned(&self, key: &VerifierKey) -> bool {
        self.gates.is_empty() || self.gates.contains(key)
    }

    /// The witness keys, for checkpoint verification.
    pub fn witness_keys(&self) -> Vec<VerifierKey> {
        self.witnesses.keys()
    }

    /// Whether the witnesses whose keys are in `cosigned` satisfy the quorum
    /// (always, when there is none).
    pub fn quorum_met(&self, cosigned: &[VerifierKey]) -> bool {
        self.witnesses.quorum_met(cosigned)
    }
}

impl From<PolicyError> for TrustError {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::Line { line, detail } => TrustError::Line { line, detail },
            PolicyError::NoQuorum => TrustError::NoQuorum,
            other => TrustError::Read(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_api::examples;
    use cairn_api::keys::SignerKey;

    fn witness(n: u8) -> VerifierKey {
        SignerKey::from_seed(&format!("w{n}.example"), KeyType::Cosignature, &[n; 32])
            .unwrap()
            .verifier()
    }

    fn text() -> String {
        format!(
            "# test\nlog {}\nauthority {}  # root\n\nwitness a {}\nwitness b {}\nwitness c {}\ngroup two 2 a b c\ngroup either any two c\nquorum two\n",
            examples::log_key().verifier(),
            examples::authority_key().verifier(),
            witness(1),
            witness(2),
            witness(3)
        )
    }

    #[test]
    fn parses_and_evaluates_quorums() {
        let t = Trust::parse(&text()).unwrap();
        assert_eq!(t.log_key("log.example/cairn"), Some(&examples::log_key().verifier()));
        assert!(t.log_key("other").is_none());
        assert!(t.authority(&examples::authority_key().verifier().key_ref()).is_some());
        assert!(
            t.gate_pinned(&examples::gate_key().verifier()),
            "no pins: any registered gate"
        );
        assert!(!t.quorum_met(&[witness(1)]));
        assert!(t.quorum_met(&[witness(1), witness(3)]));
        assert!(!t.quorum_met(&[examples::log_key().verifier(), witness(2)]));
        let none = Trust::parse(&text().replace("quorum two", "quorum none")).unwrap();
        assert!(none.quorum_met(&[]));
        let pinned = Trust::parse(&format!("{}gate {}\n", text(), examples::operator_key().verifier())).unwrap();
        assert!(!pinned.gate_pinned(&examples::gate_key().verifier()));
    }

    #[test]
    fn refusals_name_the_line() {
        let log = format!("log {}\n", examples::log_key().verifier());
        let auth = format!("authority {}\n", examples::authority_key().verifier());
        let line_of = |t: &str| match Trust::parse(t) {
            Err(TrustError::Line { line, .. }) => line,
            other => panic!("{t}: {other:?}"),
        };
        assert_eq!(line_of(&format!("{log}{auth}log nonsense\n")), 3);
        assert_eq!(
            line_of(&format!("{log}{auth}logs {}\n", examples::log_key().verifier())),
            3
        );
        assert_eq!(line_of(&format!("{log}{auth}group g 1 nobody\n")), 3);
        assert_eq!(
            line_of(&format!("{log}{auth}witness a {}\ngroup g 2 a\n", witness(1))),
            4
        );
        assert_eq!(
            line_of(&format!(
                "{log}{auth}witness a {}\nwitness a {}\n",
                witness(1),
                witness(2)
            )),
            4
        );
        assert_eq!(line_of(&format!("{log}{auth}quorum ghost\n")), 3);
        assert_eq!(line_of(&format!("{log}{auth}quorum none\nquorum none\n")), 4);
        assert_eq!(line_of(&format!("log {}\n{auth}", witness(1))), 1);
        assert!(matches!(Trust::parse(&auth), Err(TrustError::Missing("log"))));
        // A witness key must be a cosignature key; witnesses need a quorum
        // line; a threshold is 1 to the number of members.
        assert_eq!(
            line_of(&format!("{log}{auth}witness a {}\n", examples::gate_key().verifier())),
            3
        );
        assert!(matches!(
            Trust::parse(&format!("{log}{auth}witness a {}\n", witness(1))),
            Err(TrustError::NoQuorum)
        ));
        let w = format!("witness a {}\nwitness b {}\n", witness(1), witness(2));
        assert_eq!(line_of(&format!("{log}{auth}{w}group g 3 a b\nquorum g\n")), 5);
        assert_eq!(line_of(&format!("{log}{auth}{w}group g 0 a b\nquorum g\n")), 5);
        assert!(Trust::parse(&format!("{log}{auth}{w}group g 2 a b\nquorum g\n")).is_ok());
        assert!(matches!(Trust::parse(&log), Err(TrustError::Missing("authority"))));
    }
}
