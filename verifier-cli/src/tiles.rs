//! Reading a log through C2SP tlog-tiles (a ledger's `/checkpoint` and
//! `/tile/...`, any static server or CDN holding them, or a directory
//! written by `cairn-ledger export-tiles`), presented to the audit engine
//! as the export stream it already reads (spec section 18): the header,
//! every entry from the entry bundles, and the checkpoint.
//!
//! The tiles are checked on the way, not believed: each level-0 tile must
//! hold the leaf hashes of its entry bundle's entries, and each hash of a
//! higher tile the root of the full tile below it. A contradiction is the
//! server's ([`TilesContradiction`], reported as tampering); the engine
//! then recomputes the tree from the entries and checks the checkpoint's
//! signature and root, so every tile served for the checkpoint's tree is
//! verified.

use std::io::Read;
use std::path::PathBuf;

use cairn_api::export::ExportItem;
use cairn_api::merkle::{Hash, MemoryTree, MerkleHasher, Sha256};
use cairn_api::note::{Checkpoint, SignedNote};
use cairn_api::tiles::{TILE_WIDTH, TileId, TileKind, decode_bundle};

use crate::source::{Ledger, SourceError};

/// The largest tile read: a full entry bundle of maximal entries.
pub const MAX_TILE_BYTES: u64 = TILE_WIDTH * (2 + u16::MAX as u64);

/// Where tiles are read from.
pub trait TileStore {
    /// The resource at `path` (`checkpoint` or `tile/...`), bounded.
    fn fetch(&self, path: &str) -> Result<Vec<u8>, SourceError>;
}

impl TileStore for Ledger {
    fn fetch(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        self.get_bounded(&format!("/{path}"), MAX_TILE_BYTES)
    }
}

/// A directory holding a tile tree.
#[derive(Debug, Clone)]
pub struct TileDir(pub PathBuf);

impl TileStore for TileDir {
    fn fetch(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let p = self.0.join(path);
        cairn_host::file::read_bounded(&p, MAX_TILE_BYTES).map_err(|e| SourceError::File {
            path: p,
            source: std::io::Error::other(e.to_string()),
        })
    }
}

/// The tiles contradict themselves or their entries: the server's fault,
/// evidence of tampering (not a transfer failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{tile}: {detail}")]
pub struct TilesContradiction {
    /// The tile.
    pub tile: String,
    /// What is wrong with it.
    pub detail: String,
}

/// The export stream of a tile tree (see the module documentation).
#[derive(Debug)]
pub struct TilesReader<T: TileStore> {
    tiles: T,
    size: u64,
    note: String,
    next_bundle: u64,
    /// Roots of the full tiles of the level checked last.
    roots: Vec<Hash>,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<T: TileStore> TilesReader<T> {
    /// Fetch the checkpoint and start the stream (its header first). The
    /// checkpoint is only parsed here; the engine verifies it.
    pub fn open(tiles: T) -> Result<Self, SourceError> {
        let raw = tiles.fetch("checkpoint")?;
        let malformed = |detail: String| SourceError::Malformed {
            url: "checkpoint".into(),
            detail,
        };
        let note = SignedNote::parse(&raw).map_err(|e| malformed(e.to_string()))?;
        let cp = Checkpoint::parse(note.text()).map_err(|e| malformed(e.to_string()))?;
        let text = String::from_utf8(raw).map_err(|e| malformed(e.to_string()))?;
        Ok(TilesReader {
            tiles,
            size: cp.size,
            note: text,
            next_bundle: 0,
            roots: Vec::new(),
            out: ExportItem::Header {
                origin: cp.origin,
                from: 0,
            }
            .encode(),
            pos: 0,
            done: false,
        })
    }

    /// The checkpoint's tree size (for progress).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Queue the next entry bundle, or (after the last) check the higher
    /// tiles and queue the checkpoint.
    fn fill(&mut self) -> std::io::Result<()> {
        let mut bundles = TileId::tiles_for(TileKind::Entries, self.size).skip(self.next_bundle as usize);
        let Some(bundle) = bundles.next() else {
            self.check_upper_levels()?;
            self.out = ExportItem::Checkpoint {
                size: self.size,
                note: std::mem::take(&mut self.note),
            }
            .encode();
            self.done = true;
            return Ok(());
        };
        self.next_bundle += 1;
        let bytes = self.fetch(&bundle)?;
        let entries = decode_bundle(&bytes, bundle.width).map_err(|e| contradiction(&bundle, e.to_string()))?;
        let leaves: Vec<Hash> = entries.iter().map(|e| Sha256::hash_leaf(e)).collect();
        let tile = TileId {
            kind: TileKind::Hashes { level: 0 },
            ..bundle
        };
        self.check_tile(&tile, &leaves)?;
        for (k, e) in entries.into_iter().enumerate() {
            self.out.extend(
                ExportItem::Entry {
                    index: bundle.first() + k as u64,
                    bytes: e.to_vec(),
                }
                .encode(),
            );
        }
        if bundle.is_full() {
            self.roots.push(root(&leaves));
        }
        Ok(())
    }

    /// Every tile above level 0 holds the roots of the full tiles below.
    fn check_upper_levels(&mut self) -> std::io::Result<()> {
        for level in TileId::levels_for(self.size).skip(1) {
            let below = std::mem::take(&mut self.roots);
            for tile in TileId::tiles_for(TileKind::Hashes { level }, self.size) {
                let start = usize::try_from(tile.first()).unwrap_or(usize::MAX);
                let want = below
                    .get(start..start.saturating_add(usize::from(tile.width)))
                    .ok_or_else(|| contradiction(&tile, "more hashes than full tiles below".into()))?;
                self.check_tile(&tile, want)?;
                if tile.is_full() {
                    self.roots.push(root(want));
                }
            }
        }
        Ok(())
    }

    fn fetch(&self, tile: &TileId) -> std::io::Result<Vec<u8>> {
        self.tiles.fetch(&tile.path()).map_err(std::io::Error::other)
    }

    fn check_tile(&self, tile: &TileId, want: &[Hash]) -> std::io::Result<()> {
        let got = self.fetch(tile)?;
        if got.len() != want.len() * Hash::LEN {
            return Err(contradiction(
                tile,
                format!(
                    "{} bytes, a tile of {} hashes is {}",
                    got.len(),
                    want.len(),
                    want.len() * Hash::LEN
                ),
            ));
        }
        for (k, (g, w)) in got.chunks(Hash::LEN).zip(want).enumerate() {
            if g != w.as_bytes() {
                return Err(contradiction(
                    tile,
                    format!("hash {k} is not the hash the entries below it give ({w})"),
                ));
            }
        }
        Ok(())
    }
}

fn root(hashes: &[Hash]) -> Hash {
    MemoryTree::<Sha256>::from_leaf_hashes(hashes.iter().copied()).root()
}

fn contradiction(tile: &TileId, detail: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        TilesContradiction {
            tile: tile.path(),
            detail,
        },
    )
}

impl<T: TileStore> Read for TilesReader<T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.out.clear();
            self.pos = 0;
            self.fill()?;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
