//! The PostgreSQL store (`--database-url postgres://...`), for teams that outgrow one
//! machine: several `evident serve` processes share one database, every one accepts
//! ingest and answers with `seq`, and the log stays one tree.
//!
//! - Durability: every append commits with `synchronous_commit = on`.
//! - One tree: appends serialize on the tree head's row lock (see `append.rs`).
//! - One signer: [`crate::LogStore::try_lead`] holds a session advisory lock on a dedicated
//!   connection; when that process dies the lock is released and another server's
//!   checkpointer takes over within its next tick.
//! - Append-only: triggers in the schema (see `schema.rs`).
//! - Erasure and the other state changes the server records: applied in the append
//!   transaction of their event; how no decryptable copy of an erased key survives is
//!   in `effects.rs`.

mod access;
mod append;
mod approvals;
mod artifacts;
pub mod connect;
mod effects;
mod holds;
mod identifiers;
mod integrity;
mod policies;
mod registry_rows;
mod retention;
pub mod schema;
mod stats;
mod witnesses;

use crate::{ApiKeyStore, BlobStore, LogStore, MetaStore, SearchStore, VaultStore};
use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use evident_core::blob::BlobRef;
use evident_core::record::{IndexKeys, UploadedBlob};
use evident_tlog::{Hash, TileId, TileMap};
use tokio::sync::Mutex;
use tokio_postgres::{Client, Row};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::{
    AgentBinding, ApiKeyRecord, AppendOutcome, AppendRequest, DataKey, EntriesWithBlobs,
    ErasureReport, SealedBlob, SealedValue, SearchOrder, SearchQuery, StoreError, StoreResult,
    StoredBlob, StoredCheckpoint, StoredEntry, TreeHead, MAX_SEARCH_LIMIT,
};

/// Connections in the pool of one process.
const POOL_SIZE: usize = 16;

/// The advisory lock id of the checkpoint signer ("EVSG").
const LEADER_LOCK: i64 = 0x4556_5347;

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
    config: tokio_postgres::Config,
    /// TLS as the URL's `sslmode` says (see [`connect`]).
    tls: MakeRustlsConnect,
    /// A dedicated connection and whether it holds the signer's lock.
    leader: Mutex<Option<(Client, bool)>>,
}

pub(crate) fn map_err(e: tokio_postgres::Error) -> StoreError {
    use tokio_postgres::error::SqlState;
    let Some(code) = e.code() else {
        return StoreError::Unavailable(format!("database: {}", with_causes(&e)));
    };
    let text = format!("database: {e}");
    if *code == SqlState::UNIQUE_VIOLATION {
        StoreError::Conflict(text)
    } else if [
        SqlState::DISK_FULL,
        SqlState::OUT_OF_MEMORY,
        SqlState::TOO_MANY_CONNECTIONS,
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::READ_ONLY_SQL_TRANSACTION,
        SqlState::IO_ERROR,
    ]
    .contains(code)
    {
        StoreError::Unavailable(text)
    } else if *code == SqlState::DATA_CORRUPTED || *code == SqlState::INDEX_CORRUPTED {
        StoreError::Corrupt(text)
    } else {
        StoreError::Internal(text)
    }
}

/// An error with its causes (`error performing TLS handshake: invalid peer
/// certificate: UnknownIssuer`): the outer message alone does not say what to fix.
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}

