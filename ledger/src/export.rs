//! The export: everything an offline audit needs, as an RFC 8742 CBOR
//! sequence (docs/spec.md §18). Items, each deterministic CBOR:
//!
//! ```text
//! ["cairn-export/v1", origin, from]      first
//! ["entry", index, entry (bstr)]         every entry from `from`, in order
//! ["checkpoint", size, note (tstr)]      after the entry that completes `size`
//! ```
//!
//! Resumable: an export from `from` carries entries `from..` and the
//! checkpoints whose size is greater than `from`.

use cairn_api::export::ExportItem;

use crate::store::{CheckpointCursor, Store, StoreError};

pub use cairn_api::export::EXPORT_HEADER;
/// Items per chunk handed to the sink.
pub const EXPORT_CHUNK_ITEMS: usize = 256;

/// Write the export from entry `from` to the log's current size, in chunks
/// of encoded items, reading entries and checkpoint sizes as it goes (memory
/// stays flat whatever the size of the log). `sink` returning `false` stops early (client gone).
pub fn export(
    store: &dyn Store,
    origin: &str,
    from: u64,
    sink: impl FnMut(Vec<u8>) -> bool,
) -> Result<u64, StoreError> {
    export_with_progress(store, origin, from, sink, |_, _| {})
}

/// [`export`], telling `progress` (entries written, entries in all) after
/// every chunk.
pub fn export_with_progress(
    store: &dyn Store,
    origin: &str,
    from: u64,
    mut sink: impl FnMut(Vec<u8>) -> bool,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, StoreError> {
    let size = store.size()?;
    let total = size.saturating_sub(from);
    let mut sizes = CheckpointCursor::new(store, from.saturating_add(1));
    let mut chunk = ExportItem::Header {
        origin: origin.to_owned(),
        from,
    }
    .encode();
    let mut items = 1;
    for index in from..size {
        let bytes = store
            .entry(index)?
            .ok_or_else(|| StoreError::Corrupt(format!("entry {index} is missing")))?;
        chunk.extend(ExportItem::Entry { index, bytes }.encode());
        items += 1;
        while sizes.peek()? == Some(index + 1) {
            let s = index + 1;
            sizes.advance();
            let note = store
                .checkpoint(s)?
                .ok_or_else(|| StoreError::Corrupt(format!("checkpoint {s} is missing")))?;
            chunk.extend(ExportItem::Checkpoint { size: s, note }.encode());
            items += 1;
        }
        if items >= EXPORT_CHUNK_ITEMS {
            if !sink(std::mem::take(&mut chunk)) {
                return Ok(index + 1 - from);
            }
            items = 0;
            progress(index + 1 - from, total);
        }
    }
    if !chunk.is_empty() {
        sink(chunk);
    }
    progress(total, total);
    Ok(total)
}

#[cfg(test)]
mod tests {
    use cairn_api::entry::{Entry, EntryKind};
    use cairn_api::examples;
    use cairn_api::timestamp::Timestamp;

    use super::*;
    use crate::store::MemoryStore;
    use crate::store::tests::batch;

    /// Decode an export with the decoder auditors use (order rules included).
    fn items(bytes: &[u8]) -> Vec<ExportItem> {
        let mut d = cairn_api::export::ExportDecoder::new();
        d.push(bytes);
        let mut out = Vec::new();
        while let Some(item) = d.next_item().unwrap() {
            out.push(item);
        }
        d.finish().unwrap();
        out
    }

    #[test]
    fn exports_entries_and_checkpoints_in_order_and_resumes() {
        let s = MemoryStore::new();
        let entries: Vec<Entry> = (0..300u64)
            .map(|n| {
                let at = Timestamp::from_millis(examples::EXAMPLE_NOW_MS + n).unwrap();
                Entry::new(EntryKind::Receipt, at, examples::signed_receipt(n % 20)).unwrap()
            })
            .collect();
        for r in [0..1usize, 1..200, 200..300] {
            s.commit(&batch(&s.state().unwrap(), &entries[r])).unwrap();
        }
        let mut out = Vec::new();
        let mut chunks = 0;
        let n = export(&s, "log.example/cairn", 0, |c| {
            chunks += 1;
            out.extend(c);
            true
        })
        .unwrap();
        assert_eq!(n, 300);
        assert!(chunks > 1, "streamed in chunks");
        let all = items(&out);
        assert_eq!(all.len(), 1 + 300 + 3);
        let kinds: Vec<&str> = all
            .iter()
            .map(|i| match i {
                ExportItem::Header { .. } => "header",
                ExportItem::Entry { .. } => "entry",
                ExportItem::Checkpoint { .. } => "checkpoint",
            })
            .collect();
        assert_eq!(kinds[0], "header");
        assert_eq!(
            (kinds[1], kinds[2]),
            ("entry", "checkpoint"),
            "checkpoint 1 after entry 0"
        );
        assert_eq!(*kinds.last().unwrap(), "checkpoint");
        assert!(matches!(&all[1], ExportItem::Entry { index: 0, bytes } if *bytes == entries[0].to_cbor()));
        // Resume from 250: entries 250.. and only the final checkpoint.
        let mut tail = Vec::new();
        export(&s, "log.example/cairn", 250, |c| {
            tail.extend(c);
            true
        })
        .unwrap();
        let t = items(&tail);
        assert_eq!(t.len(), 1 + 50 + 1);
        assert!(matches!(&t[1], ExportItem::Entry { index: 250, .. }));
        // A sink that stops early.
        let mut got = 0;
        export(&s, "log.example/cairn", 0, |_| {
            got += 1;
            false
        })
        .unwrap();
        assert_eq!(got, 1);
    }
}
