//! The durable store: one redb database file. Every commit is one write
//! transaction with `Durability::Immediate` and two-phase commit, so a batch
//! is either wholly on stable storage when `commit` returns or not at all.

use std::path::Path;

use cairn_api::merkle::{Hash, NodeId};
use redb::{Database, Durability, ReadableTable, TableDefinition};

use cairn_api::entry::KeyRole;
use cairn_api::keys::VerifierKey;

use super::redb_handle::Handle;
use super::{CommitBatch, KeyEvent, LogState, Store, StoreError, check_batch, frontier_from};

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
const NODES: TableDefinition<(u8, u64), &[u8]> = TableDefinition::new("nodes");
const CHECKPOINTS: TableDefinition<u64, &str> = TableDefinition::new("checkpoints");
const LEAVES: TableDefinition<&[u8], u64> = TableDefinition::new("leaves");
const IDEMPOTENCY: TableDefinition<(&str, &str), u64> = TableDefinition::new("idempotency");
const KEYS: TableDefinition<u64, &str> = TableDefinition::new("keys");
const BUNDLES: TableDefinition<&[u8], u64> = TableDefinition::new("bundles");
/// Tables of earlier versions that held the incident-query rows inside the
/// durable commit; they live in the query index now and are dropped when
/// the database is opened for writing.
const RETIRED: [&str; 3] = ["fields", "times", "break_glass"];

const SIZE: &str = "size";

/// A redb-backed store.
#[derive(Debug)]
pub struct RedbStore {
    db: Handle,
}

pub(super) fn b<E: std::error::Error + Send + Sync + 'static>(op: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::backend(op, e)
}

/// Run a read or a commit, turning a panic inside the storage library (a
/// damaged page can make redb panic) into [`StoreError::Corrupt`] naming
/// what was being read, so that fsck and export report the damage and the
/// serving ledger answers 503 instead of losing a thread.
fn guarded<T>(what: impl FnOnce() -> String, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_owned());
            Err(StoreError::Corrupt(format!(
                "the storage library failed reading {}: {msg} (a damaged page)",
                what()
            )))
        }
    }
}

/// A key event row: `registered<TAB>role<TAB>key_ref<TAB>vkey`, the role
/// as [`KeyRole::as_str`] names it.
fn encode_key(k: &KeyEvent) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        u8::from(k.registered),
        k.role.as_str(),
        k.key_ref(),
        k.key
    )
}

fn decode_key(s: &str) -> Result<KeyEvent, StoreError> {
    let bad = || StoreError::Corrupt(format!("key event {s:?} is malformed"));
    let mut p = s.splitn(4, '\t');
    let (Some(reg), Some(role), Some(key_ref), Some(vkey)) = (p.next(), p.next(), p.next(), p.next()) else {
        return Err(bad());
    };
    let registered = match reg {
        "1" => true,
        "0" => false,
        _ => return Err(bad()),
    };
    let role = KeyRole::parse(role).ok_or_else(bad)?;
    let key = VerifierKey::parse(vkey).map_err(|_| bad())?;
    if key.key_ref() != key_ref {
        return Err(bad());
    }
    Ok(KeyEvent { key, registered, role })
}

/// The page cache of [`RedbStore::open`]: enough for the right edge of the
/// tree and the recent entries; the process's memory stays bounded whatever
/// the size of the log (redb's own default is 1 GiB).
pub const CACHE_BYTES: usize = 64 << 20;

