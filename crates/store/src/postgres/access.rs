//! PostgreSQL's read-access log (see `crate::access`): batches appended inside the
//! transaction of their `access_log_checkpoint` event, which holds the tree head's row
//! lock, so two servers' batches are serialized.

use async_trait::async_trait;
use tokio_postgres::{Row, Transaction};

use super::{map_err, pg_seq, seq_of, PgStore};
use crate::access::{AccessLogStore, AccessQuery, AccessRecord};
use crate::{StoreError, StoreResult};

/// Appends `records` at `from_seq`; refused unless the log holds exactly `from_seq`.
pub(super) async fn append(
    tx: &Transaction<'_>,
    from_seq: u64,
    records: &[AccessRecord],
) -> StoreResult<Result<(), StoreError>> {
    let size: i64 = tx
        .query_one("SELECT count(*) FROM access_log", &[])
        .await
        .map_err(map_err)?
        .get(0);
    if seq_of(size) != from_seq {
        return Ok(Err(StoreError::Conflict(format!(
            "the access log holds {size} records, not {from_seq}"
        ))));
    }
    let seqs: Vec<i64> = records.iter().map(|r| pg_seq(r.seq)).collect();
    let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
    let ats: Vec<i64> = records.iter().map(|r| r.at_micros).collect();
    let bodies: Vec<&[u8]> = records.iter().map(|r| r.record.as_slice()).collect();
    tx.execute(
        "INSERT INTO access_log(seq, key, at, record)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::bytea[])",
        &[&seqs, &keys, &ats, &bodies],
    )
    .await
    .map_err(map_err)?;
    Ok(Ok(()))
}

fn record_of(r: &Row) -> AccessRecord {
    AccessRecord {
        seq: seq_of(r.get(0)),
        key: r.get(1),
        at_micros: r.get(2),
        record: r.get(3),
    }
}

#[async_trait]
impl AccessLogStore for PgStore {
    async fn access_log_size(&self) -> StoreResult<u64> {
        let rows = self.query("SELECT count(*) FROM access_log", &[]).await?;
        Ok(rows.first().map_or(0, |r| seq_of(r.get(0))))
    }

    async fn access_records(&self, start: u64, end: u64) -> StoreResult<Vec<AccessRecord>> {
        let rows = self
            .query(
                "SELECT seq, key, at, record FROM access_log WHERE seq >= $1 AND seq < $2 ORDER BY seq",
                &[&pg_seq(start), &pg_seq(end)],
            )
            .await?;
        Ok(rows.iter().map(record_of).collect())
    }

    async fn search_access(&self, query: &AccessQuery) -> StoreResult<Vec<AccessRecord>> {
        let after = query.after_seq.map_or(-1, pg_seq);
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT seq, key, at, record FROM access_log
                 WHERE ($1::text IS NULL OR key = $1) AND ($2::bigint IS NULL OR at >= $2)
                   AND ($3::bigint IS NULL OR at <= $3) AND seq > $4
                 ORDER BY seq LIMIT $5",
                &[
                    &query.key,
                    &query.from_micros,
                    &query.to_micros,
                    &after,
                    &limit,
                ],
            )
            .await?;
        Ok(rows.iter().map(record_of).collect())
    }
}
