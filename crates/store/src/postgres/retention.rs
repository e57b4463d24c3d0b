//! PostgreSQL's side of retention (see `crate::retention`): the reads the purge plans
//! from, the purge itself inside the append transaction, and the record of purged
//! blobs. Lists of traces go in as `text[]` parameters.

use std::collections::HashMap;

use async_trait::async_trait;
use evident_core::blob::BlobRef;
use tokio_postgres::{GenericClient, Row, Transaction};

use super::{blob_of, hash_of, map_err, pg_seq, seq_of, PgStore};
use crate::retention::{
    ExpiryBounds, PurgeCounts, PurgedBlob, RetentionStore, RetentionTrace, TracePurge,
};
use crate::{StoreError, StoreResult, StoredBlob};

/// The `seq`s of the entries of the traces in `$1`, as an array, used as
/// `seq = ANY(TRACE_SEQS)`: read trace by trace from `entries_by_trace` and each table
/// then by its `seq` index. (As `seq IN (SELECT … WHERE trace_id = ANY($1))`, a purge of
/// thousands of traces was planned as a hash join over a scan of every entry and every
/// blob; the lateral subquery's `OFFSET 0` keeps it from being flattened into one.)
const TRACE_SEQS: &str = "ARRAY(SELECT e.seq FROM unnest($1::text[]) AS t(id)
     CROSS JOIN LATERAL (SELECT seq FROM entries WHERE trace_id = t.id OFFSET 0) e)";

/// The holds in force at `$2` covering any entry of trace `$1` (or the trace itself).
const HOLDS_ON_TRACE: &str = "SELECT hold_id FROM legal_holds h
     WHERE lifted_at IS NULL AND (until_at IS NULL OR until_at > $2) AND (
       (kind = 'trace' AND value = $1)
       OR (kind IN ('job', 'case', 'subject', 'time') AND EXISTS (
         SELECT 1 FROM entries e WHERE e.trace_id = $1
           AND ((h.kind = 'job' AND e.job_id = h.value)
             OR (h.kind = 'case' AND e.case_id = h.value)
             OR (h.kind = 'subject' AND e.subject = h.value)
             OR (h.kind = 'time' AND e.ts BETWEEN h.from_at AND h.to_at)))))
     ORDER BY placed_at, hold_id";

/// Data keys of the payload traces' subjects that have no blob left outside them:
/// their vault values go with the purge.
fn emptied_keys() -> String {
    format!(
        "SELECT k.key_id FROM data_keys k WHERE k.subject IN
           (SELECT DISTINCT subject FROM entries WHERE subject IS NOT NULL AND seq = ANY({TRACE_SEQS}))
         AND NOT EXISTS (SELECT 1 FROM entries e JOIN blobs b ON b.seq = e.seq
                         WHERE e.subject = k.subject AND NOT (e.trace_id = ANY($1)))"
    )
}

/// The vault values under the log's default key (found in events without a subject)
/// a purge of the payload traces in `$1` deletes: those these traces use and no other
/// entry does (`vault_uses`), as `(key_id, token)`.
fn unused_default_values() -> String {
    format!(
        "SELECT u.key_id, u.token FROM vault_uses u
         WHERE u.seq = ANY({TRACE_SEQS})
           AND NOT EXISTS (SELECT 1 FROM vault_uses o JOIN entries e ON e.seq = o.seq
                           WHERE o.key_id = u.key_id AND o.token = u.token
                             AND NOT (e.trace_id = ANY($1)))"
    )
}

fn lists(traces: &[TracePurge]) -> (Vec<&str>, Vec<&str>) {
    let payload = traces
        .iter()
        .filter(|t| t.payload)
        .map(|t| t.trace_id.as_str())
        .collect();
    let text = traces
        .iter()
        .filter(|t| t.text)
        .map(|t| t.trace_id.as_str())
        .collect();
    (payload, text)
}

async fn count(client: &impl GenericClient, sql: &str, list: &[&str]) -> StoreResult<u64> {
    let row = client.query_one(sql, &[&list]).await.map_err(map_err)?;
    Ok(seq_of(row.get(0)))
}