impl RedbStore {
    /// Open (or create) the database file and make sure every table exists,
    /// with a page cache of [`CACHE_BYTES`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(path, CACHE_BYTES)
    }

    /// [`RedbStore::open`] with a page cache of `cache_bytes`.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        guarded(
            || format!("{} while opening it", path.display()),
            || Self::create(path, cache_bytes),
        )
    }

    fn create(path: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        let db = create_db(path, cache_bytes)?;
        Ok(RedbStore {
            db: Handle::for_writing(db, path, cache_bytes),
        })
    }

    /// Open an existing database file for reading only: nothing in the file
    /// changes, and a file on a read-only medium can be checked. A database
    /// that was not closed cleanly (a crash) needs the recovery that opening
    /// it for writing performs: [`StoreError::NeedsRecovery`].
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let db = guarded(
            || format!("the header and allocator state of {}", path.display()),
            || {
                redb::Builder::new()
                    .set_cache_size(CACHE_BYTES)
                    .open_read_only(path)
                    .map_err(|e| match e {
                        redb::DatabaseError::DatabaseAlreadyOpen => {
                            StoreError::Locked(path.parent().unwrap_or(path).to_owned())
                        }
                        redb::DatabaseError::RepairAborted => StoreError::NeedsRecovery(path.to_owned()),
                        other => StoreError::backend("open", other),
                    })
            },
        )?;
        Ok(RedbStore {
            db: Handle::read_only(db),
        })
    }
}

/// Open (or create) the database file for writing, every table present.
pub(super) fn create_db(path: &Path, cache_bytes: usize) -> Result<Database, StoreError> {
    let db = redb::Builder::new()
        .set_cache_size(cache_bytes)
        .create(path)
        .map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked(path.parent().unwrap_or(path).to_owned()),
            other => StoreError::backend("open", other),
        })?;
    let mut tx = db.begin_write().map_err(b("open"))?;
    tx.set_durability(Durability::Immediate).map_err(b("open"))?;
    tx.set_two_phase_commit(true);
    {
        tx.open_table(META).map_err(b("open"))?;
        tx.open_table(ENTRIES).map_err(b("open"))?;
        tx.open_table(NODES).map_err(b("open"))?;
        tx.open_table(CHECKPOINTS).map_err(b("open"))?;
        tx.open_table(LEAVES).map_err(b("open"))?;
        tx.open_table(IDEMPOTENCY).map_err(b("open"))?;
        tx.open_table(KEYS).map_err(b("open"))?;
        tx.open_table(BUNDLES).map_err(b("open"))?;
        for name in RETIRED {
            // By name: redb deletes a table whatever its key and value types.
            tx.delete_table(TableDefinition::<(), ()>::new(name))
                .map_err(b("open"))?;
        }
    }
    tx.commit().map_err(b("open"))?;
    Ok(db)
}

impl Store for RedbStore {
    fn state(&self) -> Result<LogState, StoreError> {
        guarded(
            || "the log state".to_owned(),
            || {
                self.db.recover()?;
                let size = self.size()?;
                let checkpoint = if size == 0 { None } else { self.checkpoint(size)? };
                Ok(LogState {
                    frontier: frontier_from(self, size)?,
                    checkpoint,
                })
            },
        )
    }

