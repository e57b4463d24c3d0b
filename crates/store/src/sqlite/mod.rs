//! The embedded store: one SQLite database in the data dir (`evident.db`).
//!
//! Why SQLite: nothing to install, one file, a write-ahead log with real durability
//! (`synchronous=FULL` fsyncs the WAL at every commit), many readers beside one
//! writer, and an FTS engine for search. Ingest shares one commit between all the
//! requests waiting (group commit), so one fsync covers thousands of events.
//!
//! Threads: all writes go through one connection behind a mutex (SQLite allows one
//! writer at a time anyway); reads use a small pool of connections. Both run on
//! tokio's blocking pool, never on the async executor.

mod access;
mod append;
mod approvals;
mod artifacts;
pub(crate) mod compress;
mod effects;
mod erase;
mod holds;
mod identifiers;
mod policies;
mod registry_rows;
mod retention;
mod schema;
pub mod search;
pub mod sizes;
mod stats;
mod wal;
mod witnesses;

use crate::{ApiKeyStore, BlobStore, LogStore, MetaStore, SearchStore, VaultStore};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use evident_core::blob::BlobRef;
use evident_core::record::{IndexKeys, UploadedBlob};
use evident_tlog::{Hash, TileId, TileMap};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::{
    AgentBinding, ApiKeyRecord, AppendOutcome, AppendRequest, DataKey, EntriesWithBlobs,
    ErasureReport, IndexedEntry, SealedBlob, SealedValue, StoreError, StoreResult, StoredBlob,
    StoredCheckpoint, StoredEntry, TreeHead,
};

/// The database file's name inside the data dir.
pub const DB_FILE: &str = "evident.db";

/// How many read connections are kept open.
const READER_POOL_SIZE: usize = 8;

/// The writer's page cache, in KiB (SQLite's `cache_size` takes a negative number as
/// KiB): an append dirties the right edge of every table and index and looks up
/// back-links and ids, and those pages stay cached from one group commit to the next.
const WRITER_CACHE_KIB: i64 = 32_000;

/// Each reader's page cache, in KiB. Reads take few pages per answer (an event's entry
/// and blobs, the index pages that lead to them) and the file is far larger than any
/// cache, so a bigger one buys little (the operating system's page cache serves the
/// rest); it does count against RSS once per reader: 8 readers hold 64 MB at this size,
/// 256 MB at the writer's.
const READER_CACHE_KIB: i64 = 8_000;

/// Settings of the embedded store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Refuse writes that would grow the database beyond this many bytes (a quota that
    /// keeps room on a shared disk). Hitting it behaves exactly like a full disk.
    pub max_size_bytes: Option<u64>,
    /// Once the log holds this many entries, train a dictionary on them and keep the
    /// entries that follow compressed with it (`compress.rs`); 0: never compress.
    pub entry_dictionary_after: u64,
    /// WAL frames (pages) past which the writer rewinds the write-ahead log
    /// (`wal.rs`); the WAL file stays about this size under any load.
    pub wal_rewind_frames: i64,
}

impl SqliteOptions {
    /// Entries a dictionary is trained on by default: enough for zstd's trainer
    /// (~100 times the dictionary's size in samples), early enough to matter.
    pub const DEFAULT_DICTIONARY_AFTER: u64 = 4_096;
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            max_size_bytes: None,
            entry_dictionary_after: Self::DEFAULT_DICTIONARY_AFTER,
            wal_rewind_frames: wal::DEFAULT_REWIND_FRAMES,
        }
    }
}

/// The embedded SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