pub(crate) fn seq_of(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

pub(crate) fn pg_seq(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn hash_of(bytes: &[u8]) -> StoreResult<Hash> {
    <[u8; 32]>::try_from(bytes)
        .map(Hash)
        .map_err(|_| StoreError::Corrupt("a stored hash is not 32 bytes".into()))
}

impl PgStore {
    /// Connects to `url` (TLS as its `sslmode` says, see [`connect`]) and migrates the
    /// schema.
    ///
    /// # Errors
    /// The URL is invalid or asks for cleartext beyond this machine, the database is
    /// unreachable or its certificate not trusted, or a migration fails.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let connect::PgConnection { config, tls, .. } = connect::prepare(url)?;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Internal(format!("database pool: {e}")))?;
        let store = Self {
            pool,
            config,
            tls,
            leader: Mutex::new(None),
        };
        let mut client = store.client().await?;
        schema::migrate(&mut client).await.map_err(map_err)?;
        Ok(store)
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| {
            StoreError::Unavailable(format!("database connection: {}", with_causes(&e)))
        })
    }

    /// A pooled connection, for the copy from an embedded store.
    pub(crate) async fn client_for_copy(&self) -> StoreResult<deadpool_postgres::Object> {
        self.client().await
    }

    /// Grants `role` the privileges a server needs (INSERT and SELECT only on log
    /// tables).
    ///
    /// # Errors
    /// SQL errors.
    pub async fn grant_to(&self, role: &str) -> StoreResult<()> {
        self.client()
            .await?
            .batch_execute(&schema::grant_sql(role))
            .await
            .map_err(map_err)
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<Vec<Row>> {
        self.client()
            .await?
            .query(sql, params)
            .await
            .map_err(map_err)
    }

    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<u64> {
        self.client()
            .await?
            .execute(sql, params)
            .await
            .map_err(map_err)
    }
}

fn entry_of(row: &Row) -> StoredEntry {
    StoredEntry {
        seq: seq_of(row.get(0)),
        entry: row.get(1),
    }
}

fn checkpoint_of(row: &Row) -> StoreResult<StoredCheckpoint> {
    Ok(StoredCheckpoint {
        size: seq_of(row.get(0)),
        root: hash_of(row.get(1))?,
        note: row.get(2),
        created_micros: row.get(3),
    })
}

fn blob_of(row: &Row) -> StoreResult<StoredBlob> {
    Ok(StoredBlob {
        reference: BlobRef(hash_of(row.get(0))?.0),
        media_type: row.get(1),
        size: seq_of(row.get(2)),
        key_id: row.get(3),
        sealed: row.get(4),
        seq: row.get::<_, Option<i64>>(5).map(seq_of),
    })
}

fn data_key_of(row: &Row) -> DataKey {
    DataKey {
        key_id: row.get(0),
        subject: row.get(1),
        wrapped: row.get(2),
        master_epoch: u32::try_from(row.get::<_, i32>(3)).unwrap_or_default(),
        created_micros: row.get(4),
    }
}

fn api_key_of(row: &Row) -> StoreResult<ApiKeyRecord> {
    let agents: String = row.get(3);
    Ok(ApiKeyRecord {
        name: row.get(0),
        role: row.get(1),
        key_hash: hash_of(row.get(2))?.0,
        agents: AgentBinding::from_stored(&agents),
        created_micros: row.get(4),
        revoked_micros: row.get(5),
    })
}

/// The tsquery of parsed terms, built from bound parameters only.
fn text_condition(terms: &[evident_core::query::TextTerm], params: &mut Vec<String>) -> String {
    use evident_core::query::TextTerm;
    let parts: Vec<String> = terms
        .iter()
        .map(|term| {
            let (function, value) = match term {
                TextTerm::Word(w) => ("plainto_tsquery", w.clone()),
                TextTerm::Phrase(words) => ("phraseto_tsquery", words.join(" ")),
                // Stems are letters and digits only (evident-core tokenizes them).
                TextTerm::Prefix(stem) => ("to_tsquery", format!("{stem}:*")),
            };
            params.push(value);
            format!("{function}('simple', ${})", params.len())
        })
        .collect();
    format!(
        "seq IN (SELECT seq FROM event_texts WHERE body @@ ({}))",
        parts.join(" && ")
    )
}

/// The SQL of a search and its bound parameters: text values first (`$1..`), then
/// integers, numbered as added. No user text ever becomes SQL.
struct SearchSql {
    sql: String,
    texts: Vec<String>,
    ints: Vec<i64>,
}

impl SearchSql {
    fn new(query: &SearchQuery) -> Self {
        let mut sql = String::from("SELECT seq, entry FROM entries WHERE TRUE");
        let mut texts: Vec<String> = Vec::new();
        let mut ints: Vec<i64> = Vec::new();
        let mut clauses: Vec<String> = Vec::new();
        for (column, value) in [
            ("trace_id", &query.trace_id),
            ("job_id", &query.job_id),
            ("case_id", &query.case_id),
            ("workflow_run_id", &query.workflow_run_id),
            ("subject", &query.subject),
            ("agent", &query.agent),
            ("event_type", &query.event_type),
        ] {
            if let Some(v) = value {
                texts.push(v.clone());
                clauses.push(format!("{column} = ${}", texts.len()));
            }
        }
        if !query.text.is_empty() {
            clauses.push(text_condition(&query.text, &mut texts));
        }
        let n = texts.len();
        let mut int_clause = |clause: &str, value: i64, clauses: &mut Vec<String>| {
            ints.push(value);
            clauses.push(format!("{clause} ${}", n + ints.len()));
        };
        if let Some(from) = query.from_micros {
            int_clause("ts >=", from, &mut clauses);
        }
        if let Some(to) = query.to_micros {
            int_clause("ts <=", to, &mut clauses);
        }
        if let Some(after) = query.after_seq {
            int_clause("seq >", pg_seq(after), &mut clauses);
        }
        if let Some(before) = query.before_seq {
            int_clause("seq <", pg_seq(before), &mut clauses);
        }
        for clause in clauses {
            sql.push_str(" AND ");
            sql.push_str(&clause);
        }
        sql.push_str(match query.order {
            SearchOrder::Seq => " ORDER BY seq",
            SearchOrder::Time => " ORDER BY ts, seq",
        });
        ints.push(i64::try_from(query.limit.clamp(1, MAX_SEARCH_LIMIT)).unwrap_or(1));
        sql.push_str(&format!(" LIMIT ${}", n + ints.len()));
        Self { sql, texts, ints }
    }

    fn params(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        let texts = self
            .texts
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync));
        let ints = self
            .ints
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync));
        texts.chain(ints).collect()
    }
}

