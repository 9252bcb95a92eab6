//! The PostgreSQL backend: the same [`Store`] as redb, in a database that
//! several ledger instances share, one of them writing at a time
//! ([`super::pg_lease`]).
//!
//! - **Schema**: `pg_schema_1.sql`, applied on open in one transaction
//!   under an advisory lock (instances starting together apply it once);
//!   a schema newer than this ledger knows is refused.
//! - **Durability**: a commit is one transaction (entries, nodes, the
//!   checkpoint, the admission indexes, the log head), acknowledged only
//!   after PostgreSQL's commit returned. A server with `fsync` or
//!   `synchronous_commit` off is refused: its commits are not durable.
//! - **Continuity**: the commit locks the one `log_head` row and refuses a
//!   batch that does not continue the size it holds, so two writers can
//!   never both extend the log from the same size.
//! - **Fencing**: a store [`PgStore::fenced_by`] a [`Leadership`] commits
//!   only under the lease epoch it holds, checked in the commit's own
//!   transaction ([`super::pg_lease`]).
//! - **Identity**: the database records the log key that signs its
//!   checkpoints ([`PgStore::claim_identity`]); an instance with another
//!   key is refused, so two instances can never sign two logs on one table.
//! - **Connections**: a small pool (at most [`MAX_CONNECTIONS`]); a
//!   connection that broke is dropped and a new one opened on demand. Every
//!   session has `idle_in_transaction_session_timeout` =
//!   [`IDLE_IN_TRANSACTION`]: a client that stops talking mid-commit (a
//!   frozen process) loses its transaction and its locks.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use cairn_api::entry::KeyRole;
use cairn_api::keys::VerifierKey;
use cairn_api::merkle::{Hash, NodeId};
use postgres::{Client, NoTls};

use crate::leadership::Leadership;

use super::{CommitBatch, KeyEvent, LogState, Store, StoreError, check_batch, frontier_from};

/// The schema version this ledger writes and reads.
pub const SCHEMA_VERSION: i32 = 1;
/// Most connections one ledger opens.
pub const MAX_CONNECTIONS: usize = 16;
/// The migrations, in order: migration `n` takes the schema to version `n`.
const MIGRATIONS: &[&str] = &[include_str!("pg_schema_1.sql")];
/// How long PostgreSQL lets a session sit idle inside a transaction
/// before it ends the session (and the transaction's locks with it).
pub const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(2);
/// The advisory lock migrations take.
const MIGRATION_LOCK: i64 = 0x6361_6972_6e5f_6d67; // "cairn_mg"

fn backend(op: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::backend(op, e)
}

fn refused(op: &'static str, msg: String) -> StoreError {
    StoreError::backend(op, std::io::Error::other(msg))
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} is beyond what the database stores")))
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("a negative index {v} in the database")))
}

fn hash(b: &[u8]) -> Result<Hash, StoreError> {
    Hash::from_slice(b).map_err(|_| StoreError::Corrupt("a stored hash that is not 32 bytes".into()))
}

/// Connections, opened on demand, at most [`MAX_CONNECTIONS`].
pub(super) struct Pool {
    params: String,
    /// Idle connections, and how many are open in all.
    state: Mutex<(Vec<Client>, usize)>,
    freed: Condvar,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, (Vec<Client>, usize)> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self) -> Result<Client, StoreError> {
        let mut g = self.lock();
        loop {
            if let Some(c) = g.0.pop() {
                if !c.is_closed() {
                    return Ok(c);
                }
                g.1 -= 1;
                continue;
            }
            if g.1 < MAX_CONNECTIONS {
                g.1 += 1;
                drop(g);
                let session = format!(
                    "SET idle_in_transaction_session_timeout = {}",
                    IDLE_IN_TRANSACTION.as_millis()
                );
                return Client::connect(&self.params, NoTls)
                    .and_then(|mut c| c.batch_execute(&session).map(|()| c))
                    .map_err(|e| {
                        let mut g = self.lock();
                        g.1 -= 1;
                        self.freed.notify_one();
                        backend("connect", e)
                    });
            }
            g = self.freed.wait(g).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn put(&self, c: Client) {
        let mut g = self.lock();
        if c.is_closed() {
            g.1 -= 1;
        } else {
            g.0.push(c);
        }
        self.freed.notify_one();
    }

    /// Run `f` on a connection.
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut Client) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut c = self.get()?;
        let r = f(&mut c);
        self.put(c);
        r
    }
}