/// How long a connection waits for a lock held by another.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    /// Used under the writer lock only.
    back_links: Mutex<append::BackLinks>,
    /// Compresses new entries; used under the writer lock only.
    packer: Mutex<compress::Packer>,
    /// Truncating the WAL after commits that destroyed secrets; under the writer lock.
    scrub: Mutex<erase::WalScrub>,
    /// Decompresses stored entries, for every connection.
    dictionaries: Arc<compress::Dictionaries>,
    readers: Mutex<Vec<Connection>>,
    /// Copies the write-ahead log into the database off the writer's path.
    wal_checkpointer: Option<wal::Checkpointer>,
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the store in `data_dir`.
    ///
    /// # Errors
    /// The directory or database cannot be created or opened.
    pub fn open(data_dir: &Path, options: &SqliteOptions) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", data_dir.display())))?;
        let path = data_dir.join(DB_FILE);
        let mut writer = open_connection(&path, false)?;
        schema::migrate(&mut writer).map_err(map_err)?;
        if let Some(max) = options.max_size_bytes {
            let page_size: u64 = writer
                .query_row("PRAGMA page_size", [], |r| r.get(0))
                .map_err(map_err)?;
            writer
                .pragma_update(None, "max_page_count", (max / page_size).max(1))
                .map_err(map_err)?;
        }
        let packer = compress::Packer::open(&writer, path.clone(), options.entry_dictionary_after)
            .map_err(map_err)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.clone(),
                writer: Mutex::new(writer),
                back_links: Mutex::new(append::BackLinks::default()),
                packer: Mutex::new(packer),
                scrub: Mutex::default(),
                dictionaries: Arc::default(),
                readers: Mutex::new(Vec::new()),
                wal_checkpointer: Some(wal::Checkpointer::start(&path, options.wal_rewind_frames)?),
            }),
        })
    }

    /// The query plan of a search, one line per step.
    ///
    /// # Errors
    /// SQLite errors.
    pub async fn explain_search(&self, query: &crate::SearchQuery) -> StoreResult<Vec<String>> {
        let query = query.clone();
        self.read(move |conn| search::explain(conn, &query)).await
    }

    /// The plans of the statements a retention purge runs (`EXPLAIN QUERY PLAN`), by
    /// name: what the check that it never scans the log reads.
    pub async fn explain_retention(&self) -> StoreResult<Vec<(String, Vec<String>)>> {
        self.read(retention::explain).await
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(move || {
            let conn = inner.take_reader()?;
            let result = f(&conn).map_err(map_err);
            inner.return_reader(conn);
            result
        })
        .await
    }

    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        blocking(move || {
            let mut conn = inner
                .writer
                .lock()
                .map_err(|_| StoreError::Internal("writer lock poisoned".into()))?;
            f(&mut conn)
        })
        .await
    }
}

impl Inner {
    fn take_reader(&self) -> StoreResult<Connection> {
        let pooled = self.readers.lock().ok().and_then(|mut pool| pool.pop());
        match pooled {
            Some(conn) => Ok(conn),
            None => open_connection(&self.path, true),
        }
    }

    fn return_reader(&self, conn: Connection) {
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < READER_POOL_SIZE {
                pool.push(conn);
            }
        }
    }
}

impl Drop for Inner {
    /// On a clean close, folds the write-ahead log into the database and empties it,
    /// so a data dir at rest is one self-contained file.
    fn drop(&mut self) {
        drop(self.wal_checkpointer.take());
        self.readers.get_mut().map(Vec::clear).ok();
        if let (Ok(conn), Ok(packer)) = (self.writer.get_mut(), self.packer.get_mut()) {
            packer.finish(conn);
        }
        if let Ok(conn) = self.writer.get_mut() {
            if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                tracing::warn!(error = %e, "could not fold the write-ahead log on close");
            }
        }
    }
}

async fn blocking<T, F>(f: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> StoreResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Internal(format!("store task failed: {e}")))?
}

fn open_connection(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
    // WAL: readers never block the writer. synchronous=FULL: a commit returns only
    // after the WAL is fsynced, which is what a 2xx promises. secure_delete: freed
    // pages are zeroed, so deleted values do not linger in the file.
    conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(map_err)?;
        // Commits never copy the WAL into the database themselves: `wal::Checkpointer`
        // does, on its own connection, so the single writer only appends to the WAL.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(map_err)?;
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(map_err)?;
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(map_err)?;
    let cache_kib = if read_only {
        READER_CACHE_KIB
    } else {
        WRITER_CACHE_KIB
    };
    conn.pragma_update(None, "cache_size", -cache_kib)
        .map_err(map_err)?;
    Ok(conn)
}

