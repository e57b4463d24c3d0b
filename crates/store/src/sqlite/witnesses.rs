//! The embedded store's witness cosignatures and witness status. See
//! `crate::witnesses`.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::{map_err, seq_of, sql_seq, SqliteStore};
use crate::witnesses::{StoredCosignature, WitnessStatus, WitnessStore};
use crate::{StoreError, StoreResult};

#[async_trait]
impl WitnessStore for SqliteStore {
    async fn put_cosignature(&self, cosignature: StoredCosignature) -> StoreResult<()> {
        self.write(move |conn| {
            let inserted = conn
                .execute(
                    "INSERT INTO cosignatures(size, witness, line, timestamp, received_at)
                     SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM checkpoints WHERE size = ?1)
                     ON CONFLICT DO NOTHING",
                    params![
                        sql_seq(cosignature.size),
                        cosignature.witness,
                        cosignature.line,
                        sql_seq(cosignature.timestamp),
                        cosignature.received_micros
                    ],
                )
                .map_err(map_err)?;
            if inserted == 0 {
                let exists = conn
                    .query_row(
                        "SELECT 1 FROM checkpoints WHERE size = ?1",
                        [sql_seq(cosignature.size)],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(map_err)?;
                if exists.is_none() {
                    return Err(StoreError::NotFound(format!(
                        "no checkpoint of size {}",
                        cosignature.size
                    )));
                }
            }
            Ok(())
        })
        .await
    }

    async fn cosignatures(&self, size: u64) -> StoreResult<Vec<StoredCosignature>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT witness, line, timestamp, received_at FROM cosignatures
                 WHERE size = ?1 ORDER BY witness",
            )?;
            let rows = stmt.query_map([sql_seq(size)], |r| {
                Ok(StoredCosignature {
                    size,
                    witness: r.get(0)?,
                    line: r.get(1)?,
                    timestamp: seq_of(r.get(2)?),
                    received_micros: r.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn newest_cosigned_size(
        &self,
        witnesses: &[String],
        quorum: usize,
    ) -> StoreResult<Option<u64>> {
        let names = serde_json::to_string(witnesses).unwrap_or_else(|_| "[]".into());
        let quorum = i64::try_from(quorum).unwrap_or(i64::MAX);
        self.read(move |conn| {
            conn.query_row(
                "SELECT size FROM cosignatures
                 WHERE witness IN (SELECT value FROM json_each(?1))
                 GROUP BY size HAVING count(*) >= ?2 ORDER BY size DESC LIMIT 1",
                params![names, quorum],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|size| size.map(seq_of))
        })
        .await
    }

    async fn put_witness_status(&self, status: WitnessStatus) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO witness_status(witness, known_size, cosigned_size, cosigned_at, error, error_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(witness) DO UPDATE SET known_size = excluded.known_size,
                   cosigned_size = excluded.cosigned_size, cosigned_at = excluded.cosigned_at,
                   error = excluded.error, error_at = excluded.error_at",
                params![
                    status.witness,
                    status.known_size.map(sql_seq),
                    status.cosigned_size.map(sql_seq),
                    status.cosigned_micros,
                    status.error,
                    status.error_micros
                ],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn witness_statuses(&self) -> StoreResult<Vec<WitnessStatus>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT witness, known_size, cosigned_size, cosigned_at, error, error_at
                 FROM witness_status ORDER BY witness",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(WitnessStatus {
                    witness: r.get(0)?,
                    known_size: r.get::<_, Option<i64>>(1)?.map(seq_of),
                    cosigned_size: r.get::<_, Option<i64>>(2)?.map(seq_of),
                    cosigned_micros: r.get(3)?,
                    error: r.get(4)?,
                    error_micros: r.get(5)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}
