//! The export format (docs/spec.md section 18): everything an offline audit
//! needs, as an RFC 8742 CBOR sequence of deterministic CBOR items.
//!
//! ```text
//! ["cairn-export/v1", origin, from]      first, once
//! ["entry", index, entry (bstr)]         every entry from `from` on, in order
//! ["checkpoint", size, note (tstr)]      right after the entry that completes `size`
//! ```
//!
//! [`ExportItem::encode`] writes one item; [`ExportDecoder`] reads a stream
//! without doing I/O itself: [`ExportDecoder::push`] the bytes as they
//! arrive and take items with [`ExportDecoder::next_item`]. The decoder
//! holds at most one item's bytes plus one pushed chunk, checks each item
//! strictly (section 2) and enforces the order rules: the header first,
//! entry indexes contiguous from `from`, each checkpoint right after the
//! entry at index `size - 1`, checkpoint sizes increasing. It does not
//! check signatures or hashes: that is the auditor's job.

use dcbor::CBOR;

use crate::cbor::{self, CborError};
use crate::entry::MAX_ENTRY_BYTES;
use crate::note::{MAX_NOTE_BYTES, MAX_ORIGIN_BYTES};

/// The header's tag.
pub const EXPORT_HEADER: &str = "cairn-export/v1";
/// Largest encoded item: an entry of [`MAX_ENTRY_BYTES`] and its framing.
pub const MAX_EXPORT_ITEM: usize = MAX_ENTRY_BYTES + 64;

/// An export stream is not well formed. Always the producer's fault (the
/// ledger, or whoever altered the file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// An item is not strict deterministic CBOR, or larger than [`MAX_EXPORT_ITEM`].
    #[error("item at byte {offset}: {source}")]
    Cbor {
        /// Where the item starts in the stream.
        offset: u64,
        /// Why it was refused.
        source: CborError,
    },
    /// An item is not `[kind, uint, payload]` with a known kind and payload type.
    #[error("item at byte {offset}: {detail}")]
    Shape {
        /// Where the item starts in the stream.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// The stream does not start with the header, or has it twice.
    #[error("the header must come first and once")]
    Header,
    /// An entry index is not the next one.
    #[error("entry {got} where entry {expected} was due")]
    Gap {
        /// The index due.
        expected: u64,
        /// The index found.
        got: u64,
    },
    /// A checkpoint is not right after the entry that completes it, or its
    /// size does not increase.
    #[error("checkpoint of size {size} after {entries} entries")]
    CheckpointOutOfPlace {
        /// The checkpoint's size.
        size: u64,
        /// How many entries the stream had given by then (counting from 0).
        entries: u64,
    },
    /// The stream ended inside an item.
    #[error("the stream ends inside an item ({0} bytes left over)")]
    Truncated(usize),
    /// The stream ended before its header.
    #[error("the stream is empty")]
    Empty,
}

/// One item of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportItem {
    /// The first item: the log's origin and the first index exported.
    Header {
        /// The log's origin.
        origin: String,
        /// The first entry index in this export.
        from: u64,
    },
    /// A log entry (docs/spec.md section 9) and its index.
    Entry {
        /// Its index in the log.
        index: u64,
        /// The entry's bytes, as stored and hashed.
        bytes: Vec<u8>,
    },
    /// The signed checkpoint of a tree size (a signed note).
    Checkpoint {
        /// The tree size.
        size: u64,
        /// The signed note text.
        note: String,
    },
}

