//! `evident copy --from DIR --to postgres://...`: move an embedded log into
//! PostgreSQL, byte for byte.
//!
//! Everything is copied as stored (entries, tiles, tree head, checkpoints, sealed
//! blobs and vault values, remembered identifiers, approvals, wrapped data keys, API key hashes,
//! the log's identity) —
//! except that entries the embedded store keeps compressed arrive as their exact
//! bytes, which is how the PostgreSQL store keeps every entry —, in
//! one PostgreSQL transaction: a failed copy leaves the destination empty. The text
//! index is rebuilt by the destination's indexer. The destination must be empty.
//! Proving the trees equal is the caller's job (the CLI runs the verifier on the
//! destination and compares roots).

use rusqlite::{Connection, OpenFlags};
use tokio_postgres::types::ToSql;

use crate::postgres::{map_err, PgStore};
use crate::{StoreError, StoreResult};

/// Rows copied per statement.
const CHUNK: i64 = 5_000;

/// What a copy moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub entries: u64,
    pub blobs: u64,
    pub tiles: u64,
    pub checkpoints: u64,
}

fn sqlite_err(e: rusqlite::Error) -> StoreError {
    crate::sqlite::map_err(e)
}

/// A column's value, carried from SQLite to PostgreSQL.
#[derive(Debug, Clone)]
enum Cell {
    Int(Option<i64>),
    Int4(Option<i32>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
    Bool(bool),
}

impl Cell {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Cell::Int(v) => v,
            Cell::Int4(v) => v,
            Cell::Text(v) => v,
            Cell::Bytes(v) => v,
            Cell::Bool(v) => v,
        }
    }
}

/// How to read a column from SQLite.
#[derive(Clone, Copy)]
enum Kind {
    Int,
    Int4,
    Text,
    Bytes,
    Bool,
    /// An entry as the embedded store keeps it (maybe compressed): its exact bytes.
    Entry,
}

/// Copies one table in chunks (ordered by `order`), row by row into PostgreSQL.
async fn copy_table(
    src: &Connection,
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    columns: &[(&str, Kind)],
    order: &str,
) -> StoreResult<u64> {
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let insert = tx
        .prepare(&format!(
            "INSERT INTO {table}({}) VALUES ({})",
            names.join(", "),
            placeholders.join(", ")
        ))
        .await
        .map_err(map_err)?;
    let dictionaries = crate::sqlite::compress::Dictionaries::default();
    let mut copied = 0u64;
    let mut offset = 0i64;
    loop {
        let rows: Vec<Vec<Cell>> = {
            let mut stmt = src
                .prepare(&format!(
                    "SELECT {} FROM {table} ORDER BY {order} LIMIT {CHUNK} OFFSET {offset}",
                    names.join(", ")
                ))
                .map_err(sqlite_err)?;
            let mapped = stmt
                .query_map([], |r| {
                    columns
                        .iter()
                        .enumerate()
                        .map(|(i, (_, kind))| {
                            Ok(match kind {
                                Kind::Int => Cell::Int(r.get(i)?),
                                Kind::Int4 => Cell::Int4(r.get(i)?),
                                Kind::Text => Cell::Text(r.get(i)?),
                                Kind::Bytes => Cell::Bytes(r.get(i)?),
                                // Column 0 of `entries` is its `seq`.
                                Kind::Entry => Cell::Bytes(Some(dictionaries.unpack(
                                    src,
                                    r.get(0)?,
                                    r.get(i)?,
                                )?)),
                                Kind::Bool => Cell::Bool(r.get::<_, i64>(i)? != 0),
                            })
                        })
                        .collect()
                })
                .map_err(sqlite_err)?;
            mapped
                .collect::<rusqlite::Result<_>>()
                .map_err(sqlite_err)?
        };
        if rows.is_empty() {
            return Ok(copied);
        }
        for row in &rows {
            let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(Cell::as_sql).collect();
            tx.execute(&insert, &params).await.map_err(map_err)?;
        }
        copied += rows.len() as u64;
        offset += CHUNK;
    }
}