#[async_trait]
impl LogStore for PgStore {
    async fn append(&self, requests: Vec<AppendRequest>) -> StoreResult<Vec<AppendOutcome>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let destroyed = requests
            .iter()
            .any(|r| r.effects.iter().any(crate::Effect::destroys_secrets));
        let outcomes = append::append(&tx, requests).await?;
        tx.commit().await.map_err(map_err)?;
        if destroyed {
            // Drops the dead tuples that still hold wrapped keys, now (see
            // `effects.rs`); the erasure is already durable either way.
            if let Err(e) = client.batch_execute("VACUUM data_keys").await {
                tracing::warn!(error = %e, "VACUUM data_keys after destroying keys failed");
            }
        }
        Ok(outcomes)
    }

    async fn tree_head(&self) -> StoreResult<TreeHead> {
        let rows = self
            .query("SELECT size, root FROM tree_head WHERE id = 0", &[])
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("no tree head".into()))?;
        Ok(TreeHead {
            size: seq_of(row.get(0)),
            root: hash_of(row.get(1))?,
        })
    }

    async fn read_tiles(&self, ids: &[TileId]) -> StoreResult<TileMap> {
        let levels: Vec<i16> = ids.iter().map(|id| i16::from(id.level)).collect();
        let indexes: Vec<i64> = ids.iter().map(|id| pg_seq(id.index)).collect();
        let rows = self
            .query(
                "SELECT t.level, t.idx, t.data FROM tiles t
                 JOIN UNNEST($1::smallint[], $2::bigint[]) AS w(level, idx)
                   ON t.level = w.level AND t.idx = w.idx",
                &[&levels, &indexes],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    TileId {
                        level: u8::try_from(r.get::<_, i16>(0)).unwrap_or_default(),
                        index: seq_of(r.get(1)),
                    },
                    r.get(2),
                )
            })
            .collect())
    }

    async fn read_entries(&self, start: u64, end: u64) -> StoreResult<Vec<StoredEntry>> {
        let rows = self
            .query(
                "SELECT seq, entry FROM entries WHERE seq >= $1 AND seq < $2 ORDER BY seq",
                &[&pg_seq(start), &pg_seq(end)],
            )
            .await?;
        Ok(rows.iter().map(entry_of).collect())
    }

    async fn entry_by_event_id(&self, event_id: &str) -> StoreResult<Option<StoredEntry>> {
        let rows = self
            .query(
                "SELECT seq, entry FROM entries WHERE event_id = $1",
                &[&event_id],
            )
            .await?;
        Ok(rows.first().map(entry_of))
    }

    async fn index_rows(&self, start: u64, end: u64) -> StoreResult<Vec<(u64, IndexKeys)>> {
        let rows = self
            .query(
                "SELECT seq, event_id, trace_id, event_type, agent, job_id, case_id,
                        workflow_run_id, subject, ts
                 FROM entries WHERE seq >= $1 AND seq < $2 ORDER BY seq",
                &[&pg_seq(start), &pg_seq(end)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    seq_of(r.get(0)),
                    IndexKeys {
                        event_id: r.get(1),
                        trace_id: r.get(2),
                        event_type: r.get(3),
                        agent: r.get(4),
                        job_id: r.get(5),
                        case_id: r.get(6),
                        workflow_run_id: r.get(7),
                        subject: r.get(8),
                        timestamp_micros: r.get(9),
                    },
                )
            })
            .collect())
    }

    async fn put_checkpoint(&self, checkpoint: StoredCheckpoint) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // Serialize with appends and other signers.
        let head = tx
            .query_one("SELECT size FROM tree_head WHERE id = 0 FOR UPDATE", &[])
            .await
            .map_err(map_err)?;
        let head_size = seq_of(head.get(0));
        let latest: Option<i64> = tx
            .query_one("SELECT max(size) FROM checkpoints", &[])
            .await
            .map_err(map_err)?
            .get(0);
        let latest = latest.map(seq_of);
        if latest.is_some_and(|l| checkpoint.size < l) || checkpoint.size > head_size {
            return Err(StoreError::Conflict(format!(
                "checkpoint of size {} would shrink the log (latest {latest:?}, tree {head_size})",
                checkpoint.size
            )));
        }
        if latest == Some(checkpoint.size) {
            return Ok(());
        }
        tx.execute(
            "INSERT INTO checkpoints(size, root, note, created_at) VALUES ($1, $2, $3, $4)",
            &[
                &pg_seq(checkpoint.size),
                &checkpoint.root.0.as_slice(),
                &checkpoint.note,
                &checkpoint.created_micros,
            ],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>> {
        let rows = self
            .query(
                "SELECT size, root, note, created_at FROM checkpoints ORDER BY size DESC LIMIT 1",
                &[],
            )
            .await?;
        rows.first().map(checkpoint_of).transpose()
    }

    async fn checkpoints(
        &self,
        from_size: u64,
        limit: usize,
    ) -> StoreResult<Vec<StoredCheckpoint>> {
        let rows = self
            .query(
                "SELECT size, root, note, created_at FROM checkpoints WHERE size >= $1 ORDER BY size LIMIT $2",
                &[&pg_seq(from_size), &i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .await?;
        rows.iter().map(checkpoint_of).collect()
    }

    async fn integrity_check(&self) -> StoreResult<crate::IntegrityCheck> {
        let client = self.client().await?;
        integrity::check(&client).await
    }

    async fn try_lead(&self) -> StoreResult<bool> {
        let mut leader = self.leader.lock().await;
        if leader
            .as_ref()
            .is_some_and(|(client, _)| client.is_closed())
        {
            *leader = None;
        }
        if leader.is_none() {
            let (client, connection) = self
                .config
                .connect(self.tls.clone())
                .await
                .map_err(map_err)?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "leader connection ended");
                }
            });
            *leader = Some((client, false));
        }
        let Some((client, held)) = leader.as_mut() else {
            return Ok(false);
        };
        if !*held {
            // Session-level: held until this connection closes or the process dies,
            // and then another server's next attempt takes it.
            *held = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])
                .await
                .map_err(map_err)?
                .get(0);
        }
        Ok(*held)
    }
}

