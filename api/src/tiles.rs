//! C2SP tlog-tiles: the log as static resources (spec section 10.1).
//!
//! - [`TileId`]: a hash tile `tile/<L>/<N>[.p/<W>]` or an entry bundle
//!   `tile/entries/<N>[.p/<W>]`, parsed strictly (one spelling per tile:
//!   no leading zeros, 3-digit path elements, `x` on all but the last,
//!   widths 1–255 only for partial tiles) and written back;
//! - which tiles a tree of a given size has ([`TileId::tiles_for`]) and
//!   whether a tile exists in it ([`TileId::exists_in`]);
//! - entry bundles: each entry prefixed with its length as a big-endian
//!   `u16` ([`encode_bundle`], [`decode_bundle`]); every cairn entry is at
//!   most 65,535 bytes ([`crate::entry::MAX_ENTRY_BYTES`]) so that it fits.
//!
//! A hash tile at level `L` holds the node hashes of tree level `8·L`,
//! indexes `N·256 .. N·256 + W`; those are exactly the nodes the ledger
//! stores as the tree grows (a tile is a range of stored nodes, never
//! recomputed).

use std::fmt;

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels one tile spans (`256 = 2^8`).
pub const TILE_HEIGHT: u8 = 8;
/// The highest tile level C2SP allows.
pub const MAX_TILE_LEVEL: u8 = 63;
/// The longest tile path cairn accepts (a 2^62 tree needs 7 path elements).
pub const MAX_TILE_PATH_BYTES: usize = 64;

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Node hashes at tree level `8 · level`.
    Hashes {
        /// The tile level `L`.
        level: u8,
    },
    /// An entry bundle (level 0's entries).
    Entries,
}

/// One tile: its kind, index `N` and width `W` (256 for a full tile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Hashes or entries.
    pub kind: TileKind,
    /// The tile's index within its level.
    pub index: u64,
    /// How many hashes or entries it holds, 1 to 256.
    pub width: u16,
}

/// A tile path that is not one C2SP tlog-tiles allows: the client's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TilePathError {
    /// Not `tile/...` with a level or `entries`, an index and an optional
    /// `.p/<W>`, in the one spelling C2SP allows.
    #[error("not a C2SP tile path: {0}")]
    Malformed(String),
    /// The level is over 63.
    #[error("tile level {0} is over 63")]
    Level(u64),
}

/// An entry bundle could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// An entry is over 65,535 bytes (a `u16` length prefix).
    #[error("entry {index} is {len} bytes; an entry bundle holds entries of at most 65,535 bytes")]
    EntryTooLarge {
        /// Its position in the bundle.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// The bundle ends inside a length prefix or an entry.
    #[error("the entry bundle ends inside entry {0}")]
    Truncated(usize),
    /// The bundle holds a different number of entries than its width.
    #[error("the entry bundle holds {found} entries, its width is {width}")]
    Width {
        /// Entries found.
        found: usize,
        /// The tile's width.
        width: u16,
    },
}

impl TileKind {
    /// The tree level of the hashes (0 for entry bundles).
    pub fn tree_level(self) -> u32 {
        match self {
            TileKind::Hashes { level } => u32::from(level) * u32::from(TILE_HEIGHT),
            TileKind::Entries => 0,
        }
    }

    /// How many hashes (or entries) a tree of `size` has at this tile
    /// level: `floor(size / 256^L)`.
    pub fn count_in(self, size: u64) -> u64 {
        size.checked_shr(self.tree_level()).unwrap_or(0)
    }
}

impl TileId {
    /// A full tile.
    pub fn full(kind: TileKind, index: u64) -> Self {
        TileId {
            kind,
            index,
            width: TILE_WIDTH as u16,
        }
    }

    /// True for a tile of 256.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The first node (or entry) index at its tree level.
    pub fn first(&self) -> u64 {
        self.index.saturating_mul(TILE_WIDTH)
    }

    /// True when a tree of `size` has this tile, full or partial, with at
    /// least this width (a partial tile of any width up to what the tree
    /// has is served: its content never changes).
    pub fn exists_in(&self, size: u64) -> bool {
        let have = self.kind.count_in(size);
        self.width >= 1
            && u64::from(self.width) <= TILE_WIDTH
            && self
                .first()
                .checked_add(u64::from(self.width))
                .is_some_and(|end| end <= have)
    }

