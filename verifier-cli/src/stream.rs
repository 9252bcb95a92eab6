//! Feed an export stream through the engine: read, decode, batch, verify;
//! progress with a percentage and the time left (a bar on a terminal, a
//! line every few seconds in a log): by bytes for an export file, by
//! entries against the ledger's newest checkpoint online.

use std::io::Read;

use cairn_api::export::{ExportDecoder, ExportItem};

use cairn_host::progress::Progress;

use crate::engine::{BATCH_ENTRIES, Engine};
use crate::source::{Source, SourceError};
use crate::tiles::TilesContradiction;

/// Bytes read from the source at a time.
const READ_CHUNK: usize = 1 << 20;

/// Stream the whole export from `source` through `engine`. A malformed
/// stream is a failure in the report (tampered); a source that cannot be
/// read is `cannot_evaluate`.
pub fn run(source: &Source, engine: &mut Engine, quiet: bool) {
    engine.report.source = source.describe();
    let (reader, entries) = match source.open() {
        Ok(r) => r,
        Err(e) => {
            engine.report.cannot_evaluate = Some(e.to_string());
            return;
        }
    };
    let (unit, total) = match source {
        Source::Export(path) => ("bytes", std::fs::metadata(path).ok().map(|m| m.len())),
        Source::Ledger(_) | Source::Tiles(_) => ("entries", entries),
    };
    let mut progress = Progress::new("verified", unit, total, quiet);
    let by_bytes = unit == "bytes";
    if let Err(e) = feed(reader, engine, &mut progress, by_bytes) {
        match e {
            Stop::Source(e) => engine.report.cannot_evaluate = Some(e.to_string()),
            Stop::Export(at, e) => engine
                .report
                .fail(Some(at), format!("the export stream breaks here: {e}")),
            Stop::Tiles(at, c) => engine
                .report
                .fail(Some(at), format!("the tiles contradict the entries: {c}")),
        }
    }
    engine.report.entries = engine.frontier().size();
    progress.finish();
}

enum Stop {
    Source(SourceError),
    /// The index of the next entry due, and why the stream is refused.
    Export(u64, cairn_api::export::ExportError),
    /// The tiles contradict their entries (tampering), at the next entry due.
    Tiles(u64, TilesContradiction),
}

fn feed(mut reader: Box<dyn Read>, engine: &mut Engine, progress: &mut Progress, by_bytes: bool) -> Result<(), Stop> {
    let mut decoder = ExportDecoder::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut batch: Vec<ExportItem> = Vec::new();
    let mut entries_in_batch = 0;
    // Whatever stops the stream, what was read before it is checked and
    // counted (the pending batch is verified before the error is returned).
    let stopped: Result<(), Stop> = 'read: loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                break 'read Err(
                    match e.get_ref().and_then(|inner| inner.downcast_ref::<TilesContradiction>()) {
                        Some(c) => Stop::Tiles(decoder.next_index(), c.clone()),
                        None => Stop::Source(SourceError::Transport {
                            url: engine.report.source.clone(),
                            detail: e.to_string(),
                        }),
                    },
                );
            }
        };
        if n == 0 {
            break 'read Ok(());
        }
        if by_bytes {
            progress.inc(n as u64);
        }
        decoder.push(&buf[..n]);
        loop {
            let item = match decoder.next_item() {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => break 'read Err(Stop::Export(decoder.next_index(), e)),
            };
            match item {
                ExportItem::Header { origin, from } => engine.header(&origin, from),
                ExportItem::Entry { .. } => {
                    entries_in_batch += 1;
                    batch.push(item);
                }
                ExportItem::Checkpoint { .. } => batch.push(item),
            }
            if entries_in_batch >= BATCH_ENTRIES {
                engine.batch(std::mem::take(&mut batch));
                entries_in_batch = 0;
                if !by_bytes {
                    progress.set(engine.frontier().size());
                }
            }
        }
    };
    if !batch.is_empty() {
        engine.batch(batch);
    }
    stopped?;
    decoder.finish().map_err(|e| Stop::Export(decoder.next_index(), e))
}