#[async_trait]
impl BlobStore for PgStore {
    async fn put_upload(&self, blob: SealedBlob, now_micros: i64) -> StoreResult<()> {
        self.execute(
            "INSERT INTO blobs(ref, seq, uploaded, subject, media_type, size, key_id, sealed, created_at)
             VALUES ($1, NULL, TRUE, NULL, $2, $3, $4, $5, $6) ON CONFLICT (ref) DO NOTHING",
            &[
                &blob.reference.0.as_slice(),
                &blob.media_type,
                &i64::try_from(blob.size).unwrap_or(i64::MAX),
                &blob.key_id,
                &blob.sealed,
                &now_micros,
            ],
        )
        .await?;
        Ok(())
    }

    async fn put_vault_values(&self, values: Vec<SealedValue>) -> StoreResult<()> {
        let client = self.client().await?;
        for v in values {
            client
                .execute(
                    "INSERT INTO vault(token, key_id, kind, sealed) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (token, key_id) DO NOTHING",
                    &[&v.token, &v.key_id, &v.kind, &v.sealed],
                )
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }

    async fn uploads(&self, refs: &[BlobRef]) -> StoreResult<HashMap<BlobRef, UploadedBlob>> {
        let keys: Vec<Vec<u8>> = refs.iter().map(|r| r.0.to_vec()).collect();
        let rows = self
            .query(
                "SELECT ref, size, media_type FROM blobs WHERE ref = ANY($1) AND uploaded",
                &[&keys],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    BlobRef(hash_of(r.get(0))?.0),
                    UploadedBlob {
                        size: usize::try_from(r.get::<_, i64>(1)).unwrap_or_default(),
                        media_type: r.get(2),
                    },
                ))
            })
            .collect()
    }

    async fn blob(&self, reference: &BlobRef) -> StoreResult<Option<StoredBlob>> {
        let rows = self
            .query(
                "SELECT ref, media_type, size, key_id, sealed, seq FROM blobs WHERE ref = $1",
                &[&reference.0.as_slice()],
            )
            .await?;
        rows.first().map(blob_of).transpose()
    }

    async fn blobs_in_range(&self, start: u64, end: u64) -> StoreResult<Vec<StoredBlob>> {
        let rows = self
            .query(
                "SELECT ref, media_type, size, key_id, sealed, seq FROM blobs
                 WHERE seq >= $1 AND seq < $2 ORDER BY seq",
                &[&pg_seq(start), &pg_seq(end)],
            )
            .await?;
        rows.iter().map(blob_of).collect()
    }

    async fn drop_stale_uploads(&self, cutoff_micros: i64) -> StoreResult<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        // An upload's own key is named after it (`upload_key_subject`).
        const STALE_UPLOAD_KEYS: &str = "SELECT key_id FROM data_keys WHERE subject IN
             (SELECT 'upload:sha256:' || encode(ref, 'hex') FROM blobs
              WHERE seq IS NULL AND uploaded AND created_at < $1)";
        for sql in [
            format!("DELETE FROM vault WHERE key_id IN ({STALE_UPLOAD_KEYS})"),
            format!("DELETE FROM data_keys WHERE key_id IN ({STALE_UPLOAD_KEYS})"),
        ] {
            tx.execute(&sql, &[&cutoff_micros]).await.map_err(map_err)?;
        }
        let n = tx
            .execute(
                "DELETE FROM blobs WHERE seq IS NULL AND uploaded AND created_at < $1",
                &[&cutoff_micros],
            )
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(n)
    }
}

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn create_api_key(&self, key: ApiKeyRecord) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        effects::insert_api_key(&tx, &key).await??;
        tx.commit().await.map_err(map_err)
    }

    async fn api_key_by_hash(&self, key_hash: &[u8; 32]) -> StoreResult<Option<ApiKeyRecord>> {
        let rows = self
            .query(
                "SELECT name, role, key_hash, agents, created_at, revoked_at FROM api_keys WHERE key_hash = $1",
                &[&key_hash.as_slice()],
            )
            .await?;
        rows.first().map(api_key_of).transpose()
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows = self
            .query(
                "SELECT name, role, key_hash, agents, created_at, revoked_at FROM api_keys ORDER BY name",
                &[],
            )
            .await?;
        rows.iter().map(api_key_of).collect()
    }

    async fn revoke_api_key(&self, name: &str, now_micros: i64) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        effects::revoke_api_key(&tx, name, now_micros).await??;
        tx.commit().await.map_err(map_err)
    }
}