    /// Every tile of `kind` a tree of `size` has, in order: the full tiles,
    /// then the partial one if the level's count is not a multiple of 256.
    pub fn tiles_for(kind: TileKind, size: u64) -> impl Iterator<Item = TileId> {
        let count = kind.count_in(size);
        let full = count / TILE_WIDTH;
        let rest = (count % TILE_WIDTH) as u16;
        (0..full)
            .map(move |n| TileId::full(kind, n))
            .chain((rest > 0).then_some(TileId {
                kind,
                index: full,
                width: rest,
            }))
    }

    /// The levels a tree of `size` has hash tiles at (0 up to the highest
    /// with at least one hash).
    pub fn levels_for(size: u64) -> impl Iterator<Item = u8> {
        (0..=MAX_TILE_LEVEL).take_while(move |l| TileKind::Hashes { level: *l }.count_in(size) > 0)
    }

    /// The path below the log's prefix, `tile/...`.
    pub fn path(&self) -> String {
        self.to_string()
    }

    /// Parse a path `tile/...` (no leading slash).
    pub fn parse(path: &str) -> Result<Self, TilePathError> {
        let bad = || TilePathError::Malformed(path.chars().take(MAX_TILE_PATH_BYTES).collect());
        if path.len() > MAX_TILE_PATH_BYTES {
            return Err(bad());
        }
        let rest = path.strip_prefix("tile/").ok_or_else(bad)?;
        let (kind_part, rest) = rest.split_once('/').ok_or_else(bad)?;
        let kind = if kind_part == "entries" {
            TileKind::Entries
        } else {
            let level = decimal(kind_part).ok_or_else(bad)?;
            if level > u64::from(MAX_TILE_LEVEL) {
                return Err(TilePathError::Level(level));
            }
            TileKind::Hashes { level: level as u8 }
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                let w = decimal(w).filter(|w| (1..TILE_WIDTH).contains(w)).ok_or_else(bad)?;
                (i, w as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let elements: Vec<&str> = index_part.split('/').collect();
        let mut index: u64 = 0;
        for (i, e) in elements.iter().enumerate() {
            let last = i + 1 == elements.len();
            let digits = if last { *e } else { e.strip_prefix('x').ok_or_else(bad)? };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let d: u64 = digits.parse().map_err(|_| bad())?;
            index = index.checked_mul(1000).and_then(|n| n.checked_add(d)).ok_or_else(bad)?;
        }
        let tile = TileId { kind, index, width };
        // One spelling: `x000/001` is the same index as `001` and refused.
        if tile.path() != path {
            return Err(bad());
        }
        Ok(tile)
    }
}

/// A decimal with no leading zeros ("0" itself allowed).
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tile/")?;
        match self.kind {
            TileKind::Hashes { level } => write!(f, "{level}/")?,
            TileKind::Entries => f.write_str("entries/")?,
        }
        let mut groups = Vec::new();
        let mut n = self.index;
        loop {
            groups.push(n % 1000);
            n /= 1000;
            if n == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().rev().enumerate() {
            if i + 1 < groups.len() {
                write!(f, "x{g:03}/")?;
            } else {
                write!(f, "{g:03}")?;
            }
        }
        if !self.is_full() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

/// An entry bundle: each entry prefixed with its length (big-endian `u16`).
pub fn encode_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::new();
    for (index, e) in entries.into_iter().enumerate() {
        let len = u16::try_from(e.len()).map_err(|_| BundleError::EntryTooLarge { index, len: e.len() })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// The entries of an entry bundle of `width` entries, exactly (no bytes
/// left over, no entry missing).
pub fn decode_bundle(bytes: &[u8], width: u16) -> Result<Vec<&[u8]>, BundleError> {
    let mut out = Vec::with_capacity(usize::from(width));
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = out.len();
        let (len, tail) = rest.split_first_chunk::<2>().ok_or(BundleError::Truncated(n))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return Err(BundleError::Truncated(n));
        }
        let (entry, tail) = tail.split_at(len);
        out.push(entry);
        rest = tail;
        if out.len() > usize::from(width) {
            break;
        }
    }
    if out.len() != usize::from(width) {
        return Err(BundleError::Width {
            found: out.len(),
            width,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(level: u8) -> TileKind {
        TileKind::Hashes { level }
    }

    #[test]
    fn paths_are_c2sp_spelling() {
        // C2SP's example: index 1234067 is x001/x234/067.
        let t = TileId::full(hashes(0), 1_234_067);
        assert_eq!(t.path(), "tile/0/x001/x234/067");
        assert_eq!(TileId::parse("tile/0/x001/x234/067"), Ok(t));
        let p = TileId {
            kind: TileKind::Entries,
            index: 5,
            width: 17,
        };
        assert_eq!(p.path(), "tile/entries/005.p/17");
        assert_eq!(TileId::parse("tile/entries/005.p/17"), Ok(p));
        assert_eq!(TileId::parse("tile/63/000").unwrap().kind, hashes(63));
        assert_eq!(TileId::parse("tile/64/000"), Err(TilePathError::Level(64)));
        for bad in [
            "tile/0/1",
            "tile/0/0001",
            "tile/00/000",
            "tile/01/000",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/0/x001",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/017",
            "tile/0/000.p/",
            "tile/0/000/",
            "tile/data/000",
            "tile/-1/000",
            "tile/0/+01",
            "tiles/0/000",
            "/tile/0/000",
            "tile/0/x018/x446/x744/x073/x709/x551/x616/x000",
        ] {
            assert!(
                matches!(TileId::parse(bad), Err(TilePathError::Malformed(_))),
                "{bad} must be refused"
            );
        }
    }

    #[test]
    fn the_tiles_of_c2sp_example_tree() {
        // "a tree of size 70,000 will be represented by 273 full level 0
        // tiles, one partial level 0 tile of width 112, one full level 1
        // tile, one partial level 1 tile of width 17, and one partial level
        // 2 tile of width 1."
        let l0: Vec<_> = TileId::tiles_for(hashes(0), 70_000).collect();
        assert_eq!(l0.len(), 274);
        assert_eq!(l0[273].width, 112);
        assert!(l0[..273].iter().all(TileId::is_full));
        let l1: Vec<_> = TileId::tiles_for(hashes(1), 70_000).collect();
        assert_eq!((l1.len(), l1[0].width, l1[1].width), (2, 256, 17));
        let l2: Vec<_> = TileId::tiles_for(hashes(2), 70_000).collect();
        assert_eq!((l2.len(), l2[0].width), (1, 1));
        assert_eq!(TileId::levels_for(70_000).collect::<Vec<_>>(), vec![0, 1, 2]);
        // "a tree of size 256 will be represented by a full level 0 tile and
        // a partial level 1 tile of width 1."
        assert_eq!(TileId::levels_for(256).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(TileId::tiles_for(hashes(1), 256).next().map(|t| t.width), Some(1));
        assert_eq!(TileId::levels_for(0).count(), 0);
        let e = TileId::full(TileKind::Entries, 273);
        assert!(!e.exists_in(70_000));
        assert!(TileId { width: 112, ..e }.exists_in(70_000));
        assert!(TileId { width: 111, ..e }.exists_in(70_000));
        assert!(!TileId { width: 113, ..e }.exists_in(70_000));
        assert!(!TileId::full(hashes(63), u64::MAX).exists_in(u64::MAX));
    }

    #[test]
    fn bundles_round_trip_and_are_exact() {
        let entries: Vec<Vec<u8>> = vec![b"a".to_vec(), vec![], vec![7; 300]];
        let b = encode_bundle(entries.iter().map(Vec::as_slice)).unwrap();
        assert_eq!(&b[..3], &[0, 1, b'a']);
        let back = decode_bundle(&b, 3).unwrap();
        assert_eq!(back, entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert_eq!(decode_bundle(&b, 2), Err(BundleError::Width { found: 3, width: 2 }));
        assert_eq!(decode_bundle(&b, 4), Err(BundleError::Width { found: 3, width: 4 }));
        assert_eq!(decode_bundle(&b[..b.len() - 1], 3), Err(BundleError::Truncated(2)));
        assert_eq!(decode_bundle(&[0], 1), Err(BundleError::Truncated(0)));
        let big = vec![0u8; 65_536];
        assert_eq!(
            encode_bundle([big.as_slice()]),
            Err(BundleError::EntryTooLarge { index: 0, len: 65_536 })
        );
    }
}
