//! Which witnesses a reader trusts and how many of them must cosign: the
//! statements shared by the auditor's trust file, the ledger's witness
//! file and the gate's trust configuration (spec section 13.2).
//!
//! ```text
//! witness  w1 witness1.example+8d66cf3f+BA...  https://w1.example   # name, cosignature key, optional URL
//! witness  w2 witness2.example+0a1b2c3d+BA...
//! group    both 2 w1 w2       # k of the members (witnesses or groups above), or all / any
//! quorum   both               # a group or witness name, or none
//! ```
//!
//! Names are defined once and before use, so groups cannot form cycles.
//! A policy that names witnesses needs a `quorum` line.

use std::collections::{BTreeSet, HashMap};

use crate::keys::{KeyType, VerifierKey};

/// Most witnesses one policy may name.
pub const MAX_WITNESSES: usize = 64;
/// Longest witness URL, in bytes.
pub const MAX_URL_BYTES: usize = 1024;

/// A witness statement is wrong: always the fault of the file's author.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A line is wrong.
    #[error("line {line}: {detail}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// Witnesses are named but no `quorum` line says what they must do.
    #[error("witnesses are named but there is no `quorum` line (give a group or witness name, or `quorum none`)")]
    NoQuorum,
}

/// One witness: its name in the policy, its cosignature key and, for those
/// who talk to it, its URL (the submission and monitoring prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    /// The name the policy's groups use.
    pub name: String,
    /// Its C2SP cosignature (type 0x04) verifier key.
    pub key: VerifierKey,
    /// Where it answers `add-checkpoint` and its monitoring routes.
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    threshold: usize,
    members: Vec<String>,
}

/// Witnesses, groups and the quorum.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessPolicy {
    witnesses: Vec<Witness>,
    groups: HashMap<String, Group>,
    names: BTreeSet<String>,
    quorum: Option<String>,
    quorum_seen: bool,
}

fn check_url(url: &str) -> Result<(), String> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= MAX_URL_BYTES
        && url.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{url:?} is not an http:// or https:// URL of at most {MAX_URL_BYTES} bytes"
        ))
    }
}

impl WitnessPolicy {
    /// Apply one statement, split into words. `None`: not a witness
    /// statement (the caller's own, or an error of the caller's).
    pub fn statement(&mut self, line: usize, words: &[&str]) -> Option<Result<(), PolicyError>> {
        let result = match words {
            ["witness", name, key, url @ ..] if url.len() <= 1 => self.witness(name, key, url.first().copied()),
            ["group", name, threshold, members @ ..] => self.group(name, threshold, members),
            ["quorum", name] => self.set_quorum(name),
            _ => return None,
        };
        Some(result.map_err(|detail| PolicyError::Line { line, detail }))
    }

    fn define(&mut self, name: &str) -> Result<(), String> {
        if self.names.insert(name.to_owned()) {
            Ok(())
        } else {
            Err(format!("{name} is defined twice"))
        }
    }

    fn witness(&mut self, name: &str, key: &str, url: Option<&str>) -> Result<(), String> {
        let key = VerifierKey::parse(key).map_err(|e| format!("not a verifier key: {e}"))?;
        if key.key_type() != KeyType::Cosignature {
            return Err("a witness key is a cosignature (type 0x04) key: cairn-witness keygen".into());
        }
        if let Some(u) = url {
            check_url(u)?;
        }
        if self.witnesses.len() == MAX_WITNESSES {
            return Err(format!("more than {MAX_WITNESSES} witnesses"));
        }
        // An Ed25519 cosignature does not commit to the cosigner's name:
        // one public key under two names would let one signer count twice.
        if self.witnesses.iter().any(|w| w.key.public_key() == key.public_key()) {
            return Err(format!("{name}: this public key is already another witness's"));
        }
        self.define(name)?;
        self.witnesses.push(Witness {
            name: name.to_owned(),
            key,
            url: url.map(|u| u.trim_end_matches('/').to_owned()),
        });
        Ok(())
    }

