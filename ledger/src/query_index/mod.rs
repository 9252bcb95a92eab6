//! The incident-query index: derived data, kept out of the durable commit.
//!
//! The ledger's durable commit holds what an acknowledgement needs (the
//! entries, the tree, the checkpoint, and the leaf-hash and idempotency
//! indexes admission reads). The rows incident review searches by
//! (subject, surface, action, target, decision, gate; break-glass) are
//! derived from the committed entries and live in a database of their own
//! (`index.redb` beside `ledger.redb`), written after the acknowledgement
//! by a [`follower`] with its own cursor, [`QueryIndex::indexed`]: every
//! entry below it has all its rows, none at or above it has any.
//!
//! Its commits are not made durable one by one: a crash loses at most the
//! last few seconds of rows, and the cursor with them (they are one
//! transaction), so the follower derives them again from the entries on
//! start. A deleted or damaged `index.redb` is rebuilt the same way.
//! Queries read the index below its cursor and the entries above it
//! directly, so an index that lags makes a query slower, never
//! incomplete; `fsck` re-derives every row and compares.

pub mod follower;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use cairn_api::merkle::{Hash, MerkleHasher, Sha256};

use crate::store::{Field, ReceiptIndex, Store, StoreError};

/// The index's file name in a data directory (beside `ledger.redb`).
pub const INDEX_FILE: &str = "index.redb";

/// Where the query index of the database file `db` lives: `index.redb`
/// beside a data directory's `ledger.redb`, else `<name>.index` beside
/// `db` (so that two databases in one directory have two indexes).
pub fn path_for(db: &Path) -> std::path::PathBuf {
    match db.file_name().and_then(|n| n.to_str()) {
        Some(crate::start::DB_FILE) => db.with_file_name(INDEX_FILE),
        Some(name) => db.with_file_name(format!("{name}.index")),
        None => db.with_file_name(INDEX_FILE),
    }
}
/// The index database's page cache: the right edge of each field's rows.
pub const INDEX_CACHE_BYTES: usize = 16 << 20;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const FIELDS: TableDefinition<(u8, &str, u64), ()> = TableDefinition::new("fields");
const BREAK_GLASS: TableDefinition<u64, ()> = TableDefinition::new("break_glass");
/// The leaf hash of the last entry indexed, beside the cursor: an index
/// whose tip is not the log's entry at that index was derived from another
/// log (a data directory restored or replaced) and is rebuilt.
const TIP: TableDefinition<&str, &[u8]> = TableDefinition::new("tip");
const INDEXED: &str = "indexed";

fn b<E: std::error::Error + Send + Sync + 'static>(op: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::backend(op, e)
}

/// The rows of one entry: a receipt's index rows, or none.
pub type Rows = Option<ReceiptIndex>;

/// How many rows the index holds, for `fsck`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowCounts {
    /// (field, value, index) rows.
    pub fields: u64,
    /// Break-glass rows.
    pub break_glass: u64,
}

impl RowCounts {
    /// The rows one entry contributes.
    pub fn of(rows: &Rows) -> Self {
        rows.as_ref().map_or_else(Self::default, |r| RowCounts {
            fields: r.fields.len() as u64,
            break_glass: u64::from(r.break_glass),
        })
    }

    /// Add another count.
    pub fn add(&mut self, other: Self) {
        self.fields += other.fields;
        self.break_glass += other.break_glass;
    }
}

/// The database, open for writing or (fsck) for reading only.
enum Db {
    Writable(Database),
    ReadOnly(redb::ReadOnlyDatabase),
}

impl Db {
    fn begin_read(&self) -> Result<redb::ReadTransaction, StoreError> {
        match self {
            Db::Writable(d) => d.begin_read(),
            Db::ReadOnly(d) => d.begin_read(),
        }
        .map_err(b("read the query index"))
    }

    fn begin_write(&self, op: &'static str) -> Result<redb::WriteTransaction, StoreError> {
        match self {
            Db::Writable(d) => d.begin_write().map_err(b(op)),
            Db::ReadOnly(_) => Err(StoreError::ReadOnly),
        }
    }
}

/// The query index database.
pub struct QueryIndex {
    db: Db,
    /// The cursor as of the last commit (readers take it without a
    /// transaction; it never runs ahead of what a read transaction sees).
    indexed: AtomicU64,
}

impl std::fmt::Debug for QueryIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryIndex")
            .field("indexed", &self.indexed())
            .finish_non_exhaustive()
    }
}

