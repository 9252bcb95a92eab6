//! Feed an export stream through the engine: read, decode, batch, verify;
//! a progress line on a terminal.

use std::io::{IsTerminal as _, Read};
use std::time::{Duration, Instant};

use cairn_api::export::{ExportDecoder, ExportItem};

use crate::engine::{BATCH_ENTRIES, Engine};
use crate::source::{Source, SourceError};

/// Bytes read from the source at a time.
const READ_CHUNK: usize = 1 << 20;

/// Stream the whole export from `source` through `engine`. A malformed
/// stream is a failure in the report (tampered); a source that cannot be
/// read is `cannot_evaluate`.
pub fn run(source: &Source, engine: &mut Engine, quiet: bool) {
    engine.report.source = source.describe();
    let reader = match source.open(0) {
        Ok(r) => r,
        Err(e) => {
            engine.report.cannot_evaluate = Some(e.to_string());
            return;
        }
    };
    let progress = !quiet && std::io::stderr().is_terminal();
    if let Err(e) = feed(reader, engine, progress) {
        match e {
            Stop::Source(e) => engine.report.cannot_evaluate = Some(e.to_string()),
            Stop::Export(at, e) => engine
                .report
                .fail(Some(at), format!("the export stream breaks here: {e}")),
        }
    }
    engine.report.entries = engine.frontier().size();
    if progress {
        eprint!("\r\x1b[K");
    }
}

enum Stop {
    Source(SourceError),
    /// The index of the next entry due, and why the stream is refused.
    Export(u64, cairn_api::export::ExportError),
}

fn feed(mut reader: Box<dyn Read>, engine: &mut Engine, progress: bool) -> Result<(), Stop> {
    let mut decoder = ExportDecoder::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut batch: Vec<ExportItem> = Vec::new();
    let mut entries_in_batch = 0;
    let started = Instant::now();
    let mut shown = Instant::now();
    loop {
        let n = reader.read(&mut buf).map_err(|e| {
            Stop::Source(SourceError::Transport {
                url: engine.report.source.clone(),
                detail: e.to_string(),
            })
        })?;
        if n == 0 {
            break;
        }
        decoder.push(&buf[..n]);
        loop {
            let item = match decoder.next_item() {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => return Err(Stop::Export(decoder.next_index(), e)),
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
                if progress && shown.elapsed() > Duration::from_millis(250) {
                    let done = engine.frontier().size();
                    eprint!(
                        "\r\x1b[K  {done} entries verified ({:.0}/s)",
                        done as f64 / started.elapsed().as_secs_f64().max(1e-9)
                    );
                    shown = Instant::now();
                }
            }
        }
    }
    if !batch.is_empty() {
        engine.batch(batch);
    }
    decoder.finish().map_err(|e| Stop::Export(decoder.next_index(), e))
}
