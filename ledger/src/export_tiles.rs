//! `cairn-ledger export-tiles --out DIR`: the whole log as a static C2SP
//! tlog-tiles tree (`DIR/checkpoint`, `DIR/tile/<L>/<N>[.p/<W>]`,
//! `DIR/tile/entries/<N>[.p/<W>]`) that any web server or CDN can serve
//! and `cairn-verify audit --tiles DIR` audits offline. Tiles are written
//! first and the checkpoint last, so a reader never finds a checkpoint
//! whose tiles are missing.

use std::path::{Path, PathBuf};

use cairn_api::tiles::{TileId, TileKind};

use crate::store::tiles::read_tile;
use crate::store::{Store, StoreError};

/// Why the tile tree could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportTilesError {
    /// The log has no checkpoint yet: there is nothing to serve.
    #[error("the log is empty: no checkpoint to export")]
    Empty,
    /// The output directory exists (an export never overwrites).
    #[error("{0} exists: export-tiles writes a new directory")]
    Exists(PathBuf),
    /// Writing failed (the operator's disk).
    #[error("{path}: {source}")]
    Write {
        /// What was being written.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TilesWritten {
    /// The tree size of the checkpoint.
    pub size: u64,
    /// Hash tiles written.
    pub hash_tiles: u64,
    /// Entry bundles written.
    pub entry_bundles: u64,
}

/// Write the tile tree of the log's latest checkpoint into `out` (a new
/// directory), telling `progress` the entries covered so far.
pub fn export_tiles(
    store: &dyn Store,
    out: &Path,
    mut progress: impl FnMut(u64),
) -> Result<TilesWritten, ExportTilesError> {
    let (size, note) = store.head()?;
    let note = note.ok_or(ExportTilesError::Empty)?;
    if out.exists() {
        return Err(ExportTilesError::Exists(out.to_path_buf()));
    }
    let write = |path: PathBuf, bytes: &[u8]| -> Result<(), ExportTilesError> {
        let fail = |source| ExportTilesError::Write {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        std::fs::write(&path, bytes).map_err(fail)
    };
    let mut written = TilesWritten {
        size,
        hash_tiles: 0,
        entry_bundles: 0,
    };
    for tile in TileId::tiles_for(TileKind::Entries, size) {
        write(out.join(tile.path()), &read_tile(store, tile)?)?;
        written.entry_bundles += 1;
        progress(tile.first() + u64::from(tile.width));
    }
    for level in TileId::levels_for(size) {
        for tile in TileId::tiles_for(TileKind::Hashes { level }, size) {
            write(out.join(tile.path()), &read_tile(store, tile)?)?;
            written.hash_tiles += 1;
        }
    }
    write(out.join("checkpoint"), note.as_bytes())?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::store::tests::filled;

    #[test]
    fn writes_every_tile_then_the_checkpoint_and_never_overwrites() {
        let dir = std::env::temp_dir().join(format!("cairn-export-tiles-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = MemoryStore::new();
        assert!(matches!(
            export_tiles(&store, &dir, |_| {}),
            Err(ExportTilesError::Empty)
        ));
        filled(&store, 300);
        let w = export_tiles(&store, &dir, |_| {}).unwrap();
        assert_eq!((w.size, w.entry_bundles, w.hash_tiles), (300, 2, 3));
        for p in [
            "checkpoint",
            "tile/0/000",
            "tile/0/001.p/44",
            "tile/1/000.p/1",
            "tile/entries/000",
            "tile/entries/001.p/44",
        ] {
            assert!(dir.join(p).is_file(), "{p}");
        }
        assert_eq!(std::fs::read(dir.join("tile/0/000")).unwrap().len(), 256 * 32);
        assert!(matches!(
            export_tiles(&store, &dir, |_| {}),
            Err(ExportTilesError::Exists(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