#[async_trait]
impl MetaStore for PgStore {
    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        let rows = self
            .query("SELECT value FROM meta WHERE key = $1", &[&key])
            .await?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.execute(
            "INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl SearchStore for PgStore {
    async fn search(&self, query: &SearchQuery) -> StoreResult<Vec<StoredEntry>> {
        let search = SearchSql::new(query);
        let rows = self.query(&search.sql, &search.params()).await?;
        Ok(rows.iter().map(entry_of).collect())
    }

    async fn search_with_blobs(&self, query: &SearchQuery) -> StoreResult<EntriesWithBlobs> {
        let search = SearchSql::new(query);
        // Both queries on one connection, without a transaction: entries never change,
        // and a blob that retention deletes in between reads as already deleted.
        let client = self.client().await?;
        let rows = client
            .query(&search.sql, &search.params())
            .await
            .map_err(map_err)?;
        let entries: Vec<StoredEntry> = rows.iter().map(entry_of).collect();
        if entries.is_empty() {
            return Ok(EntriesWithBlobs::default());
        }
        let seqs: Vec<i64> = entries.iter().map(|e| pg_seq(e.seq)).collect();
        let blobs = client
            .query(
                "SELECT ref, media_type, size, key_id, sealed, seq FROM blobs WHERE seq = ANY($1)",
                &[&seqs],
            )
            .await
            .map_err(map_err)?
            .iter()
            .map(blob_of)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(EntriesWithBlobs { entries, blobs })
    }

    async fn text_indexed_through(&self) -> StoreResult<u64> {
        Ok(self
            .get_meta("text_indexed_through")
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or_default())
    }

    async fn index_text(&self, from: u64, docs: Vec<String>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        let position: String = tx
            .query_one(
                "SELECT value FROM meta WHERE key = 'text_indexed_through' FOR UPDATE",
                &[],
            )
            .await
            .map_err(map_err)?
            .get(0);
        if position != from.to_string() {
            return Err(StoreError::Conflict(format!(
                "the text index covers {position} entries, not {from}"
            )));
        }
        let seqs: Vec<i64> = (0..docs.len()).map(|i| pg_seq(from + i as u64)).collect();
        tx.execute(
            "INSERT INTO event_texts(seq, body)
             SELECT s, to_tsvector('simple', b) FROM UNNEST($1::bigint[], $2::text[]) AS t(s, b)
             ON CONFLICT (seq) DO NOTHING",
            &[&seqs, &docs],
        )
        .await
        .map_err(map_err)?;
        tx.execute(
            "DELETE FROM event_texts WHERE seq IN (
               SELECT e.seq FROM entries e JOIN erasures x ON x.subject = e.subject
               WHERE e.seq >= $1 AND e.seq < $2)",
            &[&pg_seq(from), &pg_seq(from + docs.len() as u64)],
        )
        .await
        .map_err(map_err)?;
        // The dashboard's rollup covers what the text index covers (`stats.rs`).
        tx.execute(
            stats::ROLL_UP,
            &[&pg_seq(from), &pg_seq(from + docs.len() as u64)],
        )
        .await
        .map_err(map_err)?;
        tx.execute(
            "UPDATE meta SET value = $1 WHERE key = 'text_indexed_through'",
            &[&(from + docs.len() as u64).to_string()],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }
}

#[async_trait]
impl VaultStore for PgStore {
    async fn active_data_keys(&self, subjects: &[String]) -> StoreResult<HashMap<String, DataKey>> {
        let rows = self
            .query(
                "SELECT key_id, subject, wrapped, master_epoch, created_at FROM data_keys WHERE subject = ANY($1)",
                &[&subjects],
            )
            .await?;
        Ok(rows
            .iter()
            .map(data_key_of)
            .map(|k| (k.subject.clone(), k))
            .collect())
    }

