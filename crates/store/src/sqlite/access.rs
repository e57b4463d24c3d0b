//! The embedded store's read-access log (see `crate::access`): batches appended inside
//! the transaction of their `access_log_checkpoint` event.

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::{map_err, seq_of, sql_seq, SqliteStore};
use crate::access::{AccessLogStore, AccessQuery, AccessRecord};
use crate::{StoreError, StoreResult};

/// Appends `records` at `from_seq`; refused unless the log holds exactly `from_seq`.
pub(super) fn append(
    conn: &Connection,
    from_seq: u64,
    records: &[AccessRecord],
) -> StoreResult<Result<(), StoreError>> {
    let size: i64 = conn
        .query_row("SELECT count(*) FROM access_log", [], |r| r.get(0))
        .map_err(map_err)?;
    if seq_of(size) != from_seq {
        return Ok(Err(StoreError::Conflict(format!(
            "the access log holds {size} records, not {from_seq}"
        ))));
    }
    let mut insert = conn
        .prepare_cached("INSERT INTO access_log(seq, key, at, record) VALUES (?1, ?2, ?3, ?4)")
        .map_err(map_err)?;
    for record in records {
        insert
            .execute(params![
                sql_seq(record.seq),
                record.key,
                record.at_micros,
                record.record
            ])
            .map_err(map_err)?;
    }
    Ok(Ok(()))
}

fn record_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccessRecord> {
    Ok(AccessRecord {
        seq: seq_of(r.get(0)?),
        key: r.get(1)?,
        at_micros: r.get(2)?,
        record: r.get(3)?,
    })
}

#[async_trait]
impl AccessLogStore for SqliteStore {
    async fn access_log_size(&self) -> StoreResult<u64> {
        self.read(|conn| {
            conn.query_row("SELECT count(*) FROM access_log", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(seq_of)
        })
        .await
    }

    async fn access_records(&self, start: u64, end: u64) -> StoreResult<Vec<AccessRecord>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, key, at, record FROM access_log WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![sql_seq(start), sql_seq(end)], record_of)?;
            rows.collect()
        })
        .await
    }

    async fn search_access(&self, query: &AccessQuery) -> StoreResult<Vec<AccessRecord>> {
        let query = query.clone();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, key, at, record FROM access_log
                 WHERE (?1 IS NULL OR key = ?1) AND (?2 IS NULL OR at >= ?2)
                   AND (?3 IS NULL OR at <= ?3) AND seq > ?4
                 ORDER BY seq LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![
                    query.key,
                    query.from_micros,
                    query.to_micros,
                    query.after_seq.map_or(-1, sql_seq),
                    i64::try_from(query.limit).unwrap_or(i64::MAX)
                ],
                record_of,
            )?;
            rows.collect()
        })
        .await
    }
}
