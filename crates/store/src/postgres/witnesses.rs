//! PostgreSQL's witness cosignatures and witness status. See `crate::witnesses`.

use async_trait::async_trait;

use super::{pg_seq, seq_of, PgStore};
use crate::witnesses::{StoredCosignature, WitnessStatus, WitnessStore};
use crate::{StoreError, StoreResult};

#[async_trait]
impl WitnessStore for PgStore {
    async fn put_cosignature(&self, cosignature: StoredCosignature) -> StoreResult<()> {
        let size = pg_seq(cosignature.size);
        let inserted = self
            .execute(
                "INSERT INTO cosignatures(size, witness, line, timestamp, received_at)
                 SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM checkpoints WHERE size = $1)
                 ON CONFLICT DO NOTHING",
                &[
                    &size,
                    &cosignature.witness,
                    &cosignature.line,
                    &pg_seq(cosignature.timestamp),
                    &cosignature.received_micros,
                ],
            )
            .await?;
        if inserted == 0 {
            let exists = self
                .query("SELECT 1 FROM checkpoints WHERE size = $1", &[&size])
                .await?;
            if exists.is_empty() {
                return Err(StoreError::NotFound(format!(
                    "no checkpoint of size {}",
                    cosignature.size
                )));
            }
        }
        Ok(())
    }

    async fn cosignatures(&self, size: u64) -> StoreResult<Vec<StoredCosignature>> {
        let rows = self
            .query(
                "SELECT witness, line, timestamp, received_at FROM cosignatures
                 WHERE size = $1 ORDER BY witness",
                &[&pg_seq(size)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| StoredCosignature {
                size,
                witness: r.get(0),
                line: r.get(1),
                timestamp: seq_of(r.get(2)),
                received_micros: r.get(3),
            })
            .collect())
    }

    async fn newest_cosigned_size(
        &self,
        witnesses: &[String],
        quorum: usize,
    ) -> StoreResult<Option<u64>> {
        let quorum = i64::try_from(quorum).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT size FROM cosignatures WHERE witness = ANY($1)
                 GROUP BY size HAVING count(*) >= $2 ORDER BY size DESC LIMIT 1",
                &[&witnesses, &quorum],
            )
            .await?;
        Ok(rows.first().map(|r| seq_of(r.get(0))))
    }

    async fn put_witness_status(&self, status: WitnessStatus) -> StoreResult<()> {
        self.execute(
            "INSERT INTO witness_status(witness, known_size, cosigned_size, cosigned_at, error, error_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT(witness) DO UPDATE SET known_size = excluded.known_size,
               cosigned_size = excluded.cosigned_size, cosigned_at = excluded.cosigned_at,
               error = excluded.error, error_at = excluded.error_at",
            &[
                &status.witness,
                &status.known_size.map(pg_seq),
                &status.cosigned_size.map(pg_seq),
                &status.cosigned_micros,
                &status.error,
                &status.error_micros,
            ],
        )
        .await?;
        Ok(())
    }

    async fn witness_statuses(&self) -> StoreResult<Vec<WitnessStatus>> {
        let rows = self
            .query(
                "SELECT witness, known_size, cosigned_size, cosigned_at, error, error_at
                 FROM witness_status ORDER BY witness",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| WitnessStatus {
                witness: r.get(0),
                known_size: r.get::<_, Option<i64>>(1).map(seq_of),
                cosigned_size: r.get::<_, Option<i64>>(2).map(seq_of),
                cosigned_micros: r.get(3),
                error: r.get(4),
                error_micros: r.get(5),
            })
            .collect())
    }
}
