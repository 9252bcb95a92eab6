//! The `add-checkpoint` exchange of C2SP `tlog-witness`.
//!
//! ```text
//! old <size>\n
//! <base64 consistency proof hash>\n     (0 to 63 lines)
//! \n
//! <checkpoint note: text, blank line, signature lines>
//! ```
//!
//! A witness answers `200` with one or more cosignature lines
//! (`— <name> <base64>\n`), or `409` with `text/x.tlog.size` and its own
//! size (`<decimal>\n`) when `old` is not the size it last cosigned.

use crate::merkle::Hash;
use crate::note::{MAX_NOTE_BYTES, MAX_SIGNATURES, NoteError, NoteSignature};

/// Most consistency proof lines a request may carry (C2SP: at most 63).
pub const MAX_PROOF_LINES: usize = 63;
/// Largest `add-checkpoint` body: the old size line, 63 proof lines and a
/// note of the largest size.
pub const MAX_ADD_CHECKPOINT_BYTES: usize = 32 + MAX_PROOF_LINES * 45 + 1 + MAX_NOTE_BYTES;
/// Largest `200` answer: [`MAX_SIGNATURES`] cosignature lines.
pub const MAX_COSIGNATURE_BODY_BYTES: usize = MAX_SIGNATURES * 600;
/// The media type of a `409` answer's body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
/// The path a witness serves the exchange on, after its submission prefix.
pub const ADD_CHECKPOINT_PATH: &str = "/add-checkpoint";

/// A body of the exchange is malformed: the fault of whoever sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Over the limit for this body.
    #[error("body is {0} bytes, over the limit")]
    TooLarge(usize),
    /// Not the format (the reason says where).
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// A cosignature line of an answer is malformed.
    #[error("cosignature: {0}")]
    Note(#[from] NoteError),
}

/// A decimal without leading zeros (`0` alone for zero).
fn decimal(s: &str) -> Option<u64> {
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if ok { s.parse().ok() } else { None }
}

/// One `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the witness last cosigned, as the client
    /// believes it (0 when it does not know).
    pub old_size: u64,
    /// The RFC 6962 consistency proof from `old_size` to the checkpoint.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

impl AddCheckpoint {
    /// The request body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old_size);
        for h in &self.proof {
            out.push_str(&h.to_base64());
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out.into_bytes()
    }

    /// Parse a request body. The checkpoint is kept as text: verifying it
    /// is the witness's job.
    pub fn parse(body: &[u8]) -> Result<Self, ProtocolError> {
        if body.len() > MAX_ADD_CHECKPOINT_BYTES {
            return Err(ProtocolError::TooLarge(body.len()));
        }
        let text = std::str::from_utf8(body).map_err(|_| ProtocolError::Malformed("not UTF-8"))?;
        let (first, mut rest) = text
            .split_once('\n')
            .ok_or(ProtocolError::Malformed("no old size line"))?;
        let old_size = first
            .strip_prefix("old ")
            .and_then(decimal)
            .ok_or(ProtocolError::Malformed("the first line must be `old <decimal>`"))?;
        let mut proof = Vec::new();
        loop {
            let (line, tail) = rest
                .split_once('\n')
                .ok_or(ProtocolError::Malformed("no empty line before the checkpoint"))?;
            rest = tail;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(ProtocolError::Malformed("more than 63 consistency proof lines"));
            }
            let h = Hash::from_base64(line)
                .map_err(|_| ProtocolError::Malformed("a proof line must be base64 of 32 bytes"))?;
            proof.push(h);
        }
        if rest.is_empty() {
            return Err(ProtocolError::Malformed("no checkpoint after the empty line"));
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            checkpoint: rest.to_owned(),
        })
    }
}

/// The body of a `409` answer: the witness's size and a newline.
pub fn size_body(size: u64) -> String {
    format!("{size}\n")
}

/// Parse the body of a `409` answer.
pub fn parse_size_body(body: &[u8]) -> Result<u64, ProtocolError> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.strip_suffix('\n'))
        .and_then(decimal)
        .ok_or(ProtocolError::Malformed("a size body is `<decimal>\\n`"))
}

