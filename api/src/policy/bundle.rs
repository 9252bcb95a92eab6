//! Policy bundles: a manifest and the files it lists, as one canonical
//! deterministic-CBOR file whose SHA-256 hash receipts name.
//!
//! ```text
//! bundle   = { manifest: manifest, files: { * path => bstr } }
//! manifest = { v: 1, bundle_id, revision, engine: {name, version},
//!              files: { * path => bstr .size 32 }, created_at: time }
//! ```
//!
//! Reading a directory is the CLI's job (this crate does no I/O): it hands
//! [`Bundle::new`] the metadata and the files, and the same inputs always
//! give the same bytes.

use std::collections::BTreeMap;

use crate::cbor::{self, CBOR, CborError, FieldError, Fields, Map};
use crate::merkle::{Hash, MerkleHasher, Sha256};
use crate::timestamp::Timestamp;

/// Bundle format version.
pub const BUNDLE_VERSION: u64 = 1;
/// Largest encoded bundle, in bytes.
pub const MAX_BUNDLE_BYTES: usize = 1024 * 1024;
/// Most files in a bundle.
pub const MAX_BUNDLE_FILES: usize = 256;
/// Longest file path in a bundle, in bytes.
pub const MAX_PATH_BYTES: usize = 256;
/// Longest bundle id or engine name/version, in bytes.
pub const MAX_BUNDLE_NAME_BYTES: usize = 256;

/// A bundle was refused. Every variant is the fault of whoever built or
/// sent the bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not deterministic CBOR, or over [`MAX_BUNDLE_BYTES`].
    #[error("bundle encoding: {0}")]
    Encoding(#[from] CborError),
    /// Fields missing, unknown, or of the wrong type.
    #[error("bundle schema: {0}")]
    Schema(#[from] FieldError),
    /// A file path that is not relative, clean and bounded.
    #[error("bad file path {0:?}: relative, '/'-separated, no empty, '.' or '..' segments, at most 256 bytes")]
    BadPath(String),
    /// More than [`MAX_BUNDLE_FILES`] files.
    #[error("bundle has {0} files, the limit is {MAX_BUNDLE_FILES}")]
    TooManyFiles(usize),
    /// A file's bytes do not hash to the manifest's hash.
    #[error("file {0:?} does not match its hash in the manifest")]
    HashMismatch(String),
    /// The manifest lists a file the bundle lacks, or the reverse.
    #[error("file {0:?} is in the manifest or the bundle but not both")]
    FileSetMismatch(String),
    /// A manifest field breaks a rule.
    #[error("manifest {field}: {rule}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The rule.
        rule: &'static str,
    },
    /// Not in the one canonical form.
    #[error("bundle is not in canonical form")]
    NonCanonical,
}

/// The policy engine a bundle is written for, pinned exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EngineRef {
    /// `cairn-rules` or `cedar`.
    pub name: String,
    /// The exact version.
    pub version: String,
}

/// What a bundle says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The bundle's id.
    pub bundle_id: String,
    /// Its revision.
    pub revision: u64,
    /// The engine it is written for.
    pub engine: EngineRef,
    /// SHA-256 of each file.
    pub files: BTreeMap<String, Hash>,
    /// When it was made (from the author, not a clock).
    pub created_at: Timestamp,
}

/// A verified bundle: every file matches its manifest hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    manifest: Manifest,
    files: BTreeMap<String, Vec<u8>>,
    bytes: Vec<u8>,
    hash: Hash,
}

/// Check a bundle file path.
pub fn check_path(p: &str) -> Result<(), BundleError> {
    let ok = !p.is_empty()
        && p.len() <= MAX_PATH_BYTES
        && !p.starts_with('/')
        && !p.contains('\\')
        && !p.chars().any(char::is_control)
        && p.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if ok {
        Ok(())
    } else {
        Err(BundleError::BadPath(p.chars().take(64).collect()))
    }
}