/// What purging `traces` would delete, as `client` sees it.
pub(super) async fn plan(
    client: &impl GenericClient,
    traces: &[TracePurge],
) -> StoreResult<PurgeCounts> {
    let (payload, text) = lists(traces);
    Ok(PurgeCounts {
        blobs: count(
            client,
            &format!("SELECT count(*) FROM blobs WHERE seq = ANY({TRACE_SEQS})"),
            &payload,
        )
        .await?,
        values: count(
            client,
            &format!(
                "SELECT count(*) FROM vault WHERE key_id IN ({})",
                emptied_keys()
            ),
            &payload,
        )
        .await?
            + count(
                client,
                &format!(
                    "SELECT count(*) FROM vault WHERE (key_id, token) IN ({})",
                    unused_default_values()
                ),
                &payload,
            )
            .await?,
        texts: count(
            client,
            &format!("SELECT count(*) FROM event_texts WHERE seq = ANY({TRACE_SEQS})"),
            &text,
        )
        .await?,
    })
}

/// Applies a purge in `tx` (see [`crate::Effect::PurgeRetention`]). The append holds
/// the tree head's row lock by now, so no entry or hold commits meanwhile.
pub(super) async fn purge(
    tx: &Transaction<'_>,
    run_id: &str,
    now_micros: i64,
    traces: &[TracePurge],
    expect: &PurgeCounts,
) -> StoreResult<Result<(), StoreError>> {
    for trace in traces {
        let newest: Option<i64> = tx
            .query_one(
                "SELECT max(seq) FROM entries WHERE trace_id = $1",
                &[&trace.trace_id],
            )
            .await
            .map_err(map_err)?
            .get(0);
        if newest.map(seq_of) != Some(trace.last_seq) {
            return Ok(Err(StoreError::Conflict(format!(
                "trace {:?} changed since the purge was planned",
                trace.trace_id
            ))));
        }
        let held = tx
            .query_opt(HOLDS_ON_TRACE, &[&trace.trace_id, &now_micros])
            .await
            .map_err(map_err)?;
        if let Some(row) = held {
            let hold: String = row.get(0);
            return Ok(Err(StoreError::Conflict(format!(
                "the legal hold {hold} covers trace {:?}",
                trace.trace_id
            ))));
        }
    }
    let found = plan(tx, traces).await?;
    if found != *expect {
        return Ok(Err(StoreError::Conflict(format!(
            "what the purge deletes changed since it was planned (now {found:?})"
        ))));
    }
    let (payload, text) = lists(traces);
    // Values first: which keys are emptied is decided by the blobs still there.
    tx.execute(
        &format!("DELETE FROM vault WHERE key_id IN ({})", emptied_keys()),
        &[&payload],
    )
    .await
    .map_err(map_err)?;
    tx.execute(
        &format!(
            "DELETE FROM vault WHERE (key_id, token) IN ({})",
            unused_default_values()
        ),
        &[&payload],
    )
    .await
    .map_err(map_err)?;
    tx.execute(
        &format!("DELETE FROM vault_uses WHERE seq = ANY({TRACE_SEQS})"),
        &[&payload],
    )
    .await
    .map_err(map_err)?;
    tx.execute(
        &format!(
            "INSERT INTO purged_blobs(ref, seq, run_id, purged_at)
             SELECT ref, seq, $2, $3 FROM blobs WHERE seq = ANY({TRACE_SEQS})
             ON CONFLICT DO NOTHING"
        ),
        &[&payload, &run_id, &now_micros],
    )
    .await
    .map_err(map_err)?;
    tx.execute(
        &format!("DELETE FROM blobs WHERE seq = ANY({TRACE_SEQS})"),
        &[&payload],
    )
    .await
    .map_err(map_err)?;
    tx.execute(
        &format!("DELETE FROM event_texts WHERE seq = ANY({TRACE_SEQS})"),
        &[&text],
    )
    .await
    .map_err(map_err)?;
    Ok(Ok(()))
}

fn purged_of(row: &Row) -> StoreResult<PurgedBlob> {
    Ok(PurgedBlob {
        reference: BlobRef(hash_of(row.get(0))?.0),
        seq: seq_of(row.get(1)),
        run_id: row.get(2),
        purged_micros: row.get(3),
    })
}

#[async_trait]
impl RetentionStore for PgStore {
    async fn size_signed_by(&self, micros: i64) -> StoreResult<u64> {
        let rows = self
            .query(
                "SELECT coalesce(max(size), 0) FROM checkpoints WHERE created_at <= $1",
                &[&micros],
            )
            .await?;
        Ok(rows.first().map_or(0, |r| seq_of(r.get(0))))
    }