/// The index columns of `entries e` as `verify` compares them with the entry
/// ([`index_keys_at`] reads them): traces, jobs, cases and runs as the index sees them,
/// through their numbers, and only where number and id column agree (a disagreement
/// reads as a wrong value, which `verify` reports).
macro_rules! index_columns {
    () => {
        "event_id,
         coalesce((SELECT value FROM id_numbers WHERE kind = 0
                   AND value = e.trace_id AND no = e.trace_no), ''),
         event_type, agent,
         (SELECT value FROM id_numbers WHERE kind = 1
          AND value = e.job_id AND no = e.job_no),
         (SELECT value FROM id_numbers WHERE kind = 2
          AND value = e.case_id AND no = e.case_no),
         (SELECT value FROM id_numbers WHERE kind = 3
          AND value = e.workflow_run_id AND no = e.run_no),
         subject, ts"
    };
}

/// The [`index_columns!`] of a row, from column `first` on.
fn index_keys_at(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<IndexKeys> {
    Ok(IndexKeys {
        event_id: r.get(first)?,
        trace_id: r.get(first + 1)?,
        event_type: r.get(first + 2)?,
        agent: r.get(first + 3)?,
        job_id: r.get(first + 4)?,
        case_id: r.get(first + 5)?,
        workflow_run_id: r.get(first + 6)?,
        subject: r.get(first + 7)?,
        timestamp_micros: r.get(first + 8)?,
    })
}

/// A row of `(seq, entry)` as the entry's exact bytes (decompressed if stored so).
fn stored_entry(
    dictionaries: &compress::Dictionaries,
    conn: &Connection,
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<StoredEntry> {
    let seq = r.get(0)?;
    Ok(StoredEntry {
        seq: seq_of(seq),
        entry: dictionaries.unpack(conn, seq, r.get(1)?)?,
    })
}

/// A bulk read (`verify` reads every page of `entries` and `blobs` once, the integrity
/// check every page of the file) through a
/// memory map of the database: pages are read in place, without a `read()` call and a
/// copy into SQLite's page cache for each. Dropping it unmaps, so the pooled connection
/// is left as it was.
struct BulkRead<'c>(&'c Connection);

impl<'c> BulkRead<'c> {
    /// Up to this much of the file is mapped (SQLite caps it at 2 GiB by default); the
    /// rest is read as usual.
    const MMAP_BYTES: i64 = 1 << 31;

    fn start(conn: &'c Connection) -> rusqlite::Result<Self> {
        conn.pragma_update(None, "mmap_size", Self::MMAP_BYTES)?;
        Ok(Self(conn))
    }
}

impl Drop for BulkRead<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.pragma_update(None, "mmap_size", 0) {
            tracing::warn!(error = %e, "could not unmap the database after a bulk read");
        }
    }
}

/// Room for the rows of a bulk read of `start..end` (about one per entry).
fn bulk_capacity(start: u64, end: u64) -> usize {
    usize::try_from(end.saturating_sub(start).min(1 << 16)).unwrap_or(0)
}

/// SQLite errors in backend-neutral terms.
pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::OutOfMemory
            | ErrorCode::CannotOpen
            | ErrorCode::ReadOnly => StoreError::Unavailable(e.to_string()),
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                StoreError::Corrupt(e.to_string())
            }
            ErrorCode::ConstraintViolation => StoreError::Conflict(e.to_string()),
            _ => StoreError::Internal(e.to_string()),
        },
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound(e.to_string()),
        // A stored value is not what was written (a hash of the wrong length, an
        // entry that does not decompress): the file was damaged or tampered with.
        rusqlite::Error::FromSqlConversionFailure(..) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Internal(e.to_string()),
    }
}

pub(crate) fn hash_from_blob(bytes: &[u8]) -> rusqlite::Result<Hash> {
    <[u8; 32]>::try_from(bytes).map(Hash).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            bytes.len(),
            rusqlite::types::Type::Blob,
            "a hash must be 32 bytes".into(),
        )
    })
}