/// Copies the embedded store at `sqlite_path` into the empty PostgreSQL store `dst`.
///
/// # Errors
/// [`StoreError::Conflict`] if the destination is not empty; database errors.
pub async fn copy_sqlite_to_postgres(
    sqlite_path: &std::path::Path,
    dst: &PgStore,
) -> StoreResult<CopyReport> {
    let src = Connection::open_with_flags(sqlite_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sqlite_err)?;
    let mut client = dst.client_for_copy().await?;
    let tx = client.transaction().await.map_err(map_err)?;
    let size: i64 = tx
        .query_one("SELECT size FROM tree_head WHERE id = 0 FOR UPDATE", &[])
        .await
        .map_err(map_err)?
        .get(0);
    let identity = tx
        .query_opt("SELECT value FROM meta WHERE key = 'origin'", &[])
        .await
        .map_err(map_err)?;
    if size != 0 || identity.is_some() {
        return Err(StoreError::Conflict(
            "the destination database already holds a log; copy into an empty one".into(),
        ));
    }
    use Kind::{Bool, Bytes, Entry, Int, Int4, Text};
    tx.execute("DELETE FROM meta", &[]).await.map_err(map_err)?;
    copy_table(&src, &tx, "meta", &[("key", Text), ("value", Text)], "key").await?;
    tx.execute(
        "UPDATE meta SET value = '0' WHERE key = 'text_indexed_through'",
        &[],
    )
    .await
    .map_err(map_err)?;
    copy_table(
        &src,
        &tx,
        "api_keys",
        &[
            ("name", Text),
            ("role", Text),
            ("key_hash", Bytes),
            ("agents", Text),
            ("created_at", Int),
            ("revoked_at", Int),
        ],
        "name",
    )
    .await?;
    copy_table(
        &src,
        &tx,
        "data_keys",
        &[
            ("key_id", Text),
            ("subject", Text),
            ("wrapped", Bytes),
            ("master_epoch", Int4),
            ("created_at", Int),
        ],
        "key_id",
    )
    .await?;
    copy_table(
        &src,
        &tx,
        "destroyed_keys",
        &[("key_id", Text), ("subject", Text), ("destroyed_at", Int)],
        "key_id",
    )
    .await?;
    copy_table(
        &src,
        &tx,
        "erasures",
        &[("subject", Text), ("erased_at", Int)],
        "subject",
    )
    .await?;
    copy_table(
        &src,
        &tx,
        "vault",
        &[
            ("token", Text),
            ("key_id", Text),
            ("kind", Text),
            ("sealed", Bytes),
        ],
        "token, key_id",
    )
    .await?;
    // Remembered declared identifiers, sealed under their subjects' keys (copied above).
    copy_table(
        &src,
        &tx,
        "subject_identifiers",
        &[
            ("subject", Text),
            ("kind", Text),
            ("value_hash", Bytes),
            ("key_id", Text),
            ("sealed", Bytes),
        ],
        "id",
    )
    .await?;
    // The artifact registry, in commit order (PostgreSQL numbers the rows itself, in
    // the same order, so "the last move" stays the same move).
    copy_table(
        &src,
        &tx,
        "artifacts",
        &[
            ("kind", Text),
            ("name", Text),
            ("version", Text),
            ("content", Text),
            ("content_hash", Text),
            ("metadata", Text),
            ("event_id", Text),
            ("published_at", Int),
        ],
        "id",
    )
    .await?;
    copy_table(
        &src,
        &tx,
        "artifact_label_moves",
        &[
            ("kind", Text),
            ("name", Text),
            ("label", Text),
            ("from_version", Text),
            ("version", Text),
            ("event_id", Text),
            ("moved_at", Int),
        ],
        "id",
    )
    .await?;
    // Approvals, and their resolutions in commit order.
    copy_table(
        &src,
        &tx,
        "approvals",
        &[
            ("approval_id", Text),
            ("job_id", Text),
            ("job_hash", Text),
            ("action", Text),
            ("requested_by", Text),
            ("trace_id", Text),
            ("subject", Text),
            ("event_id", Text),
            ("opened_at", Int),
            ("expires_at", Int),
            ("state", Text),
        ],
        "approval_id",
    )
    .await?;
    copy_table(
        &src,
        &tx,
        "approval_resolutions",
        &[
            ("approval_id", Text),
            ("job_hash", Text),
            ("resolution", Text),
            ("resolved_by", Text),
            ("method", Text),
            ("final_job_hash", Text),
            ("event_id", Text),
            ("resolved_at", Int),
        ],
        "id",
    )
    .await?;
    // Policy sets: versions, activations in commit order (PostgreSQL numbers them
    // again in the same order, so the policy generation is the same), the decision
    // index.
    copy_table(
        &src,
        &tx,
        "policy_versions",
        &[
            ("set_id", Text),
            ("version", Int),
            ("text", Text),
            ("schema", Text),
            ("tests", Text),
            ("text_sha256", Text),
            ("event_id", Text),
            ("published_at", Int),
        ],
        "set_id, version",
    )
    .await?;
    copy_table(
        &src,
        &tx,
        "policy_activations",
        &[
            ("set_id", Text),
            ("version", Int),
            ("kind", Text),
            ("event_id", Text),
            ("at", Int),
        ],
        "id",
    )
    .await?;
    copy_table(
        &src,
        &tx,
        "policy_decisions",
        &[
            ("event_id", Text),
            ("decided_at", Int),
            ("decision", Text),
            ("rule_id", Text),
            ("agent", Text),
        ],
        "id",
    )
    .await?;
    let entries = copy_table(
        &src,
        &tx,
        "entries",
        &[
            ("seq", Int),
            ("event_id", Text),
            ("digest", Bytes),
            ("entry", Entry),
            ("trace_id", Text),
            ("event_type", Text),
            ("agent", Text),
            ("job_id", Text),
            ("case_id", Text),
            ("workflow_run_id", Text),
            ("subject", Text),
            ("ts", Int),
        ],
        "seq",
    )
    .await?;
    let blobs = copy_table(
        &src,
        &tx,
        "blobs",
        &[
            ("ref", Bytes),
            ("seq", Int),
            ("uploaded", Bool),
            ("subject", Text),
            ("media_type", Text),
            ("size", Int),
            ("key_id", Text),
            ("sealed", Bytes),
            ("created_at", Int),
        ],
        "ref",
    )
    .await?;
    // Tiles: the destination has none yet, so plain inserts (no growth trigger).
    let tiles = {
        let rows: Vec<(i64, i64, Vec<u8>)> = {
            let mut stmt = src
                .prepare("SELECT level, idx, data FROM tiles ORDER BY level, idx")
                .map_err(sqlite_err)?;
            let mapped = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(sqlite_err)?;
            mapped
                .collect::<rusqlite::Result<_>>()
                .map_err(sqlite_err)?
        };
        for (level, idx, data) in &rows {
            let level =
                i16::try_from(*level).map_err(|_| StoreError::Corrupt("tile level".into()))?;
            tx.execute(
                "INSERT INTO tiles(level, idx, data) VALUES ($1, $2, $3)",
                &[&level, idx, data],
            )
            .await
            .map_err(map_err)?;
        }
        rows.len() as u64
    };
    let (head_size, head_root): (i64, Vec<u8>) = src
        .query_row("SELECT size, root FROM tree_head WHERE id = 0", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(sqlite_err)?;
    tx.execute(
        "UPDATE tree_head SET size = $1, root = $2 WHERE id = 0",
        &[&head_size, &head_root],
    )
    .await
    .map_err(map_err)?;
    let checkpoints = copy_table(
        &src,
        &tx,
        "checkpoints",
        &[
            ("size", Int),
            ("root", Bytes),
            ("note", Text),
            ("created_at", Int),
        ],
        "size",
    )
    .await?;
    // The read-access records the log's `access_log_checkpoint` entries anchor:
    // without them the copy would not verify.
    copy_table(
        &src,
        &tx,
        "access_log",
        &[("seq", Int), ("key", Text), ("at", Int), ("record", Bytes)],
        "seq",
    )
    .await?;
    tx.commit().await.map_err(map_err)?;
    Ok(CopyReport {
        entries,
        blobs,
        tiles,
        checkpoints,
    })
}