    async fn retention_candidates(
        &self,
        below: ExpiryBounds,
        now_micros: i64,
        after_trace: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RetentionTrace>> {
        let client = self.client().await?;
        let payload_below = pg_seq(below.payload);
        let text_below = pg_seq(below.text);
        let below = pg_seq(below.max());
        let after = after_trace.unwrap_or_default();
        let traces: Vec<String> = client
            .query(
                // From what is left to purge to each entry by its key: joined
                // plainly, the planner scanned every entry (`LIMIT 1` keeps the
                // lateral lookup from being flattened into a hash join).
                "SELECT DISTINCT e.trace_id FROM
                   (SELECT seq FROM blobs WHERE seq < $1
                    UNION SELECT seq FROM vault_uses WHERE seq < $1
                    UNION SELECT seq FROM event_texts WHERE seq < $3) c
                   CROSS JOIN LATERAL
                     (SELECT trace_id FROM entries WHERE entries.seq = c.seq LIMIT 1) e
                 WHERE e.trace_id > $2
                 ORDER BY e.trace_id",
                &[&payload_below, &after, &text_below],
            )
            .await
            .map_err(map_err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut found = Vec::new();
        for trace_id in traces {
            if found.len() >= limit {
                break;
            }
            let list = vec![trace_id.as_str()];
            let last: Option<i64> = client
                .query_one(
                    "SELECT max(seq) FROM entries WHERE trace_id = $1",
                    &[&trace_id],
                )
                .await
                .map_err(map_err)?
                .get(0);
            let Some(last) = last.filter(|last| *last < below) else {
                continue;
            };
            let kinds = client
                .query(
                    "SELECT DISTINCT event_type, agent, case_id FROM entries WHERE trace_id = $1",
                    &[&trace_id],
                )
                .await
                .map_err(map_err)?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            let held_by = client
                .query(HOLDS_ON_TRACE, &[&trace_id, &now_micros])
                .await
                .map_err(map_err)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let blobs = count(
                &**client,
                &format!("SELECT count(*) FROM blobs WHERE seq = ANY({TRACE_SEQS})"),
                &list,
            )
            .await?;
            let texts = count(
                &**client,
                &format!("SELECT count(*) FROM event_texts WHERE seq = ANY({TRACE_SEQS})"),
                &list,
            )
            .await?;
            let default_values = count(
                &**client,
                &format!("SELECT count(*) FROM vault_uses WHERE seq = ANY({TRACE_SEQS})"),
                &list,
            )
            .await?;
            found.push(RetentionTrace {
                trace_id: trace_id.clone(),
                last_seq: seq_of(last),
                kinds,
                blobs,
                texts,
                default_values,
                held_by,
            });
        }
        Ok(found)
    }

    async fn newest_in_traces(&self, trace_ids: &[String]) -> StoreResult<HashMap<String, u64>> {
        let rows = self
            .query(
                "SELECT t.id, (SELECT max(seq) FROM entries WHERE trace_id = t.id)
                 FROM unnest($1::text[]) AS t(id)",
                &[&trace_ids],
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let newest: Option<i64> = r.get(1);
                newest.map(|n| (r.get::<_, String>(0), seq_of(n)))
            })
            .collect())
    }

    async fn purge_plan(&self, traces: &[TracePurge]) -> StoreResult<PurgeCounts> {
        let client = self.client().await?;
        plan(&**client, traces).await
    }

    async fn blobs_of_traces(&self, trace_ids: &[String]) -> StoreResult<Vec<StoredBlob>> {
        let list: Vec<&str> = trace_ids.iter().map(String::as_str).collect();
        let rows = self
            .query(
                &format!(
                    "SELECT ref, media_type, size, key_id, sealed, seq FROM blobs
                     WHERE seq = ANY({TRACE_SEQS}) ORDER BY seq, ref"
                ),
                &[&list],
            )
            .await?;
        rows.iter().map(blob_of).collect()
    }

    async fn purged_blobs(&self, refs: &[BlobRef]) -> StoreResult<HashMap<BlobRef, PurgedBlob>> {
        let list: Vec<&[u8]> = refs.iter().map(|r| r.0.as_slice()).collect();
        let rows = self
            .query(
                "SELECT ref, seq, run_id, purged_at FROM purged_blobs WHERE ref = ANY($1)",
                &[&list],
            )
            .await?;
        rows.iter()
            .map(|r| purged_of(r).map(|p| (p.reference, p)))
            .collect()
    }

    async fn purged_blobs_in_range(&self, start: u64, end: u64) -> StoreResult<Vec<PurgedBlob>> {
        let rows = self
            .query(
                "SELECT ref, seq, run_id, purged_at FROM purged_blobs
                 WHERE seq >= $1 AND seq < $2 ORDER BY seq",
                &[&pg_seq(start), &pg_seq(end)],
            )
            .await?;
        rows.iter().map(purged_of).collect()
    }
}