fn seq_of(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

fn sql_seq(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

#[async_trait]
impl LogStore for SqliteStore {
    async fn append(&self, requests: Vec<AppendRequest>) -> StoreResult<Vec<AppendOutcome>> {
        let inner = self.inner.clone();
        let (outcomes, spent) = self
            .write(move |conn| {
                let mut links = inner
                    .back_links
                    .lock()
                    .map_err(|_| StoreError::Internal("back-link cache poisoned".into()))?;
                let mut packer = inner
                    .packer
                    .lock()
                    .map_err(|_| StoreError::Internal("entry packer poisoned".into()))?;
                let mut scrub = inner
                    .scrub
                    .lock()
                    .map_err(|_| StoreError::Internal("WAL scrub state poisoned".into()))?;
                let outcomes = append::append(
                    conn,
                    &mut links,
                    &mut packer,
                    &inner.dictionaries,
                    &requests,
                )?;
                let destroyed = requests.iter().zip(&outcomes).any(|(request, outcome)| {
                    matches!(outcome, AppendOutcome::Appended(_))
                        && request.effects.iter().any(crate::Effect::destroys_secrets)
                });
                if destroyed {
                    scrub.needed();
                }
                // After the commit, never part of it: see `erase.rs`.
                scrub.try_truncate(conn);
                if let Some(checkpointer) = &inner.wal_checkpointer {
                    checkpointer.rewind_if_asked(conn);
                }
                Ok((outcomes, requests))
            })
            .await?;
        // Freeing thousands of events' buffers is a noticeable share of a commit; it
        // need not hold up the writer.
        tokio::task::spawn_blocking(move || drop(spent));
        Ok(outcomes)
    }

    async fn tree_head(&self) -> StoreResult<TreeHead> {
        self.read(read_tree_head).await
    }

    async fn read_tiles(&self, ids: &[TileId]) -> StoreResult<TileMap> {
        let ids = ids.to_vec();
        self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT data FROM tiles WHERE level = ?1 AND idx = ?2")?;
            let mut tiles = TileMap::new();
            for id in ids {
                let data: Option<Vec<u8>> = stmt
                    .query_row(params![id.level, sql_seq(id.index)], |r| r.get(0))
                    .optional()?;
                if let Some(data) = data {
                    tiles.insert(id, data);
                }
            }
            Ok(tiles)
        })
        .await
    }

    async fn read_entries(&self, start: u64, end: u64) -> StoreResult<Vec<StoredEntry>> {
        let dictionaries = self.inner.dictionaries.clone();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, entry FROM entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![sql_seq(start), sql_seq(end)], |r| {
                stored_entry(&dictionaries, conn, r)
            })?;
            rows.collect()
        })
        .await
    }

    async fn entry_by_event_id(&self, event_id: &str) -> StoreResult<Option<StoredEntry>> {
        let event_id = event_id.to_owned();
        let dictionaries = self.inner.dictionaries.clone();
        self.read(move |conn| {
            conn.prepare_cached("SELECT seq, entry FROM entries WHERE event_id = ?1")?
                .query_row([event_id], |r| stored_entry(&dictionaries, conn, r))
                .optional()
        })
        .await
    }

    async fn index_rows(&self, start: u64, end: u64) -> StoreResult<Vec<(u64, IndexKeys)>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(concat!(
                "SELECT seq, ",
                index_columns!(),
                " FROM entries e WHERE seq >= ?1 AND seq < ?2 ORDER BY seq"
            ))?;
            let rows = stmt.query_map(params![sql_seq(start), sql_seq(end)], |r| {
                Ok((seq_of(r.get(0)?), index_keys_at(r, 1)?))
            })?;
            rows.collect()
        })
        .await
    }

    async fn read_indexed_entries(&self, start: u64, end: u64) -> StoreResult<Vec<IndexedEntry>> {
        // One pass over the table's pages instead of two.
        let dictionaries = self.inner.dictionaries.clone();
        self.read(move |conn| {
            let _mapped = BulkRead::start(conn)?;
            let mut stmt = conn.prepare_cached(concat!(
                "SELECT seq, entry, ",
                index_columns!(),
                " FROM entries e WHERE seq >= ?1 AND seq < ?2 ORDER BY seq"
            ))?;
            // Sized up front: growing a vector of thousands of entries copies it.
            let mut entries = Vec::with_capacity(bulk_capacity(start, end));
            let rows = stmt.query_map(params![sql_seq(start), sql_seq(end)], |r| {
                let (entry, unreadable) = match dictionaries.try_unpack(conn, r.get(1)?) {
                    Ok(entry) => (entry, None),
                    Err((stored, why)) => (stored, Some(why)),
                };
                Ok(IndexedEntry {
                    seq: seq_of(r.get(0)?),
                    entry,
                    index: Some(index_keys_at(r, 2)?),
                    unreadable,
                })
            })?;
            for row in rows {
                entries.push(row?);
            }
            Ok(entries)
        })
        .await
    }

    async fn put_checkpoint(&self, checkpoint: StoredCheckpoint) -> StoreResult<()> {
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let head = read_tree_head(&tx).map_err(map_err)?;
            let latest: Option<i64> = tx
                .query_row("SELECT max(size) FROM checkpoints", [], |r| r.get(0))
                .map_err(map_err)?;
            let latest = latest.map(seq_of);
            if latest.is_some_and(|l| checkpoint.size < l) || checkpoint.size > head.size {
                return Err(StoreError::Conflict(format!(
                    "checkpoint of size {} would shrink the log (latest {latest:?}, tree {})",
                    checkpoint.size, head.size
                )));
            }
            if latest == Some(checkpoint.size) {
                return Ok(());
            }
            tx.execute(
                "INSERT INTO checkpoints(size, root, note, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    sql_seq(checkpoint.size),
                    &checkpoint.root.0[..],
                    checkpoint.note,
                    checkpoint.created_micros
                ],
            )
            .map_err(map_err)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT size, root, note, created_at FROM checkpoints ORDER BY size DESC LIMIT 1",
            )?
            .query_row([], checkpoint_from_row)
            .optional()
        })
        .await
    }

    async fn checkpoints(
        &self,
        from_size: u64,
        limit: usize,
    ) -> StoreResult<Vec<StoredCheckpoint>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT size, root, note, created_at FROM checkpoints
                 WHERE size >= ?1 ORDER BY size LIMIT ?2",
            )?;
            let rows = stmt.query_map(
                params![sql_seq(from_size), i64::try_from(limit).unwrap_or(i64::MAX)],
                checkpoint_from_row,
            )?;
            rows.collect()
        })
        .await
    }

    async fn integrity_check(&self) -> StoreResult<crate::IntegrityCheck> {
        let problems = self
            .read(|conn| {
                // It reads every page of the file.
                let _mapped = BulkRead::start(conn)?;
                let mut stmt = conn.prepare("PRAGMA integrity_check")?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                let problems: Vec<String> = rows.collect::<rusqlite::Result<_>>()?;
                Ok(problems.into_iter().filter(|p| p != "ok").collect())
            })
            .await?;
        Ok(crate::IntegrityCheck::Ran {
            what: "SQLite `PRAGMA integrity_check`: every page, every index and the full-text index against their tables".into(),
            problems,
        })
    }
}

