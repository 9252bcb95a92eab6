//! The manifests of archived policy bundles, by bundle hash, read from the
//! log the first time a receipt names a bundle and kept (one per archived
//! bundle, which only authorities add): admission checks a receipt's
//! `policy.bundle_id`, `revision` and `engine` against the bundle its hash
//! names without reading the bundle again.

use std::collections::HashMap;
use std::sync::Mutex;

use cairn_api::entry::Entry;
use cairn_api::merkle::Hash;
use cairn_api::policy::{Bundle, Manifest};

use crate::store::{Store, StoreError};

/// Archived bundles' manifests.
#[derive(Debug, Default)]
pub struct BundleNames(Mutex<HashMap<Hash, Manifest>>);

impl BundleNames {
    /// The manifest of `hash`, if read before.
    pub fn get(&self, hash: &Hash) -> Option<Manifest> {
        self.0.lock().ok()?.get(hash).cloned()
    }

    /// Keep the manifest of `hash`.
    pub fn insert(&self, hash: Hash, manifest: Manifest) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(hash, manifest);
        }
    }
}

/// The manifest of the bundle archived at entry `index` (the store's
/// bundle index said so); anything else there is corruption.
pub fn read_manifest(store: &dyn Store, index: u64) -> Result<Manifest, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(format!("the bundle archived at entry {index}: {what}"));
    let bytes = store.entry(index)?.ok_or_else(|| corrupt("missing".into()))?;
    let entry = Entry::from_cbor(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let msg = entry.sign1().map_err(|e| corrupt(e.to_string()))?;
    let bundle = Bundle::from_bytes(msg.payload()).map_err(|e| corrupt(e.to_string()))?;
    Ok(bundle.manifest().clone())
}