impl ExportItem {
    /// The item's deterministic CBOR encoding.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, n, payload) = match self {
            ExportItem::Header { origin, from } => (EXPORT_HEADER, *from, CBOR::from(origin.as_str())),
            ExportItem::Entry { index, bytes } => ("entry", *index, CBOR::to_byte_string(bytes.as_slice())),
            ExportItem::Checkpoint { size, note } => ("checkpoint", *size, CBOR::from(note.as_str())),
        };
        // The header is [tag, origin, from]; the others [kind, n, payload].
        let fields = match self {
            ExportItem::Header { .. } => vec![CBOR::from(kind), payload, CBOR::from(n)],
            _ => vec![CBOR::from(kind), CBOR::from(n), payload],
        };
        cbor::encode(&CBOR::from(fields))
    }

    fn decode(item: &CBOR, offset: u64) -> Result<Self, ExportError> {
        let shape = |detail: String| ExportError::Shape { offset, detail };
        let a = cbor::array(item, "item").map_err(|e| shape(e.to_string()))?;
        let [kind, second, third] = a else {
            return Err(shape(format!("an item has 3 fields, not {}", a.len())));
        };
        let kind = cbor::text(kind, "kind").map_err(|e| shape(e.to_string()))?;
        match kind {
            EXPORT_HEADER => {
                let origin = cbor::text(second, "origin").map_err(|e| shape(e.to_string()))?;
                if origin.is_empty() || origin.len() > MAX_ORIGIN_BYTES {
                    return Err(shape(format!("origin must be 1 to {MAX_ORIGIN_BYTES} bytes")));
                }
                let from = cbor::uint(third, "from").map_err(|e| shape(e.to_string()))?;
                Ok(ExportItem::Header {
                    origin: origin.to_owned(),
                    from,
                })
            }
            "entry" => {
                let index = cbor::uint(second, "index").map_err(|e| shape(e.to_string()))?;
                let bytes = cbor::bytes(third, "entry").map_err(|e| shape(e.to_string()))?;
                Ok(ExportItem::Entry {
                    index,
                    bytes: bytes.to_vec(),
                })
            }
            "checkpoint" => {
                let size = cbor::uint(second, "size").map_err(|e| shape(e.to_string()))?;
                let note = cbor::text(third, "note").map_err(|e| shape(e.to_string()))?;
                if note.len() > MAX_NOTE_BYTES {
                    return Err(shape(format!("a checkpoint note is at most {MAX_NOTE_BYTES} bytes")));
                }
                Ok(ExportItem::Checkpoint {
                    size,
                    note: note.to_owned(),
                })
            }
            other => Err(shape(format!("unknown item kind {other:?}"))),
        }
    }
}

/// A streaming, order-checking reader of an export. No I/O: push bytes in,
/// take items out.
#[derive(Debug, Default)]
pub struct ExportDecoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed.
    pos: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// `from` once the header is read.
    from: Option<u64>,
    /// The index of the next entry due.
    next: u64,
    /// The size of the last checkpoint read.
    last_checkpoint: Option<u64>,
}