#[async_trait]
impl BlobStore for SqliteStore {
    async fn put_upload(&self, blob: SealedBlob, now_micros: i64) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO blobs(ref, seq, uploaded, subject, media_type, size, key_id, sealed, created_at)
                 VALUES (?1, NULL, 1, NULL, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(ref) DO NOTHING",
                params![
                    &blob.reference.0[..],
                    blob.media_type,
                    i64::try_from(blob.size).unwrap_or(i64::MAX),
                    blob.key_id,
                    blob.sealed,
                    now_micros
                ],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn put_vault_values(&self, values: Vec<SealedValue>) -> StoreResult<()> {
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO vault(token, key_id, kind, sealed) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(token, key_id) DO NOTHING",
                    )
                    .map_err(map_err)?;
                for v in values {
                    insert
                        .execute(params![v.token, v.key_id, v.kind, v.sealed])
                        .map_err(map_err)?;
                }
            }
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn uploads(&self, refs: &[BlobRef]) -> StoreResult<HashMap<BlobRef, UploadedBlob>> {
        let refs = refs.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT size, media_type FROM blobs WHERE ref = ?1 AND uploaded = 1",
            )?;
            let mut found = HashMap::new();
            for reference in refs {
                let row = stmt
                    .query_row([&reference.0[..]], |r| {
                        Ok(UploadedBlob {
                            size: usize::try_from(r.get::<_, i64>(0)?).unwrap_or_default(),
                            media_type: r.get(1)?,
                        })
                    })
                    .optional()?;
                if let Some(upload) = row {
                    found.insert(reference, upload);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn blob(&self, reference: &BlobRef) -> StoreResult<Option<StoredBlob>> {
        let reference = *reference;
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT ref, media_type, size, key_id, sealed, seq FROM blobs WHERE ref = ?1",
            )?
            .query_row([&reference.0[..]], blob_from_row)
            .optional()
        })
        .await
    }

    async fn blobs_in_range(&self, start: u64, end: u64) -> StoreResult<Vec<StoredBlob>> {
        self.read(move |conn| {
            let _mapped = BulkRead::start(conn)?;
            let mut stmt = conn.prepare_cached(
                "SELECT ref, media_type, size, key_id, sealed, seq FROM blobs
                 WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            )?;
            let mut blobs = Vec::with_capacity(bulk_capacity(start, end));
            for row in stmt.query_map(params![sql_seq(start), sql_seq(end)], blob_from_row)? {
                blobs.push(row?);
            }
            Ok(blobs)
        })
        .await
    }

    async fn drop_stale_uploads(&self, cutoff_micros: i64) -> StoreResult<u64> {
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            // An upload's own key is named after it (`upload_key_subject`).
            const STALE_UPLOAD_KEYS: &str = "SELECT key_id FROM data_keys WHERE subject IN
                 (SELECT 'upload:sha256:' || lower(hex(ref)) FROM blobs
                  WHERE seq IS NULL AND created_at < ?1)";
            tx.execute(
                &format!("DELETE FROM vault WHERE key_id IN ({STALE_UPLOAD_KEYS})"),
                [cutoff_micros],
            )
            .map_err(map_err)?;
            tx.execute(
                &format!("DELETE FROM data_keys WHERE key_id IN ({STALE_UPLOAD_KEYS})"),
                [cutoff_micros],
            )
            .map_err(map_err)?;
            let n = tx
                .execute(
                    "DELETE FROM blobs WHERE seq IS NULL AND created_at < ?1",
                    [cutoff_micros],
                )
                .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(n as u64)
        })
        .await
    }
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create_api_key(&self, key: ApiKeyRecord) -> StoreResult<()> {
        self.write(move |conn| effects::insert_api_key(conn, &key)?)
            .await
    }

    async fn api_key_by_hash(&self, key_hash: &[u8; 32]) -> StoreResult<Option<ApiKeyRecord>> {
        let key_hash = *key_hash;
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT name, role, key_hash, agents, created_at, revoked_at
                 FROM api_keys WHERE key_hash = ?1",
            )?
            .query_row([&key_hash[..]], api_key_from_row)
            .optional()
        })
        .await
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, role, key_hash, agents, created_at, revoked_at
                 FROM api_keys ORDER BY name",
            )?;
            let rows = stmt.query_map([], api_key_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn revoke_api_key(&self, name: &str, now_micros: i64) -> StoreResult<()> {
        let name = name.to_owned();
        self.write(move |conn| effects::revoke_api_key(conn, &name, now_micros)?)
            .await
    }
}