    fn size(&self) -> Result<u64, StoreError> {
        guarded(
            || "the tree size".to_owned(),
            || {
                let tx = self.db.begin_read()?;
                let t = tx.open_table(META).map_err(b("read"))?;
                Ok(t.get(SIZE).map_err(b("read"))?.map_or(0, |v| v.value()))
            },
        )
    }

    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        self.db.recover()?;
        let committed = guarded(
            || format!("the commit of entries {}..{}", batch.first_index, batch.size),
            || {
                let mut tx = self.db.begin_write()?;
                tx.set_durability(Durability::Immediate).map_err(b("commit"))?;
                tx.set_two_phase_commit(true);
                {
                    let mut meta = tx.open_table(META).map_err(b("commit"))?;
                    let size = meta.get(SIZE).map_err(b("commit"))?.map_or(0, |v| v.value());
                    check_batch(size, batch)?;
                    let mut entries = tx.open_table(ENTRIES).map_err(b("commit"))?;
                    let mut leaves = tx.open_table(LEAVES).map_err(b("commit"))?;
                    let mut idem = tx.open_table(IDEMPOTENCY).map_err(b("commit"))?;
                    let mut keys = tx.open_table(KEYS).map_err(b("commit"))?;
                    let mut bundles = tx.open_table(BUNDLES).map_err(b("commit"))?;
                    for (i, e) in batch.entries.iter().enumerate() {
                        let index = batch.first_index + i as u64;
                        entries.insert(index, e.bytes.as_slice()).map_err(b("commit"))?;
                        leaves.insert(e.leaf_hash.0.as_slice(), index).map_err(b("commit"))?;
                        if let Some(r) = &e.receipt {
                            idem.insert((r.idempotency.0.as_str(), r.idempotency.1.as_str()), index)
                                .map_err(b("commit"))?;
                        }
                        if let Some(k) = &e.key {
                            keys.insert(index, encode_key(k).as_str()).map_err(b("commit"))?;
                        }
                        if let Some(h) = e.bundle
                            && bundles.get(h.0.as_slice()).map_err(b("commit"))?.is_none()
                        {
                            bundles.insert(h.0.as_slice(), index).map_err(b("commit"))?;
                        }
                    }
                    let mut nodes = tx.open_table(NODES).map_err(b("commit"))?;
                    for (id, h) in &batch.nodes {
                        nodes
                            .insert((id.level, id.index), h.0.as_slice())
                            .map_err(b("commit"))?;
                    }
                    let mut cps = tx.open_table(CHECKPOINTS).map_err(b("commit"))?;
                    cps.insert(batch.size, batch.checkpoint.as_str()).map_err(b("commit"))?;
                    meta.insert(SIZE, batch.size).map_err(b("commit"))?;
                }
                tx.commit().map_err(b("commit"))
            },
        );
        match &committed {
            Ok(()) => self.db.succeeded(),
            // After an I/O error (a full disk) redb refuses every later
            // call until the file is reopened: mark it for reopening.
            Err(e) if !matches!(e, StoreError::Corrupt(_)) => self.db.failed(e),
            Err(_) => {}
        }
        committed
    }

    fn writable(&self) -> bool {
        self.db.writable()
    }

    fn recover(&self) -> Result<(), StoreError> {
        self.db.probe()
    }

    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        guarded(
            || format!("entry {index}"),
            || {
                let tx = self.db.begin_read()?;
                let t = tx.open_table(ENTRIES).map_err(b("read"))?;
                Ok(t.get(index).map_err(b("read"))?.map(|v| v.value().to_vec()))
            },
        )
    }

    fn node(&self, id: NodeId) -> Result<Option<Hash>, StoreError> {
        guarded(
            || format!("tree node {id:?}"),
            || {
                let tx = self.db.begin_read()?;
                let t = tx.open_table(NODES).map_err(b("read"))?;
                match t.get((id.level, id.index)).map_err(b("read"))? {
                    None => Ok(None),
                    Some(v) => Hash::from_slice(v.value())
                        .map(Some)
                        .map_err(|_| StoreError::Corrupt(format!("node {id:?} is not 32 bytes"))),
                }
            },
        )
    }

    fn head(&self) -> Result<(u64, Option<String>), StoreError> {
        guarded(
            || "the newest checkpoint".to_owned(),
            || {
                let tx = self.db.begin_read()?;
                let size = tx
                    .open_table(META)
                    .map_err(b("read"))?
                    .get(SIZE)
                    .map_err(b("read"))?
                    .map_or(0, |v| v.value());
                if size == 0 {
                    return Ok((0, None));
                }
                let t = tx.open_table(CHECKPOINTS).map_err(b("read"))?;
                let note = t.get(size).map_err(b("read"))?.map(|v| v.value().to_owned());
                Ok((size, note))
            },
        )
    }

    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>, StoreError> {
        guarded(
            || format!("{} tree nodes from {:?}", ids.len(), ids.first()),
            || {
                let tx = self.db.begin_read()?;
                let t = tx.open_table(NODES).map_err(b("read"))?;
                ids.iter()
                    .map(|id| match t.get((id.level, id.index)).map_err(b("read"))? {
                        None => Ok(None),
                        Some(v) => Hash::from_slice(v.value())
                            .map(Some)
                            .map_err(|_| StoreError::Corrupt(format!("node {id:?} is not 32 bytes"))),
                    })
                    .collect()
            },
        )
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        guarded(
            || format!("the checkpoint of size {size}"),
            || {
                let tx = self.db.begin_read()?;
                let t = tx.open_table(CHECKPOINTS).map_err(b("read"))?;
                Ok(t.get(size).map_err(b("read"))?.map(|v| v.value().to_owned()))
            },
        )
    }

    fn checkpoint_sizes(&self, from: u64, to: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        guarded(
            || format!("checkpoint sizes {from}..{to}"),
            || {
                if from > to {
                    return Ok(vec![]);
                }
                let tx = self.db.begin_read()?;
                let t = tx.open_table(CHECKPOINTS).map_err(b("read"))?;
                let mut out = Vec::new();
                for row in t.range(from..=to).map_err(b("read"))?.take(limit) {
                    out.push(row.map_err(b("read"))?.0.value());
                }
                Ok(out)
            },
        )
    }

    fn index_of_leaf(&self, leaf: &Hash) -> Result<Option<u64>, StoreError> {
        guarded(
            || format!("the leaf index of {leaf}"),
            || {
                let tx = self.db.begin_read()?;
                let t = tx.open_table(LEAVES).map_err(b("read"))?;
                Ok(t.get(leaf.0.as_slice()).map_err(b("read"))?.map(|v| v.value()))
            },
        )
    }

    fn index_of_idempotency(&self, gate: &str, key: &str) -> Result<Option<u64>, StoreError> {
        guarded(
            || format!("the idempotency index of ({gate}, {key})"),
            || {
                let tx = self.db.begin_read()?;
                let t = tx.open_table(IDEMPOTENCY).map_err(b("read"))?;
                Ok(t.get((gate, key)).map_err(b("read"))?.map(|v| v.value()))
            },
        )
    }

    fn known(&self, items: &[super::Lookup]) -> Result<Vec<Option<u64>>, StoreError> {
        guarded(
            || format!("the leaf and idempotency indexes for a batch of {}", items.len()),
            || {
                let tx = self.db.begin_read()?;
                let leaves = tx.open_table(LEAVES).map_err(b("read"))?;
                let idempotency = tx.open_table(IDEMPOTENCY).map_err(b("read"))?;
                items
                    .iter()
                    .map(|(leaf, idem)| {
                        if let Some(v) = leaves.get(leaf.0.as_slice()).map_err(b("read"))? {
                            return Ok(Some(v.value()));
                        }
                        match idem {
                            Some((gate, key)) => Ok(idempotency
                                .get((gate.as_str(), key.as_str()))
                                .map_err(b("read"))?
                                .map(|v| v.value())),
                            None => Ok(None),
                        }
                    })
                    .collect()
            },
        )
    }

    fn key_events(&self) -> Result<Vec<(u64, KeyEvent)>, StoreError> {
        guarded(
            || "the key events".to_owned(),
            || {
                let tx = self.db.begin_read()?;
                let t = tx.open_table(KEYS).map_err(b("read"))?;
                let mut out = Vec::new();
                for row in t.iter().map_err(b("read"))? {
                    let (k, v) = row.map_err(b("read"))?;
                    out.push((k.value(), decode_key(v.value())?));
                }
                Ok(out)
            },
        )
    }

    fn bundle_index(&self, hash: &Hash) -> Result<Option<u64>, StoreError> {
        guarded(
            || format!("the bundle index of {hash}"),
            || {
                let tx = self.db.begin_read()?;
                let t = tx.open_table(BUNDLES).map_err(b("read"))?;
                Ok(t.get(hash.0.as_slice()).map_err(b("read"))?.map(|v| v.value()))
            },
        )
    }
}