    async fn insert_data_keys(&self, keys: Vec<DataKey>) -> StoreResult<()> {
        let client = self.client().await?;
        for key in keys {
            client
                .execute(
                    "INSERT INTO data_keys(key_id, subject, wrapped, master_epoch, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    &[
                        &key.key_id,
                        &key.subject,
                        &key.wrapped,
                        &i32::try_from(key.master_epoch).unwrap_or(i32::MAX),
                        &key.created_micros,
                    ],
                )
                .await
                .map_err(map_err)?;
        }
        Ok(())
    }

    async fn data_keys(&self, key_ids: &[String]) -> StoreResult<HashMap<String, DataKey>> {
        let rows = self
            .query(
                "SELECT key_id, subject, wrapped, master_epoch, created_at FROM data_keys WHERE key_id = ANY($1)",
                &[&key_ids],
            )
            .await?;
        Ok(rows
            .iter()
            .map(data_key_of)
            .map(|k| (k.key_id.clone(), k))
            .collect())
    }

    async fn destroyed_keys(&self, key_ids: &[String]) -> StoreResult<HashSet<String>> {
        let rows = self
            .query(
                "SELECT key_id FROM destroyed_keys WHERE key_id = ANY($1)",
                &[&key_ids],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn all_data_keys(&self) -> StoreResult<Vec<DataKey>> {
        let rows = self
            .query(
                "SELECT key_id, subject, wrapped, master_epoch, created_at FROM data_keys ORDER BY key_id",
                &[],
            )
            .await?;
        Ok(rows.iter().map(data_key_of).collect())
    }

    async fn rewrap_data_keys(&self, keys: Vec<DataKey>) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(map_err)?;
        for key in keys {
            tx.execute(
                "UPDATE data_keys SET wrapped = $2, master_epoch = $3 WHERE key_id = $1",
                &[
                    &key.key_id,
                    &key.wrapped,
                    &i32::try_from(key.master_epoch).unwrap_or(i32::MAX),
                ],
            )
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn vault_values(&self, tokens: &[String]) -> StoreResult<Vec<SealedValue>> {
        let rows = self
            .query(
                "SELECT token, kind, key_id, sealed FROM vault WHERE token = ANY($1)",
                &[&tokens],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| SealedValue {
                token: r.get(0),
                kind: r.get(1),
                key_id: r.get(2),
                sealed: r.get(3),
            })
            .collect())
    }

    async fn erasure_plan(&self, subject: &str) -> StoreResult<ErasureReport> {
        let client = self.client().await?;
        effects::plan(&**client, subject).await
    }

    async fn vault_values_under(&self, key_id: &str) -> StoreResult<Vec<SealedValue>> {
        let rows = self
            .query(
                "SELECT token, kind, key_id, sealed FROM vault WHERE key_id = $1",
                &[&key_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| SealedValue {
                token: r.get(0),
                kind: r.get(1),
                key_id: r.get(2),
                sealed: r.get(3),
            })
            .collect())
    }

    async fn erased_at(&self, subject: &str) -> StoreResult<Option<i64>> {
        let rows = self
            .query(
                "SELECT erased_at FROM erasures WHERE subject = $1",
                &[&subject],
            )
            .await?;
        Ok(rows.first().map(|r| r.get(0)))
    }
}
