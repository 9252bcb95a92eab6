//! C2SP tlog-tiles read from storage: a hash tile is a range of the nodes
//! the store keeps as the tree grows (level `8·L`, indexes `N·256 ..
//! N·256 + W`), an entry bundle a range of entries; nothing is hashed to
//! serve either. Shared by `GET /tile/...` and `cairn-ledger export-tiles`.

use cairn_api::merkle::NodeId;
use cairn_api::tiles::{TileId, TileKind, encode_bundle};

use super::{Store, StoreError};

/// The bytes of `tile`, which the caller has checked exists in the tree
/// ([`TileId::exists_in`] the latest size).
pub fn read_tile<S: Store + ?Sized>(store: &S, tile: TileId) -> Result<Vec<u8>, StoreError> {
    let range = tile.first()..tile.first() + u64::from(tile.width);
    match tile.kind {
        TileKind::Hashes { .. } => {
            let level = u8::try_from(tile.kind.tree_level())
                .map_err(|_| StoreError::Corrupt(format!("{tile} is above the tree")))?;
            let ids: Vec<NodeId> = range.map(|index| NodeId { level, index }).collect();
            let mut out = Vec::with_capacity(ids.len() * 32);
            for (id, node) in ids.iter().zip(store.nodes(&ids)?) {
                let h = node.ok_or_else(|| {
                    StoreError::Corrupt(format!("node {}/{} of {tile} is missing", id.level, id.index))
                })?;
                out.extend_from_slice(h.as_bytes());
            }
            Ok(out)
        }
        TileKind::Entries => {
            let mut entries = Vec::with_capacity(usize::from(tile.width));
            for i in range {
                entries.push(
                    store
                        .entry(i)?
                        .ok_or_else(|| StoreError::Corrupt(format!("entry {i} of {tile} is missing")))?,
                );
            }
            encode_bundle(entries.iter().map(Vec::as_slice)).map_err(|e| StoreError::Corrupt(format!("{tile}: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use cairn_api::merkle::{MemoryTree, Sha256, subtree_root};
    use cairn_api::tiles::decode_bundle;

    use super::*;
    use crate::store::MemoryStore;
    use crate::store::tests::filled;

    #[test]
    fn tiles_are_the_stored_nodes_and_entries() {
        let store = MemoryStore::new();
        let entries = filled(&store, 600);
        let size = entries.len() as u64;
        let tree = MemoryTree::<Sha256>::from_leaf_hashes(entries.iter().map(|e| e.leaf_hash()));
        // Level 0: the leaf hashes.
        let t = TileId::full(TileKind::Hashes { level: 0 }, 1);
        let bytes = read_tile(&store, t).unwrap();
        assert_eq!(bytes.len(), 256 * 32);
        assert_eq!(&bytes[..32], entries[256].leaf_hash().as_bytes());
        // Level 1, partial: the roots of the two full level-0 tiles.
        let t = TileId {
            kind: TileKind::Hashes { level: 1 },
            index: 0,
            width: 2,
        };
        assert!(t.exists_in(size));
        let bytes = read_tile(&store, t).unwrap();
        for k in 0..2u64 {
            let want = subtree_root::<Sha256, _>(&tree, k * 256, (k + 1) * 256).unwrap();
            assert_eq!(&bytes[k as usize * 32..][..32], want.as_bytes());
        }
        // The entry bundle of the partial last tile.
        let t = TileId {
            kind: TileKind::Entries,
            index: 2,
            width: (size - 512) as u16,
        };
        let bytes = read_tile(&store, t).unwrap();
        let got = decode_bundle(&bytes, t.width).unwrap();
        assert_eq!(got[0], entries[512].to_cbor().as_slice());
    }
}