    fn group(&mut self, name: &str, threshold: &str, members: &[&str]) -> Result<(), String> {
        if members.is_empty() {
            return Err("a group needs members".into());
        }
        if let Some(m) = members.iter().find(|m| !self.names.contains(**m)) {
            return Err(format!("{m} is not defined above"));
        }
        let threshold = match threshold {
            "all" => members.len(),
            "any" => 1,
            n => n
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=members.len()).contains(n))
                .ok_or_else(|| format!("threshold must be 1 to {}, all or any", members.len()))?,
        };
        self.define(name)?;
        self.groups.insert(
            name.to_owned(),
            Group {
                threshold,
                members: members.iter().map(|m| (*m).to_owned()).collect(),
            },
        );
        Ok(())
    }

    fn set_quorum(&mut self, name: &str) -> Result<(), String> {
        if std::mem::replace(&mut self.quorum_seen, true) {
            return Err("quorum is given twice".into());
        }
        if name != "none" {
            if !self.names.contains(name) {
                return Err(format!("{name} is not defined above"));
            }
            self.quorum = Some(name.to_owned());
        }
        Ok(())
    }

    /// After the last statement: witnesses need a quorum line.
    pub fn finish(&self) -> Result<(), PolicyError> {
        if !self.witnesses.is_empty() && !self.quorum_seen {
            return Err(PolicyError::NoQuorum);
        }
        Ok(())
    }

    /// Parse a file of witness statements only (blank lines and `#`
    /// comments ignored).
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut p = WitnessPolicy::default();
        for (i, raw) in text.lines().enumerate() {
            let words: Vec<&str> = raw.split('#').next().unwrap_or("").split_whitespace().collect();
            if words.is_empty() {
                continue;
            }
            p.statement(i + 1, &words).unwrap_or_else(|| {
                Err(PolicyError::Line {
                    line: i + 1,
                    detail: format!(
                        "`{}` with {} values is not a statement (witness NAME KEY [URL], group NAME K MEMBERS..., quorum NAME)",
                        words[0],
                        words.len() - 1
                    ),
                })
            })?;
        }
        p.finish()?;
        Ok(p)
    }

    /// Whether no witness is named.
    pub fn is_empty(&self) -> bool {
        self.witnesses.is_empty()
    }

    /// The witnesses, in the order given.
    pub fn witnesses(&self) -> &[Witness] {
        &self.witnesses
    }

    /// Their keys, for checkpoint verification.
    pub fn keys(&self) -> Vec<VerifierKey> {
        self.witnesses.iter().map(|w| w.key.clone()).collect()
    }

    /// The witness or group that must be satisfied, if any.
    pub fn quorum(&self) -> Option<&str> {
        self.quorum.as_deref()
    }

    /// Whether the witnesses whose keys are in `cosigned` satisfy the
    /// quorum (always, when there is none).
    pub fn quorum_met(&self, cosigned: &[VerifierKey]) -> bool {
        match &self.quorum {
            None => true,
            Some(q) => self.satisfied(q, cosigned),
        }
    }

    fn satisfied(&self, name: &str, cosigned: &[VerifierKey]) -> bool {
        if let Some(w) = self.witnesses.iter().find(|w| w.name == name) {
            return cosigned.contains(&w.key);
        }
        match self.groups.get(name) {
            // Groups only name what was defined before them: no cycles.
            Some(g) => g.members.iter().filter(|m| self.satisfied(m, cosigned)).count() >= g.threshold,
            None => false,
        }
    }

    /// The names of the witnesses whose keys are in `cosigned`.
    pub fn names_of(&self, cosigned: &[VerifierKey]) -> Vec<String> {
        self.witnesses
            .iter()
            .filter(|w| cosigned.contains(&w.key))
            .map(|w| w.name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SignerKey;

    fn witness(n: u8) -> VerifierKey {
        SignerKey::from_seed(&format!("w{n}.example"), KeyType::Cosignature, &[n; 32])
            .unwrap()
            .verifier()
    }

    #[test]
    fn evaluates_nested_groups() {
        let p = WitnessPolicy::parse(&format!(
            "# w\nwitness a {} https://a.example/\nwitness b {}\nwitness c {}\ngroup two 2 a b c\ngroup either any two c\nquorum two\n",
            witness(1),
            witness(2),
            witness(3)
        ))
        .unwrap();
        assert_eq!(p.witnesses()[0].url.as_deref(), Some("https://a.example"));
        assert_eq!(p.witnesses()[1].url, None);
        assert!(!p.quorum_met(&[witness(1)]));
        assert!(p.quorum_met(&[witness(1), witness(3)]));
        assert_eq!(p.names_of(&[witness(3), witness(1)]), ["a", "c"]);
        assert!(WitnessPolicy::parse("quorum none\n").unwrap().quorum_met(&[]));
    }

    #[test]
    fn refusals_name_the_line() {
        let line_of = |t: &str| match WitnessPolicy::parse(t) {
            Err(PolicyError::Line { line, .. }) => line,
            other => panic!("{t}: {other:?}"),
        };
        let w1 = format!("witness a {}\n", witness(1));
        assert_eq!(line_of(&format!("{w1}witness b {} ftp://x\n", witness(2))), 2);
        assert_eq!(
            line_of(&format!("{w1}witness b {}\n", witness(1))),
            2,
            "one key, one witness"
        );
        let renamed = SignerKey::from_seed("other.example", KeyType::Cosignature, &[1; 32])
            .unwrap()
            .verifier();
        assert_eq!(
            line_of(&format!("{w1}witness b {renamed}\n")),
            2,
            "one public key, one witness"
        );
        assert_eq!(line_of(&format!("{w1}witness a {}\n", witness(2))), 2);
        assert_eq!(line_of(&format!("{w1}group g 2 a\n")), 2);
        assert_eq!(line_of(&format!("{w1}group g 1 nobody\n")), 2);
        assert_eq!(line_of(&format!("{w1}quorum ghost\n")), 2);
        assert_eq!(line_of(&format!("{w1}quorum a\nquorum a\n")), 3);
        assert_eq!(line_of("log x\n"), 1);
        let ed = SignerKey::from_seed("x", KeyType::Ed25519, &[9; 32])
            .unwrap()
            .verifier();
        assert_eq!(line_of(&format!("witness a {ed}\n")), 1);
        assert_eq!(WitnessPolicy::parse(&w1), Err(PolicyError::NoQuorum));
    }
}
