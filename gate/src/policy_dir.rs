//! Pack a policy directory into a canonical bundle.
//!
//! A policy directory holds `bundle.json` with the manifest's metadata
//!
//! ```json
//! { "bundle_id": "devops-staging", "revision": 3,
//!   "engine": { "name": "cairn-rules", "version": "1" },
//!   "created_at": "2026-11-21T00:00:00Z" }
//! ```
//!
//! and the engine's files (`rules.toml` or `rules.json`; or
//! `policies.cedar` with optional `schema.cedarschema` and
//! `entities.json`), plus anything else the author wants archived. Every
//! regular file except `bundle.json` and hidden files (names starting with
//! `.`) goes into the bundle under its `/`-separated relative path. The same
//! directory always packs to the same bytes: nothing comes from the clock or
//! the file system's order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_api::policy::bundle::{MAX_BUNDLE_BYTES, MAX_BUNDLE_FILES};
use cairn_api::policy::{Bundle, BundleError, EngineRef};
use cairn_api::timestamp::Timestamp;
use cairn_host::file::{ReadError, read_bounded};
use serde::Deserialize;

/// The metadata file of a policy directory.
pub const BUNDLE_META: &str = "bundle.json";
/// Largest `bundle.json` read, in bytes.
pub const MAX_META_BYTES: u64 = 64 * 1024;

/// A directory could not be packed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// Reading the directory or a file failed.
    #[error("{path}: {source}")]
    Io {
        /// Which path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `bundle.json` is missing or malformed.
    #[error("{path}: {problem}")]
    Meta {
        /// Which file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A file is a symlink, too large, or has a name that is not UTF-8.
    #[error("{path}: {problem}")]
    File {
        /// Which file.
        path: PathBuf,
        /// What is wrong.
        problem: &'static str,
    },
    /// A file could not be read within its bound.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The files do not make a valid bundle.
    #[error("bundle: {0}")]
    Bundle(#[from] BundleError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    bundle_id: String,
    revision: u64,
    engine: MetaEngine,
    created_at: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetaEngine {
    name: String,
    version: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PackError + '_ {
    move |source| PackError::Io {
        path: path.to_owned(),
        source,
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> Result<(), PackError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let path = e.path();
        let name = e.file_name();
        let Some(name) = name.to_str() else {
            return Err(PackError::File {
                path,
                problem: "file name is not UTF-8",
            });
        };
        if name.starts_with('.') {
            continue;
        }
        let ty = e.file_type().map_err(io(&path))?;
        if ty.is_symlink() {
            return Err(PackError::File {
                path,
                problem: "symbolic links are not packed",
            });
        }
        if ty.is_dir() {
            walk(root, &path, out)?;
            continue;
        }
        let rel: Vec<String> = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let rel = rel.join("/");
        if rel == BUNDLE_META {
            continue;
        }
        if out.len() >= MAX_BUNDLE_FILES {
            return Err(BundleError::TooManyFiles(out.len() + 1).into());
        }
        out.insert(rel, read_bounded(&path, MAX_BUNDLE_BYTES as u64)?);
    }
    Ok(())
}

/// A bundle file, or a policy directory packed: what every command that
/// takes a policy accepts.
pub fn load(path: &Path) -> Result<Bundle, PackError> {
    if path.is_dir() {
        return pack_dir(path);
    }
    let bytes = read_bounded(path, MAX_BUNDLE_BYTES as u64)?;
    Bundle::from_bytes(&bytes).map_err(|e| PackError::Meta {
        path: path.to_owned(),
        problem: format!("not a policy bundle: {e}"),
    })
}

/// Pack `dir` into a bundle.
pub fn pack_dir(dir: &Path) -> Result<Bundle, PackError> {
    let meta_path = dir.join(BUNDLE_META);
    let meta_bytes = read_bounded(&meta_path, MAX_META_BYTES)?;
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files)?;
    pack_parts(&meta_path, &meta_bytes, files)
}

/// Pack a bundle from the bytes of its `bundle.json` (read from `meta_path`,
/// named in errors) and its files: what [`pack_dir`] does once it has read
/// the directory, for bundles compiled into a program.
pub fn pack_parts(meta_path: &Path, meta_bytes: &[u8], files: BTreeMap<String, Vec<u8>>) -> Result<Bundle, PackError> {
    let meta: Meta = serde_json::from_slice(meta_bytes).map_err(|e| PackError::Meta {
        path: meta_path.to_owned(),
        problem: e.to_string(),
    })?;
    let created_at = Timestamp::parse_rfc3339(&meta.created_at).map_err(|e| PackError::Meta {
        path: meta_path.to_owned(),
        problem: format!("created_at: {e}"),
    })?;
    let engine = EngineRef {
        name: meta.engine.name,
        version: meta.engine.version,
    };
    Ok(Bundle::new(&meta.bundle_id, meta.revision, engine, created_at, files)?)
}