fn check_name(field: &'static str, s: &str) -> Result<(), BundleError> {
    if s.is_empty() || s.len() > MAX_BUNDLE_NAME_BYTES || s.chars().any(char::is_control) {
        return Err(BundleError::Invalid {
            field,
            rule: "must be 1 to 256 bytes without control characters",
        });
    }
    Ok(())
}

impl Bundle {
    /// Build a bundle from its metadata and files (hashes are computed).
    pub fn new(
        bundle_id: &str,
        revision: u64,
        engine: EngineRef,
        created_at: Timestamp,
        files: BTreeMap<String, Vec<u8>>,
    ) -> Result<Self, BundleError> {
        let manifest = Manifest {
            bundle_id: bundle_id.to_owned(),
            revision,
            engine,
            files: files.iter().map(|(p, b)| (p.clone(), Sha256::digest(&[b]))).collect(),
            created_at,
        };
        Self::checked(manifest, files)
    }

    fn checked(manifest: Manifest, files: BTreeMap<String, Vec<u8>>) -> Result<Self, BundleError> {
        check_name("bundle_id", &manifest.bundle_id)?;
        check_name("engine.name", &manifest.engine.name)?;
        check_name("engine.version", &manifest.engine.version)?;
        if files.len() > MAX_BUNDLE_FILES || manifest.files.len() > MAX_BUNDLE_FILES {
            return Err(BundleError::TooManyFiles(files.len().max(manifest.files.len())));
        }
        for (path, want) in &manifest.files {
            check_path(path)?;
            let data = files
                .get(path)
                .ok_or_else(|| BundleError::FileSetMismatch(path.clone()))?;
            if Sha256::digest(&[data]) != *want {
                return Err(BundleError::HashMismatch(path.clone()));
            }
        }
        if let Some(extra) = files.keys().find(|p| !manifest.files.contains_key(*p)) {
            return Err(BundleError::FileSetMismatch(extra.clone()));
        }
        let bytes = encode(&manifest, &files);
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::Encoding(CborError::TooLarge {
                len: bytes.len(),
                limit: MAX_BUNDLE_BYTES,
            }));
        }
        let hash = Sha256::digest(&[&bytes]);
        Ok(Bundle {
            manifest,
            files,
            bytes,
            hash,
        })
    }

    /// Decode a canonical bundle file and verify every file's hash.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BundleError> {
        let c = cbor::decode_with_limit(bytes, MAX_BUNDLE_BYTES)?;
        let mut top = Fields::new(&c, "bundle")?;
        let m = top.required("manifest")?;
        let files_c = top.required("files")?;
        top.finish()?;
        let mut f = Fields::new(m, "bundle.manifest")?;
        if cbor::uint(f.required("v")?, "bundle.manifest.v")? != BUNDLE_VERSION {
            return Err(BundleError::Invalid {
                field: "v",
                rule: "must be 1",
            });
        }
        let bundle_id = cbor::text(f.required("bundle_id")?, "bundle.manifest.bundle_id")?.to_owned();
        let revision = cbor::uint(f.required("revision")?, "bundle.manifest.revision")?;
        let mut e = Fields::new(f.required("engine")?, "bundle.manifest.engine")?;
        let engine = EngineRef {
            name: cbor::text(e.required("name")?, "bundle.manifest.engine.name")?.to_owned(),
            version: cbor::text(e.required("version")?, "bundle.manifest.engine.version")?.to_owned(),
        };
        e.finish()?;
        let mut hashes = BTreeMap::new();
        for (k, v) in text_map(f.required("files")?, "bundle.manifest.files")? {
            hashes.insert(k, Hash(cbor::fixed_bytes::<32>(v, "bundle.manifest.files")?));
        }
        let created_at = Timestamp::from_millis(cbor::uint(f.required("created_at")?, "bundle.manifest.created_at")?)
            .map_err(|_| FieldError::new("bundle.manifest.created_at", "time out of range"))?;
        f.finish()?;
        let mut files = BTreeMap::new();
        for (k, v) in text_map(files_c, "bundle.files")? {
            files.insert(k, cbor::bytes(v, "bundle.files")?.to_vec());
        }
        let manifest = Manifest {
            bundle_id,
            revision,
            engine,
            files: hashes,
            created_at,
        };
        let b = Self::checked(manifest, files)?;
        if b.bytes != bytes {
            return Err(BundleError::NonCanonical);
        }
        Ok(b)
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    /// A file's bytes.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }
    /// Every file, by path.
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }
    /// The canonical bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// SHA-256 of the canonical bytes: the bundle hash receipts name.
    pub fn hash(&self) -> Hash {
        self.hash
    }
}