#[async_trait]
impl MetaStore for SqliteStore {
    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.read(move |conn| {
            conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()
        })
        .await
    }

    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl SearchStore for SqliteStore {
    async fn search(&self, query: &crate::SearchQuery) -> StoreResult<Vec<StoredEntry>> {
        let query = query.clone();
        let dictionaries = self.inner.dictionaries.clone();
        self.read(move |conn| search::search(conn, &dictionaries, &query))
            .await
    }

    async fn search_with_blobs(&self, query: &crate::SearchQuery) -> StoreResult<EntriesWithBlobs> {
        let query = query.clone();
        let dictionaries = self.inner.dictionaries.clone();
        self.read(move |conn| {
            // One read transaction: the blobs come from the snapshot the entries did.
            let tx = conn.unchecked_transaction()?;
            let entries = search::search(&tx, &dictionaries, &query)?;
            let mut blobs = Vec::with_capacity(entries.len() * 2);
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT ref, media_type, size, key_id, sealed, seq FROM blobs WHERE seq = ?1",
                )?;
                for entry in &entries {
                    for blob in stmt.query_map([sql_seq(entry.seq)], blob_from_row)? {
                        blobs.push(blob?);
                    }
                }
            }
            tx.finish()?;
            Ok(EntriesWithBlobs { entries, blobs })
        })
        .await
    }

    async fn text_indexed_through(&self) -> StoreResult<u64> {
        self.read(read_text_position).await
    }

    async fn index_text(&self, from: u64, docs: Vec<String>) -> StoreResult<()> {
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let position = read_text_position(&tx).map_err(map_err)?;
            if position != from {
                return Err(StoreError::Conflict(format!(
                    "the text index covers {position} entries, not {from}"
                )));
            }
            {
                let end = from + docs.len() as u64;
                let mut erased_seqs = tx
                    .prepare_cached(
                        "SELECT e.seq FROM entries e JOIN erasures x ON x.subject = e.subject
                         WHERE e.seq >= ?1 AND e.seq < ?2",
                    )
                    .map_err(map_err)?;
                let erased: std::collections::HashSet<i64> = erased_seqs
                    .query_map(params![sql_seq(from), sql_seq(end)], |r| r.get(0))
                    .and_then(Iterator::collect)
                    .map_err(map_err)?;
                let mut insert = tx
                    .prepare_cached("INSERT INTO events_fts(rowid, body) VALUES (?1, ?2)")
                    .map_err(map_err)?;
                for (offset, body) in docs.iter().enumerate() {
                    let seq = sql_seq(from + offset as u64);
                    // An erased subject's entries get no row at all, as if erased
                    // after indexing (an empty row would still be counted by the next
                    // erasure's plan and by anyone looking for what is left of her).
                    if erased.contains(&seq) {
                        continue;
                    }
                    insert.execute(params![seq, body]).map_err(map_err)?;
                }
            }
            // The dashboard's rollup covers what the text index covers (`stats.rs`).
            tx.prepare_cached(stats::ROLL_UP)
                .and_then(|mut roll_up| {
                    roll_up.execute(params![sql_seq(from), sql_seq(from + docs.len() as u64)])
                })
                .map_err(map_err)?;
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'text_indexed_through'",
                [(from + docs.len() as u64).to_string()],
            )
            .map_err(map_err)?;
            tx.commit().map_err(map_err)
        })
        .await
    }
}