/// Parse the body of a `200` answer: one or more signature lines, each
/// ending in a newline. Which of them verify is for the caller to decide
/// (unknown keys are ignored).
pub fn parse_cosignatures(body: &[u8]) -> Result<Vec<NoteSignature>, ProtocolError> {
    if body.len() > MAX_COSIGNATURE_BODY_BYTES {
        return Err(ProtocolError::TooLarge(body.len()));
    }
    let text = std::str::from_utf8(body).map_err(|_| ProtocolError::Malformed("not UTF-8"))?;
    let lines = text
        .strip_suffix('\n')
        .ok_or(ProtocolError::Malformed("cosignature lines end in a newline"))?;
    lines
        .split('\n')
        .enumerate()
        .map(|(i, l)| NoteSignature::from_line(l, i + 1).map_err(ProtocolError::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(b: u8) -> Hash {
        Hash::from_slice(&[b; 32]).unwrap()
    }

    #[test]
    fn round_trips_and_matches_the_c2sp_example() {
        let req = AddCheckpoint {
            old_size: 20852014,
            proof: vec![h(1), h(2)],
            checkpoint: "o\n3\nAAAA\n\n\u{2014} o AAAA\n".into(),
        };
        assert_eq!(AddCheckpoint::parse(&req.to_bytes()).unwrap(), req);
        // The example request of tlog-witness.md, byte for byte.
        let example = "old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";
        let parsed = AddCheckpoint::parse(example.as_bytes()).unwrap();
        assert_eq!(parsed.old_size, 20852014);
        assert_eq!(parsed.proof.len(), 4);
        assert!(parsed.checkpoint.starts_with("example.com/behind-the-sofa\n20852163\n"));
        assert_eq!(parsed.to_bytes(), example.as_bytes());
    }

    #[test]
    fn refuses_what_the_text_forbids() {
        let bad = |b: &str| AddCheckpoint::parse(b.as_bytes()).unwrap_err();
        assert!(matches!(bad("old 01\n\ncp\n"), ProtocolError::Malformed(_)));
        assert!(matches!(bad("old -1\n\ncp\n"), ProtocolError::Malformed(_)));
        assert!(matches!(bad("old 1\nnot-base64\n\ncp\n"), ProtocolError::Malformed(_)));
        assert!(matches!(bad("old 1\n\n"), ProtocolError::Malformed(_)));
        assert!(matches!(bad("old 1\ncp"), ProtocolError::Malformed(_)));
        let many: String = (0..64).map(|_| format!("{}\n", h(7).to_base64())).collect();
        assert!(matches!(
            bad(&format!("old 1\n{many}\ncp\n")),
            ProtocolError::Malformed(_)
        ));
        let sixty_three: String = (0..63).map(|_| format!("{}\n", h(7).to_base64())).collect();
        assert!(AddCheckpoint::parse(format!("old 1\n{sixty_three}\ncp\n").as_bytes()).is_ok());
        assert!(matches!(
            AddCheckpoint::parse(&vec![b'a'; MAX_ADD_CHECKPOINT_BYTES + 1]),
            Err(ProtocolError::TooLarge(_))
        ));
    }

    #[test]
    fn size_and_cosignature_bodies() {
        assert_eq!(parse_size_body(size_body(42).as_bytes()), Ok(42));
        assert_eq!(parse_size_body(b"0\n"), Ok(0));
        for bad in ["42", "042\n", "\n", "4 2\n", "42\n\n"] {
            assert!(parse_size_body(bad.as_bytes()).is_err(), "{bad:?}");
        }
        // The example answer of tlog-witness.md.
        let body = "\u{2014} witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n\u{2014} witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==\n";
        let sigs = parse_cosignatures(body.as_bytes()).unwrap();
        assert_eq!(sigs.len(), 2);
        assert_eq!(sigs[1].name, "witness.example/w2");
        assert_eq!(sigs[0].signature.len(), 72, "timestamp and Ed25519 signature");
        assert!(parse_cosignatures(b"").is_err());
        assert!(parse_cosignatures("\u{2014} w AAAA".as_bytes()).is_err());
        assert!(parse_cosignatures(b"garbage\n").is_err());
    }
}