impl QueryIndex {
    /// Open (or create) the index file. A file that is not a database this
    /// ledger can read is the caller's to replace ([`QueryIndex::rebuild`]).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = redb::Builder::new()
            .set_cache_size(INDEX_CACHE_BYTES)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    StoreError::Locked(path.parent().unwrap_or(path).to_owned())
                }
                other => StoreError::backend("open the query index", other),
            })?;
        Self::with(db)
    }

    /// Delete the index file and start an empty one: it is derived data,
    /// rebuilt from the entries.
    pub fn rebuild(path: &Path) -> Result<Self, StoreError> {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::backend("remove the query index", e)),
        }
        Self::open(path)
    }

    /// Open the index at `path`, or, when it cannot be read (damaged, or
    /// written by a version with another layout), rebuild it empty.
    pub fn open_or_rebuild(path: &Path) -> Result<Self, StoreError> {
        match Self::open(path) {
            Ok(i) => Ok(i),
            Err(e @ StoreError::Locked(_)) => Err(e),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "the query index cannot be read: rebuilding it from the entries");
                Self::rebuild(path)
            }
        }
    }

    /// The index at `path` for the log in `store`: opened, or rebuilt when
    /// it cannot be read or was derived from another log.
    pub fn open_for(path: &Path, store: &dyn Store) -> Result<Self, StoreError> {
        let index = Self::open_or_rebuild(path)?;
        if index.belongs_to(store)? {
            return Ok(index);
        }
        tracing::warn!(
            path = %path.display(),
            indexed = index.indexed(),
            "the query index was derived from another log (a data directory restored or replaced): rebuilding it"
        );
        drop(index);
        Self::rebuild(path)
    }

    /// An index held in memory (a ledger on a memory store, tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = redb::Builder::new()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(b("open the query index"))?;
        Self::with(db)
    }

    /// Open an existing index file for reading only (fsck).
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let db = redb::Builder::new()
            .set_cache_size(INDEX_CACHE_BYTES)
            .open_read_only(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    StoreError::Locked(path.parent().unwrap_or(path).to_owned())
                }
                redb::DatabaseError::RepairAborted => StoreError::NeedsRecovery(path.to_owned()),
                other => StoreError::backend("open the query index", other),
            })?;
        let db = Db::ReadOnly(db);
        let indexed = read_cursor(&db)?;
        Ok(QueryIndex {
            db,
            indexed: AtomicU64::new(indexed),
        })
    }

    fn with(db: Database) -> Result<Self, StoreError> {
        let tx = db.begin_write().map_err(b("open the query index"))?;
        {
            tx.open_table(META).map_err(b("open the query index"))?;
            tx.open_table(FIELDS).map_err(b("open the query index"))?;
            tx.open_table(BREAK_GLASS).map_err(b("open the query index"))?;
            tx.open_table(TIP).map_err(b("open the query index"))?;
        }
        tx.commit().map_err(b("open the query index"))?;
        let db = Db::Writable(db);
        let indexed = read_cursor(&db)?;
        Ok(QueryIndex {
            db,
            indexed: AtomicU64::new(indexed),
        })
    }

    /// Entries `0..indexed()` have their rows; none after has any.
    pub fn indexed(&self) -> u64 {
        self.indexed.load(Ordering::Acquire)
    }

    /// Add the rows of entries `first..first + rows.len()`, the last of
    /// which has the leaf hash `tip`. `first` must be the cursor (anything
    /// else is refused and changes nothing). Durable only when `durable`; a
    /// commit that is not durable is lost in a crash together with the
    /// cursor that covers it.
    pub fn apply(&self, first: u64, rows: &[Rows], tip: &Hash, durable: bool) -> Result<(), StoreError> {
        let op = "write the query index";
        let mut tx = self.db.begin_write(op)?;
        tx.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })
        .map_err(b(op))?;
        let next = {
            let mut meta = tx.open_table(META).map_err(b(op))?;
            let at = meta.get(INDEXED).map_err(b(op))?.map_or(0, |v| v.value());
            if at != first {
                return Err(StoreError::Corrupt(format!(
                    "the query index is at {at}, not at {first} where these rows start"
                )));
            }
            let mut fields = tx.open_table(FIELDS).map_err(b(op))?;
            let mut bg = tx.open_table(BREAK_GLASS).map_err(b(op))?;
            for (index, r) in (first..).zip(rows) {
                let Some(r) = r else { continue };
                for (f, v) in &r.fields {
                    fields.insert((f.tag(), v.as_str(), index), ()).map_err(b(op))?;
                }
                if r.break_glass {
                    bg.insert(index, ()).map_err(b(op))?;
                }
            }
            let next = first + rows.len() as u64;
            meta.insert(INDEXED, next).map_err(b(op))?;
            tx.open_table(TIP)
                .map_err(b(op))?
                .insert(INDEXED, tip.0.as_slice())
                .map_err(b(op))?;
            next
        };
        tx.commit().map_err(b(op))?;
        self.indexed.store(next, Ordering::Release);
        Ok(())
    }

    /// The leaf hash of the last entry indexed (none before the first).
    pub fn tip(&self) -> Result<Option<Hash>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = match tx.open_table(TIP) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(StoreError::backend("read the query index", e)),
        };
        match t.get(INDEXED).map_err(b("read the query index"))? {
            None => Ok(None),
            Some(v) => Hash::from_slice(v.value())
                .map(Some)
                .map_err(|_| StoreError::Corrupt("the query index's tip is not 32 bytes".into())),
        }
    }

    /// Whether this index was derived from `store`'s log: it covers no more
    /// entries than the log has, and its tip is the leaf hash of the log's
    /// entry at that index (the log is append-only, so the rows below are
    /// the log's too).
    pub fn belongs_to(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let indexed = self.indexed();
        if indexed == 0 {
            return Ok(true);
        }
        if indexed > store.size()? {
            return Ok(false);
        }
        let Some(bytes) = store.entry(indexed - 1)? else {
            return Ok(false);
        };
        Ok(self.tip()? == Some(Sha256::hash_leaf(&bytes)))
    }

    /// Make every commit so far durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write("flush the query index")?;
        tx.set_durability(Durability::Immediate)
            .map_err(b("flush the query index"))?;
        tx.commit().map_err(b("flush the query index"))
    }

    /// Indexes of receipts with `field == value`, ascending, after `after`
    /// (exclusive), at most `limit`.
    pub fn scan(&self, field: Field, value: &str, after: Option<u64>, limit: usize) -> Result<Vec<u64>, StoreError> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        let tx = self.db.begin_read()?;
        let t = tx.open_table(FIELDS).map_err(b("read the query index"))?;
        let mut out = Vec::new();
        for row in t
            .range((field.tag(), value, start)..=(field.tag(), value, u64::MAX))
            .map_err(b("read the query index"))?
            .take(limit)
        {
            out.push(row.map_err(b("read the query index"))?.0.value().2);
        }
        Ok(out)
    }

    /// Indexes of break-glass receipts after `after`, at most `limit`.
    pub fn scan_break_glass(&self, after: Option<u64>, limit: usize) -> Result<Vec<u64>, StoreError> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        let tx = self.db.begin_read()?;
        let t = tx.open_table(BREAK_GLASS).map_err(b("read the query index"))?;
        let mut out = Vec::new();
        for row in t.range(start..).map_err(b("read the query index"))?.take(limit) {
            out.push(row.map_err(b("read the query index"))?.0.value());
        }
        Ok(out)
    }

    /// Whether the index holds the row (field, value, index).
    pub fn has(&self, field: Field, value: &str, index: u64) -> Result<bool, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(FIELDS).map_err(b("read the query index"))?;
        Ok(t.get((field.tag(), value, index))
            .map_err(b("read the query index"))?
            .is_some())
    }

    /// Whether the index marks entry `index` as break-glass.
    pub fn has_break_glass(&self, index: u64) -> Result<bool, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(BREAK_GLASS).map_err(b("read the query index"))?;
        Ok(t.get(index).map_err(b("read the query index"))?.is_some())
    }

    /// How many rows the index holds.
    pub fn counts(&self) -> Result<RowCounts, StoreError> {
        let tx = self.db.begin_read()?;
        let fields = tx.open_table(FIELDS).map_err(b("read the query index"))?;
        let bg = tx.open_table(BREAK_GLASS).map_err(b("read the query index"))?;
        Ok(RowCounts {
            fields: fields.len().map_err(b("read the query index"))?,
            break_glass: bg.len().map_err(b("read the query index"))?,
        })
    }
}

fn read_cursor(db: &Db) -> Result<u64, StoreError> {
    let tx = db.begin_read()?;
    let meta = match tx.open_table(META) {
        Ok(t) => t,
        // A read-only open of a file without the tables: nothing indexed.
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(StoreError::backend("read the query index", e)),
    };
    Ok(meta
        .get(INDEXED)
        .map_err(b("read the query index"))?
        .map_or(0, |v| v.value()))
}
