//! The redb database handle: opened for writing (serving) or only for
//! reading (fsck, export: they never write a byte of the file they check),
//! and reopened after a storage failure.
//!
//! After an I/O error (a full disk, say) redb refuses every later call
//! ("Previous I/O error occurred. Please close and re-open the database").
//! A failed commit marks the handle broken; the next commit, state reload
//! or readiness check reopens the file (redb recovers it as after a crash)
//! with a backoff of [`FIRST_BACKOFF`] doubling to [`MAX_BACKOFF`], so
//! writes resume within seconds of the cause going away, with no restart.
//! Nothing is acknowledged meanwhile: the commit failed, so its batch was
//! answered 503.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redb::{Database, ReadOnlyDatabase, ReadTransaction, ReadableDatabase};

use super::StoreError;
use super::redb_store::{b, create_db};

/// The first wait between two reopening attempts.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The size of the write that proves the disk takes writes again.
pub const PROBE_BYTES: usize = 256 * 1024;
const PROBE: redb::TableDefinition<u8, &[u8]> = redb::TableDefinition::new("probe");

/// The longest wait between two reopening attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);

enum Db {
    Writable(Database),
    ReadOnly(ReadOnlyDatabase),
}

/// What reopening needs, for a writable handle.
#[derive(Debug)]
struct Reopen {
    path: PathBuf,
    cache_bytes: usize,
    broken: AtomicBool,
    /// The last write failed and no probe has succeeded since.
    failing: AtomicBool,
    /// When the next attempt may be made, and the wait after it.
    backoff: Mutex<(Instant, Duration)>,
}

impl Reopen {
    /// May an attempt (a reopening or a probe) be made now? At most one per
    /// backoff, which doubles up to [`MAX_BACKOFF`] and is reset by success.
    fn attempt(&self) -> Result<(), StoreError> {
        let mut b = self.backoff.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if now < b.0 {
            return Err(StoreError::Reopening);
        }
        b.0 = now + b.1;
        b.1 = (b.1 * 2).min(MAX_BACKOFF);
        Ok(())
    }
}

/// The database, shared by the store's readers and its writer.
pub(super) struct Handle {
    db: RwLock<Option<Arc<Db>>>,
    reopen: Option<Reopen>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("reopen", &self.reopen)
            .finish_non_exhaustive()
    }
}

impl Handle {
    pub(super) fn for_writing(db: Database, path: &Path, cache_bytes: usize) -> Self {
        Handle {
            db: RwLock::new(Some(Arc::new(Db::Writable(db)))),
            reopen: Some(Reopen {
                path: path.to_owned(),
                cache_bytes,
                broken: AtomicBool::new(false),
                failing: AtomicBool::new(false),
                backoff: Mutex::new((Instant::now(), FIRST_BACKOFF)),
            }),
        }
    }

    pub(super) fn read_only(db: ReadOnlyDatabase) -> Self {
        Handle {
            db: RwLock::new(Some(Arc::new(Db::ReadOnly(db)))),
            reopen: None,
        }
    }

    fn current(&self) -> Result<Arc<Db>, StoreError> {
        self.db
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or(StoreError::Reopening)
    }

    pub(super) fn begin_read(&self) -> Result<ReadTransaction, StoreError> {
        match &*self.current()? {
            Db::Writable(db) => db.begin_read().map_err(b("read")),
            Db::ReadOnly(db) => db.begin_read().map_err(b("read")),
        }
    }

    pub(super) fn begin_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        match &*self.current()? {
            Db::Writable(db) => db.begin_write().map_err(b("commit")),
            Db::ReadOnly(_) => Err(StoreError::ReadOnly),
        }
    }

    /// A commit failed with `e`: reopen before the next one.
    pub(super) fn failed(&self, e: &StoreError) {
        if let Some(r) = &self.reopen
            && !r.broken.swap(true, Ordering::SeqCst)
        {
            r.failing.store(true, Ordering::SeqCst);
            tracing::error!(error = %e, "storage failed; the database will be reopened before the next write");
        }
    }

    /// Whether writes can be made durable now (false from a failed commit
    /// until the database is reopened).
    pub(super) fn writable(&self) -> bool {
        self.reopen
            .as_ref()
            .is_none_or(|r| !r.broken.load(Ordering::SeqCst) && !r.failing.load(Ordering::SeqCst))
    }

    /// A commit succeeded: writes are durable again.
    pub(super) fn succeeded(&self) {
        if let Some(r) = &self.reopen {
            r.failing.store(false, Ordering::SeqCst);
        }
    }

    /// After a failure: reopen if needed, then prove that a write of
    /// [`PROBE_BYTES`] can be made durable (and removed again), so that
    /// readiness follows the disk, not a guess. `Ok` when it could.
    pub(super) fn probe(&self) -> Result<(), StoreError> {
        self.recover()?;
        let Some(r) = &self.reopen else {
            return Ok(());
        };
        if !r.failing.load(Ordering::SeqCst) {
            return Ok(());
        }
        r.attempt()?;
        let value = vec![0u8; PROBE_BYTES];
        for write in [true, false] {
            let mut tx = self.begin_write()?;
            tx.set_durability(redb::Durability::Immediate).map_err(b("probe"))?;
            {
                let mut t = tx.open_table(PROBE).map_err(b("probe"))?;
                if write {
                    t.insert(0, value.as_slice()).map_err(b("probe"))?;
                } else {
                    t.remove(0).map_err(b("probe"))?;
                }
            }
            if let Err(e) = tx.commit().map_err(b("probe")) {
                self.failed(&e);
                return Err(e);
            }
        }
        r.failing.store(false, Ordering::SeqCst);
        *r.backoff.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = (Instant::now(), FIRST_BACKOFF);
        tracing::info!("a probe write was made durable; the store is writable again");
        Ok(())
    }

    /// Reopen the database when a commit failed, at most once per backoff.
    pub(super) fn recover(&self) -> Result<(), StoreError> {
        let Some(r) = &self.reopen else {
            return Ok(());
        };
        if !r.broken.load(Ordering::SeqCst) {
            return Ok(());
        }
        r.attempt()?;
        let mut slot = self.db.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Close the broken database first: its file lock must go before
        // the file can be opened again (a reader still holding it makes
        // this attempt fail; the next one succeeds).
        *slot = None;
        match create_db(&r.path, r.cache_bytes) {
            Ok(db) => {
                *slot = Some(Arc::new(Db::Writable(db)));
                r.broken.store(false, Ordering::SeqCst);
                *r.backoff.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = (Instant::now(), FIRST_BACKOFF);
                tracing::info!(path = %r.path.display(), "storage reopened; writes resume");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(path = %r.path.display(), error = %e, "reopening the database failed; retrying");
                Err(e)
            }
        }
    }
}