#[async_trait]
impl VaultStore for SqliteStore {
    async fn active_data_keys(&self, subjects: &[String]) -> StoreResult<HashMap<String, DataKey>> {
        let subjects = subjects.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT key_id, subject, wrapped, master_epoch, created_at FROM data_keys WHERE subject = ?1",
            )?;
            let mut found = HashMap::new();
            for subject in subjects {
                if let Some(key) = stmt.query_row([&subject], data_key_from_row).optional()? {
                    found.insert(subject, key);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn insert_data_keys(&self, keys: Vec<DataKey>) -> StoreResult<()> {
        self.write(move |conn| {
            let tx = conn.transaction().map_err(map_err)?;
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO data_keys(key_id, subject, wrapped, master_epoch, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    )
                    .map_err(map_err)?;
                for key in keys {
                    insert
                        .execute(params![
                            key.key_id,
                            key.subject,
                            key.wrapped,
                            key.master_epoch,
                            key.created_micros
                        ])
                        .map_err(map_err)?;
                }
            }
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn data_keys(&self, key_ids: &[String]) -> StoreResult<HashMap<String, DataKey>> {
        let key_ids = key_ids.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT key_id, subject, wrapped, master_epoch, created_at FROM data_keys WHERE key_id = ?1",
            )?;
            let mut found = HashMap::new();
            for id in key_ids {
                if let Some(key) = stmt.query_row([&id], data_key_from_row).optional()? {
                    found.insert(id, key);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn destroyed_keys(
        &self,
        key_ids: &[String],
    ) -> StoreResult<std::collections::HashSet<String>> {
        let key_ids = key_ids.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT 1 FROM destroyed_keys WHERE key_id = ?1")?;
            let mut found = std::collections::HashSet::new();
            for id in key_ids {
                if stmt.query_row([&id], |_| Ok(())).optional()?.is_some() {
                    found.insert(id);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn all_data_keys(&self) -> StoreResult<Vec<DataKey>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT key_id, subject, wrapped, master_epoch, created_at FROM data_keys ORDER BY key_id",
            )?;
            let rows = stmt.query_map([], data_key_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn rewrap_data_keys(&self, keys: Vec<DataKey>) -> StoreResult<()> {
        let inner = self.inner.clone();
        self.write(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(map_err)?;
            {
                let mut update = tx
                    .prepare_cached(
                        "UPDATE data_keys SET wrapped = ?2, master_epoch = ?3 WHERE key_id = ?1",
                    )
                    .map_err(map_err)?;
                for key in keys {
                    update
                        .execute(params![key.key_id, key.wrapped, key.master_epoch])
                        .map_err(map_err)?;
                }
            }
            tx.commit().map_err(map_err)?;
            // Old wrapped forms must not linger in the write-ahead log.
            if let Ok(mut scrub) = inner.scrub.lock() {
                scrub.needed();
                scrub.try_truncate(conn);
            }
            Ok(())
        })
        .await
    }

    async fn vault_values(&self, tokens: &[String]) -> StoreResult<Vec<SealedValue>> {
        let tokens = tokens.to_vec();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT token, kind, key_id, sealed FROM vault WHERE token = ?1")?;
            let mut found = Vec::new();
            for token in tokens {
                let rows = stmt.query_map([&token], |r| {
                    Ok(SealedValue {
                        token: r.get(0)?,
                        kind: r.get(1)?,
                        key_id: r.get(2)?,
                        sealed: r.get(3)?,
                    })
                })?;
                for row in rows {
                    found.push(row?);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn erasure_plan(&self, subject: &str) -> StoreResult<ErasureReport> {
        let subject = subject.to_owned();
        self.read(move |conn| erase::plan(conn, &subject)).await
    }

    async fn vault_values_under(&self, key_id: &str) -> StoreResult<Vec<SealedValue>> {
        let key_id = key_id.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT token, kind, key_id, sealed FROM vault WHERE key_id = ?1",
            )?;
            let rows = stmt.query_map([&key_id], |r| {
                Ok(SealedValue {
                    token: r.get(0)?,
                    kind: r.get(1)?,
                    key_id: r.get(2)?,
                    sealed: r.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn erased_at(&self, subject: &str) -> StoreResult<Option<i64>> {
        let subject = subject.to_owned();
        self.read(move |conn| {
            conn.prepare_cached("SELECT erased_at FROM erasures WHERE subject = ?1")?
                .query_row([subject], |r| r.get(0))
                .optional()
        })
        .await
    }
}

fn read_text_position(conn: &Connection) -> rusqlite::Result<u64> {
    // Cached: every search asks, first thing.
    let text: String = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'text_indexed_through'")?
        .query_row([], |r| r.get(0))?;
    Ok(text.parse().unwrap_or_default())
}

pub(crate) fn read_tree_head(conn: &Connection) -> rusqlite::Result<TreeHead> {
    conn.query_row("SELECT size, root FROM tree_head WHERE id = 0", [], |r| {
        Ok(TreeHead {
            size: seq_of(r.get(0)?),
            root: hash_from_blob(&r.get::<_, Vec<u8>>(1)?)?,
        })
    })
}

fn checkpoint_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCheckpoint> {
    Ok(StoredCheckpoint {
        size: seq_of(r.get(0)?),
        root: hash_from_blob(&r.get::<_, Vec<u8>>(1)?)?,
        note: r.get(2)?,
        created_micros: r.get(3)?,
    })
}

fn blob_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredBlob> {
    let reference = hash_from_blob(&r.get::<_, Vec<u8>>(0)?)?;
    Ok(StoredBlob {
        reference: BlobRef(reference.0),
        media_type: r.get(1)?,
        size: u64::try_from(r.get::<_, i64>(2)?).unwrap_or_default(),
        key_id: r.get(3)?,
        sealed: r.get(4)?,
        seq: r.get::<_, Option<i64>>(5)?.map(seq_of),
    })
}

fn data_key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DataKey> {
    Ok(DataKey {
        key_id: r.get(0)?,
        subject: r.get(1)?,
        wrapped: r.get(2)?,
        master_epoch: r.get(3)?,
        created_micros: r.get(4)?,
    })
}

fn api_key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    let agents: String = r.get(3)?;
    Ok(ApiKeyRecord {
        name: r.get(0)?,
        role: r.get(1)?,
        key_hash: hash_from_blob(&r.get::<_, Vec<u8>>(2)?)?.0,
        agents: AgentBinding::from_stored(&agents),
        created_micros: r.get(4)?,
        revoked_micros: r.get(5)?,
    })
}