impl ExportDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append bytes that arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.base += self.pos as u64;
            self.buf.clear();
            self.pos = 0;
        } else if self.pos >= 1 << 16 {
            self.base += self.pos as u64;
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The header's `from`, once read.
    pub fn from(&self) -> Option<u64> {
        self.from
    }

    /// How many entries the stream has given, counting from index 0 (the
    /// index of the next entry due).
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// The next complete item, or `None` when more bytes are needed.
    pub fn next_item(&mut self) -> Result<Option<ExportItem>, ExportError> {
        let rest = &self.buf[self.pos..];
        if rest.is_empty() {
            return Ok(None);
        }
        let offset = self.base + self.pos as u64;
        let (item, used) = match cbor::decode_prefix(rest, MAX_EXPORT_ITEM) {
            Ok(x) => x,
            // Wait for more, but never buffer more than one item's worth.
            Err(CborError::Truncated) if rest.len() <= MAX_EXPORT_ITEM => return Ok(None),
            Err(CborError::Truncated) => {
                return Err(ExportError::Cbor {
                    offset,
                    source: CborError::TooLarge {
                        len: rest.len(),
                        limit: MAX_EXPORT_ITEM,
                    },
                });
            }
            Err(source) => return Err(ExportError::Cbor { offset, source }),
        };
        let item = ExportItem::decode(&item, offset)?;
        self.check_order(&item)?;
        self.pos += used;
        Ok(Some(item))
    }

    fn check_order(&mut self, item: &ExportItem) -> Result<(), ExportError> {
        match (item, self.from) {
            (ExportItem::Header { from, .. }, None) => {
                self.from = Some(*from);
                self.next = *from;
            }
            (ExportItem::Header { .. }, Some(_)) | (_, None) => return Err(ExportError::Header),
            (ExportItem::Entry { index, .. }, Some(_)) => {
                if *index != self.next {
                    return Err(ExportError::Gap {
                        expected: self.next,
                        got: *index,
                    });
                }
                self.next += 1;
            }
            (ExportItem::Checkpoint { size, .. }, Some(from)) => {
                let in_place = *size == self.next && *size > from && self.last_checkpoint.is_none_or(|l| *size > l);
                if !in_place {
                    return Err(ExportError::CheckpointOutOfPlace {
                        size: *size,
                        entries: self.next,
                    });
                }
                self.last_checkpoint = Some(*size);
            }
        }
        Ok(())
    }

    /// The stream has ended: refuse a partial item or a missing header.
    pub fn finish(&self) -> Result<(), ExportError> {
        let left = self.buf.len() - self.pos;
        if left > 0 {
            return Err(ExportError::Truncated(left));
        }
        if self.from.is_none() {
            return Err(ExportError::Empty);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(items: &[ExportItem]) -> Vec<u8> {
        items.iter().flat_map(ExportItem::encode).collect()
    }

    fn header(from: u64) -> ExportItem {
        ExportItem::Header {
            origin: "log.example/cairn".into(),
            from,
        }
    }

    fn entry(index: u64) -> ExportItem {
        ExportItem::Entry {
            index,
            bytes: vec![index as u8; 40],
        }
    }

    fn cp(size: u64) -> ExportItem {
        ExportItem::Checkpoint {
            size,
            note: format!("log.example/cairn\n{size}\nAAAA\n\n— x y\n"),
        }
    }

    /// Decode `bytes` pushed in pieces of `step`, until the first error.
    fn decode(bytes: &[u8], step: usize) -> Result<Vec<ExportItem>, ExportError> {
        let mut d = ExportDecoder::new();
        let mut out = Vec::new();
        for chunk in bytes.chunks(step.max(1)) {
            d.push(chunk);
            while let Some(item) = d.next_item()? {
                out.push(item);
            }
        }
        d.finish()?;
        Ok(out)
    }

    #[test]
    fn round_trips_in_any_chunking() {
        let items = vec![header(0), entry(0), cp(1), entry(1), entry(2), cp(3)];
        let bytes = stream(&items);
        for step in [1, 2, 7, 64, bytes.len()] {
            assert_eq!(decode(&bytes, step).unwrap(), items, "step {step}");
        }
        // A resumed export.
        let items = vec![header(5), entry(5), entry(6), cp(7)];
        assert_eq!(decode(&stream(&items), 3).unwrap(), items);
        // The header is [tag, origin, from].
        let h = cbor::decode(&header(3).encode()).unwrap();
        assert_eq!(
            cbor::text(&cbor::array(&h, "h").unwrap()[1], "o").unwrap(),
            "log.example/cairn"
        );
    }

    #[test]
    fn order_violations_by_variant() {
        let cases: Vec<(Vec<ExportItem>, ExportError)> = vec![
            (vec![entry(0)], ExportError::Header),
            (vec![header(0), header(0)], ExportError::Header),
            (vec![header(0), entry(1)], ExportError::Gap { expected: 0, got: 1 }),
            (
                vec![header(0), entry(0), entry(0)],
                ExportError::Gap { expected: 1, got: 0 },
            ),
            (
                vec![header(0), entry(0), cp(2)],
                ExportError::CheckpointOutOfPlace { size: 2, entries: 1 },
            ),
            (
                vec![header(0), entry(0), cp(1), cp(1)],
                ExportError::CheckpointOutOfPlace { size: 1, entries: 1 },
            ),
            (
                vec![header(2), cp(2)],
                ExportError::CheckpointOutOfPlace { size: 2, entries: 2 },
            ),
        ];
        for (items, want) in cases {
            assert_eq!(decode(&stream(&items), 5).unwrap_err(), want, "{items:?}");
        }
    }

    #[test]
    fn malformed_streams_by_variant() {
        let good = stream(&[header(0), entry(0), cp(1)]);
        assert_eq!(
            decode(&good[..good.len() - 1], 4).unwrap_err(),
            ExportError::Truncated(good.len() - 1 - stream(&[header(0), entry(0)]).len())
        );
        assert_eq!(decode(&[], 1).unwrap_err(), ExportError::Empty);
        // Not canonical: a uint in a longer form than needed.
        let mut bad = stream(&[header(0)]);
        bad.extend([0x83, 0x65, b'e', b'n', b't', b'r', b'y', 0x18, 0x00, 0x40]);
        assert!(
            matches!(decode(&bad, 3).unwrap_err(), ExportError::Cbor { offset, .. } if offset == stream(&[header(0)]).len() as u64)
        );
        // Wrong shapes.
        for item in [
            CBOR::from(vec![CBOR::from("entry"), CBOR::from(0u64)]),
            CBOR::from(vec![CBOR::from("entry"), CBOR::from(0u64), CBOR::from("text")]),
            CBOR::from(vec![CBOR::from("tile"), CBOR::from(0u64), CBOR::from("x")]),
            CBOR::from(vec![CBOR::from(EXPORT_HEADER), CBOR::from(""), CBOR::from(0u64)]),
            CBOR::from(7u64),
        ] {
            let mut s = stream(&[header(0)]);
            s.extend(cbor::encode(&item));
            assert!(
                matches!(decode(&s, 64).unwrap_err(), ExportError::Shape { .. }),
                "{item:?}"
            );
        }
        // A claimed length beyond the item limit fails once that much is
        // buffered, instead of buffering forever.
        let mut s = stream(&[header(0)]);
        s.extend([0x83, 0x65, b'e', b'n', b't', b'r', b'y', 0x00, 0x5a, 0x10, 0, 0, 0]);
        s.extend(vec![0u8; MAX_EXPORT_ITEM + 1]);
        let e = decode(&s, 1 << 16).unwrap_err();
        assert!(
            matches!(
                e,
                ExportError::Cbor {
                    source: CborError::TooLarge { .. },
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