/// A ledger's storage in PostgreSQL.
pub struct PgStore {
    pool: Pool,
    read_only: bool,
    /// The lease whose epoch every commit must still hold.
    fence: Option<Arc<Leadership>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may hold a password.
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// Check the server keeps commits durably, then bring the schema to
/// [`SCHEMA_VERSION`].
fn prepare(c: &mut Client) -> Result<(), StoreError> {
    for setting in ["fsync", "synchronous_commit"] {
        let row = c
            .query_one(&format!("SHOW {setting}"), &[])
            .map_err(|e| backend("settings", e))?;
        let value: String = row.try_get(0).map_err(|e| backend("settings", e))?;
        if value == "off" {
            return Err(refused(
                "settings",
                format!(
                    "the database has {setting} = {value}: its commits are not durable, and the ledger acknowledges only durable commits"
                ),
            ));
        }
    }
    let mut tx = c.transaction().map_err(|e| backend("migrate", e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(|e| backend("migrate", e))?;
    let exists: Option<String> = tx
        .query_one("SELECT to_regclass('cairn_schema')::text", &[])
        .and_then(|r| r.try_get(0))
        .map_err(|e| backend("migrate", e))?;
    let version: i32 = match exists {
        None => 0,
        Some(_) => tx
            .query_one("SELECT version FROM cairn_schema", &[])
            .and_then(|r| r.try_get(0))
            .map_err(|e| backend("migrate", e))?,
    };
    if version > SCHEMA_VERSION {
        return Err(refused(
            "migrate",
            format!(
                "the database's schema is version {version}, newer than this ledger knows ({SCHEMA_VERSION}): upgrade the ledger"
            ),
        ));
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql).map_err(|e| backend("migrate", e))?;
        tracing::info!(version = n + 1, "applied the PostgreSQL schema migration");
    }
    tx.commit().map_err(|e| backend("migrate", e))
}

impl PgStore {
    /// Connect to the database at `params` (a `postgres://` URL or
    /// `key=value` pairs), check its durability settings and bring its
    /// schema up to date.
    pub fn open(params: &str) -> Result<Self, StoreError> {
        let store = PgStore::unprepared(params, false);
        store.pool.with(prepare)?;
        Ok(store)
    }

    /// Connect for reading only (`fsck`): the schema must be this
    /// ledger's version; nothing is created, migrated or written.
    pub fn open_read_only(params: &str) -> Result<Self, StoreError> {
        let store = PgStore::unprepared(params, true);
        let version: Option<i32> = store.pool.with(|c| {
            let exists: Option<String> = c
                .query_one("SELECT to_regclass('cairn_schema')::text", &[])
                .and_then(|r| r.try_get(0))
                .map_err(|e| backend("open", e))?;
            match exists {
                None => Ok(None),
                Some(_) => c
                    .query_one("SELECT version FROM cairn_schema", &[])
                    .and_then(|r| r.try_get(0))
                    .map(Some)
                    .map_err(|e| backend("open", e)),
            }
        })?;
        match version {
            Some(SCHEMA_VERSION) => Ok(store),
            Some(v) => Err(refused(
                "open",
                format!("the database's schema is version {v}; this ledger reads {SCHEMA_VERSION}"),
            )),
            None => Err(refused("open", "the database holds no cairn log".into())),
        }
    }

    fn unprepared(params: &str, read_only: bool) -> Self {
        PgStore {
            pool: Pool {
                params: params.to_owned(),
                state: Mutex::new((Vec::new(), 0)),
                freed: Condvar::new(),
            },
            read_only,
            fence: None,
        }
    }

    pub(super) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Commit only under the lease epoch `leadership` holds, checked in
    /// each commit's transaction.
    pub fn fenced_by(mut self, leadership: Arc<Leadership>) -> Self {
        self.fence = Some(leadership);
        self
    }

    /// Record `vkey` as the key that signs this database's log, or check it
    /// is the one recorded: an instance started with another log key is
    /// refused before it signs anything.
    pub fn claim_identity(&self, vkey: &str) -> Result<(), StoreError> {
        let recorded: String = self.pool.with(|c| {
            c.execute(
                "INSERT INTO log_identity (vkey) VALUES ($1) ON CONFLICT (id) DO NOTHING",
                &[&vkey],
            )
            .and_then(|_| c.query_one("SELECT vkey FROM log_identity", &[]))
            .and_then(|r| r.try_get(0))
            .map_err(|e| backend("log identity", e))
        })?;
        if recorded != vkey {
            return Err(refused(
                "log identity",
                format!(
                    "the database holds the log of {recorded}, not of this ledger's log key {vkey}: \
                     give every instance the same log key (copy log.key)"
                ),
            ));
        }
        Ok(())
    }

    fn opt<T>(
        &self,
        op: &'static str,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        f: impl FnOnce(&postgres::Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.pool
            .with(|c| match c.query_opt(sql, params).map_err(|e| backend(op, e))? {
                Some(row) => f(&row).map(Some),
                None => Ok(None),
            })
    }
}

fn col<'a, T: postgres::types::FromSql<'a>>(
    row: &'a postgres::Row,
    i: usize,
    op: &'static str,
) -> Result<T, StoreError> {
    row.try_get(i).map_err(|e| backend(op, e))
}

/// The answers of a query over `unnest(...) WITH ORDINALITY` whose first
/// column is the ordinality: `n` slots, each the value `f` reads from its
/// row, `None` where no row came.
fn by_ordinality<T: Clone>(
    rows: &[postgres::Row],
    n: usize,
    op: &'static str,
    f: impl Fn(&postgres::Row) -> Result<Option<T>, StoreError>,
) -> Result<Vec<Option<T>>, StoreError> {
    let mut out = vec![None; n];
    for r in rows {
        let ord: i64 = col(r, 0, op)?;
        let slot = usize::try_from(ord - 1)
            .ok()
            .and_then(|i| out.get_mut(i))
            .ok_or_else(|| StoreError::Corrupt(format!("{op}: a row the query did not ask for")))?;
        if let Some(v) = f(r)? {
            *slot = Some(v);
        }
    }
    Ok(out)
}

impl Store for PgStore {
    fn state(&self) -> Result<LogState, StoreError> {
        let (size, checkpoint) = self.head()?;
        Ok(LogState {
            frontier: frontier_from(self, size)?,
            checkpoint,
        })
    }

    fn size(&self) -> Result<u64, StoreError> {
        let size = self.opt("size", "SELECT size FROM log_head", &[], |r| col::<i64>(r, 0, "size"))?;
        to_u64(size.ok_or_else(|| StoreError::Corrupt("no log_head row".into()))?)
    }

    fn head(&self) -> Result<(u64, Option<String>), StoreError> {
        let row = self.opt(
            "head",
            "SELECT h.size, c.note FROM log_head h LEFT JOIN checkpoints c ON c.size = h.size",
            &[],
            |r| Ok((col::<i64>(r, 0, "head")?, col::<Option<String>>(r, 1, "head")?)),
        )?;
        let (size, note) = row.ok_or_else(|| StoreError::Corrupt("no log_head row".into()))?;
        let size = to_u64(size)?;
        if size > 0 && note.is_none() {
            return Err(StoreError::Corrupt(format!("no checkpoint at the log's size {size}")));
        }
        Ok((size, note))
    }

    fn commit(&self, batch: &CommitBatch) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly);
        }
        let op = "commit";
        let mut idx = Vec::with_capacity(batch.entries.len());
        let (mut bytes, mut leaves) = (Vec::new(), Vec::new());
        let (mut idem_gate, mut idem_key, mut idem_idx) = (Vec::new(), Vec::new(), Vec::new());
        let (mut key_idx, mut key_reg, mut key_role, mut key_ref, mut key_vkey) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut bundle_hash, mut bundle_idx) = (Vec::new(), Vec::new());
        for (i, e) in batch.entries.iter().enumerate() {
            let index = to_i64(batch.first_index + i as u64)?;
            idx.push(index);
            bytes.push(e.bytes.as_slice());
            leaves.push(e.leaf_hash.as_bytes().as_slice());
            if let Some(r) = &e.receipt {
                idem_gate.push(r.idempotency.0.as_str());
                idem_key.push(r.idempotency.1.as_str());
                idem_idx.push(index);
            }
            if let Some(k) = &e.key {
                key_idx.push(index);
                key_reg.push(k.registered);
                key_role.push(k.role.as_str());
                key_ref.push(k.key_ref());
                key_vkey.push(k.key.to_string());
            }
            if let Some(b) = &e.bundle {
                bundle_hash.push(b.as_bytes().to_vec());
                bundle_idx.push(index);
            }
        }
        let mut node_level = Vec::with_capacity(batch.nodes.len());
        let mut node_idx = Vec::with_capacity(batch.nodes.len());
        let mut node_hash = Vec::with_capacity(batch.nodes.len());
        for (id, h) in &batch.nodes {
            node_level.push(i16::from(id.level));
            node_idx.push(to_i64(id.index)?);
            node_hash.push(h.as_bytes().as_slice());
        }
        let size = to_i64(batch.size)?;
        let epoch = match &self.fence {
            None => None,
            Some(l) => Some(
                l.epoch()
                    .ok_or_else(|| StoreError::Fenced("this instance does not hold the sequencer lease".into()))?,
            ),
        };
        let epoch = epoch.map(to_i64).transpose()?;
        self.pool.with(|c| {
            let mut tx = c.transaction().map_err(|e| backend(op, e))?;
            // The log head, locked, and (fenced) the lease still ours, held
            // FOR SHARE until the commit: one round trip.
            let head = match epoch {
                None => tx.query_opt("SELECT size FROM log_head FOR UPDATE", &[]),
                Some(e) => tx.query_opt(
                    "SELECT h.size FROM log_head h, sequencer_lease l \
                     WHERE l.epoch = $1 AND l.expires_at > clock_timestamp() FOR UPDATE OF h FOR SHARE OF l",
                    &[&e],
                ),
            }
            .map_err(|e| backend(op, e))?;
            let Some(head) = head else {
                return Err(match epoch {
                    Some(e) => StoreError::Fenced(format!(
                        "the sequencer lease of epoch {e} expired or was taken over: nothing was committed"
                    )),
                    None => StoreError::Corrupt("no log_head row".into()),
                });
            };
            let head: i64 = head.try_get(0).map_err(|e| backend(op, e))?;
            check_batch(to_u64(head)?, batch)?;
            // Everything the batch writes, in one statement (the first
            // entry archiving a bundle is the one admission names).
            tx.execute(
                "WITH e AS (INSERT INTO entries (idx, bytes, leaf_hash) \
                   SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])), \
                 n AS (INSERT INTO nodes (level, idx, hash) \
                   SELECT * FROM unnest($4::smallint[], $5::bigint[], $6::bytea[])), \
                 i AS (INSERT INTO idempotency (gate, key, idx) \
                   SELECT * FROM unnest($7::text[], $8::text[], $9::bigint[])), \
                 k AS (INSERT INTO key_events (idx, registered, role, key_ref, vkey) \
                   SELECT * FROM unnest($10::bigint[], $11::boolean[], $12::text[], $13::text[], $14::text[])), \
                 b AS (INSERT INTO bundles (hash, idx) \
                   SELECT * FROM unnest($15::bytea[], $16::bigint[]) ON CONFLICT (hash) DO NOTHING), \
                 c AS (INSERT INTO checkpoints (size, note) VALUES ($17, $18)) \
                 UPDATE log_head SET size = $17",
                &[
                    &idx,
                    &bytes,
                    &leaves,
                    &node_level,
                    &node_idx,
                    &node_hash,
                    &idem_gate,
                    &idem_key,
                    &idem_idx,
                    &key_idx,
                    &key_reg,
                    &key_role,
                    &key_ref,
                    &key_vkey,
                    &bundle_hash,
                    &bundle_idx,
                    &size,
                    &batch.checkpoint,
                ],
            )
            .map_err(|e| backend(op, e))?;
            tx.commit().map_err(|e| backend(op, e))
        })
    }

    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let i = to_i64(index)?;
        self.opt("entry", "SELECT bytes FROM entries WHERE idx = $1", &[&i], |r| {
            col(r, 0, "entry")
        })
    }

    fn node(&self, id: NodeId) -> Result<Option<Hash>, StoreError> {
        let (level, i) = (i16::from(id.level), to_i64(id.index)?);
        self.opt(
            "node",
            "SELECT hash FROM nodes WHERE level = $1 AND idx = $2",
            &[&level, &i],
            |r| hash(col::<&[u8]>(r, 0, "node")?),
        )
    }

    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Option<Hash>>, StoreError> {
        let levels: Vec<i16> = ids.iter().map(|id| i16::from(id.level)).collect();
        let idxs = ids.iter().map(|id| to_i64(id.index)).collect::<Result<Vec<_>, _>>()?;
        let rows = self.pool.with(|c| {
            c.query(
                "SELECT q.ord, n.hash FROM unnest($1::smallint[], $2::bigint[]) WITH ORDINALITY AS q(level, idx, ord) \
                 JOIN nodes n ON n.level = q.level AND n.idx = q.idx",
                &[&levels, &idxs],
            )
            .map_err(|e| backend("nodes", e))
        })?;
        by_ordinality(&rows, ids.len(), "nodes", |r| {
            hash(col::<&[u8]>(r, 1, "nodes")?).map(Some)
        })
    }

    fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        let s = to_i64(size)?;
        self.opt(
            "checkpoint",
            "SELECT note FROM checkpoints WHERE size = $1",
            &[&s],
            |r| col(r, 0, "checkpoint"),
        )
    }

    fn checkpoint_sizes(&self, from: u64, to: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        if from > to {
            return Ok(Vec::new());
        }
        let (f, t) = (to_i64(from)?, to_i64(to.min(i64::MAX as u64))?);
        let l = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.pool.with(|c| {
            c.query(
                "SELECT size FROM checkpoints WHERE size BETWEEN $1 AND $2 ORDER BY size LIMIT $3",
                &[&f, &t, &l],
            )
            .map_err(|e| backend("checkpoint sizes", e))
        })?;
        rows.iter().map(|r| to_u64(col(r, 0, "checkpoint sizes")?)).collect()
    }

    fn index_of_leaf(&self, leaf: &Hash) -> Result<Option<u64>, StoreError> {
        let l = leaf.as_bytes().as_slice();
        self.opt(
            "leaf index",
            "SELECT idx FROM entries WHERE leaf_hash = $1",
            &[&l],
            |r| to_u64(col(r, 0, "leaf index")?),
        )
    }

    fn index_of_idempotency(&self, gate: &str, key: &str) -> Result<Option<u64>, StoreError> {
        self.opt(
            "idempotency index",
            "SELECT idx FROM idempotency WHERE gate = $1 AND key = $2",
            &[&gate, &key],
            |r| to_u64(col(r, 0, "idempotency index")?),
        )
    }

    fn known(&self, items: &[super::Lookup]) -> Result<Vec<Option<u64>>, StoreError> {
        // One query for the whole batch: the entry with the leaf hash, else
        // the receipt with the (gate, idempotency key).
        let leaves: Vec<&[u8]> = items.iter().map(|(l, _)| l.as_bytes().as_slice()).collect();
        let gates: Vec<Option<&str>> = items.iter().map(|(_, i)| i.as_ref().map(|(g, _)| g.as_str())).collect();
        let keys: Vec<Option<&str>> = items.iter().map(|(_, i)| i.as_ref().map(|(_, k)| k.as_str())).collect();
        let rows = self.pool.with(|c| {
            c.query(
                "SELECT q.ord, COALESCE(e.idx, i.idx) FROM unnest($1::bytea[], $2::text[], $3::text[]) \
                 WITH ORDINALITY AS q(leaf, gate, key, ord) \
                 LEFT JOIN entries e ON e.leaf_hash = q.leaf \
                 LEFT JOIN idempotency i ON i.gate = q.gate AND i.key = q.key",
                &[&leaves, &gates, &keys],
            )
            .map_err(|e| backend("known", e))
        })?;
        by_ordinality(&rows, items.len(), "known", |r| {
            col::<Option<i64>>(r, 1, "known")?.map(to_u64).transpose()
        })
    }

    fn key_events(&self) -> Result<Vec<(u64, KeyEvent)>, StoreError> {
        let rows = self.pool.with(|c| {
            c.query(
                "SELECT idx, registered, role, key_ref, vkey FROM key_events ORDER BY idx",
                &[],
            )
            .map_err(|e| backend("key events", e))
        })?;
        rows.iter()
            .map(|r| {
                let op = "key events";
                let (role, key_ref, vkey): (&str, &str, &str) = (col(r, 2, op)?, col(r, 3, op)?, col(r, 4, op)?);
                let bad = || StoreError::Corrupt(format!("key event {key_ref:?} is malformed"));
                let key = VerifierKey::parse(vkey).map_err(|_| bad())?;
                if key.key_ref() != key_ref {
                    return Err(bad());
                }
                let event = KeyEvent {
                    key,
                    registered: col(r, 1, op)?,
                    role: KeyRole::parse(role).ok_or_else(bad)?,
                };
                Ok((to_u64(col(r, 0, op)?)?, event))
            })
            .collect()
    }

    fn bundle_index(&self, h: &Hash) -> Result<Option<u64>, StoreError> {
        let b = h.as_bytes().as_slice();
        self.opt("bundle index", "SELECT idx FROM bundles WHERE hash = $1", &[&b], |r| {
            to_u64(col(r, 0, "bundle index")?)
        })
    }
}

#[cfg(test)]
#[path = "pg_cluster.rs"]
pub(crate) mod cluster;