fn text_map<'a>(v: &'a CBOR, path: &str) -> Result<Vec<(String, &'a CBOR)>, FieldError> {
    let crate::cbor::CBORCase::Map(m) = v.as_case() else {
        return Err(FieldError::new(path, "expected a map"));
    };
    m.iter()
        .map(|(k, v)| Ok((cbor::text(k, path)?.to_owned(), v)))
        .collect()
}

fn encode(m: &Manifest, files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut engine = Map::new();
    engine.insert("name", m.engine.name.as_str());
    engine.insert("version", m.engine.version.as_str());
    let mut hashes = Map::new();
    for (p, h) in &m.files {
        hashes.insert(p.as_str(), CBOR::to_byte_string(h.0));
    }
    let mut manifest = Map::new();
    manifest.insert("v", BUNDLE_VERSION);
    manifest.insert("bundle_id", m.bundle_id.as_str());
    manifest.insert("revision", m.revision);
    manifest.insert("engine", engine);
    manifest.insert("files", hashes);
    manifest.insert("created_at", m.created_at.millis());
    let mut fm = Map::new();
    for (p, b) in files {
        fm.insert(p.as_str(), CBOR::to_byte_string(b));
    }
    let mut top = Map::new();
    top.insert("manifest", manifest);
    top.insert("files", fm);
    cbor::encode(&CBOR::from(top))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Bundle {
        let mut files = BTreeMap::new();
        files.insert("rules.toml".to_owned(), b"[[rule]]\n".to_vec());
        files.insert("docs/README".to_owned(), b"hello".to_vec());
        let engine = EngineRef {
            name: crate::policy::registry::CAIRN_RULES.name().into(),
            version: crate::policy::registry::CAIRN_RULES.version().into(),
        };
        Bundle::new("b", 3, engine, Timestamp::from_millis(5).unwrap(), files).unwrap()
    }

    #[test]
    fn round_trip_and_hash() {
        let b = sample();
        let back = Bundle::from_bytes(b.as_bytes()).unwrap();
        assert_eq!(back, b);
        assert_eq!(back.hash(), Sha256::digest(&[b.as_bytes()]));
        assert_eq!(back.file("docs/README"), Some(&b"hello"[..]));
    }

    #[test]
    fn tampered_files_and_paths_are_refused() {
        let b = sample();
        // Change one byte of a file's contents inside the encoding.
        let mut bytes = b.as_bytes().to_vec();
        let at = bytes.windows(5).position(|w| w == b"hello").unwrap();
        bytes[at] = b'j';
        assert_eq!(
            Bundle::from_bytes(&bytes),
            Err(BundleError::HashMismatch("docs/README".into()))
        );
        for bad in ["/abs", "a/../b", "a//b", "./a", "a\\b", ""] {
            let mut files = BTreeMap::new();
            files.insert(bad.to_owned(), vec![]);
            let e = Bundle::new("b", 1, b.manifest().engine.clone(), b.manifest().created_at, files);
            assert!(matches!(e, Err(BundleError::BadPath(_))), "{bad}");
        }
        let mut trailing = b.as_bytes().to_vec();
        trailing.push(0);
        assert!(matches!(
            Bundle::from_bytes(&trailing),
            Err(BundleError::Encoding(CborError::TrailingBytes(1)))
        ));
    }
}
