//! The embedded store's side of retention (see `crate::retention`): the reads the
//! purge plans from, the purge itself inside the append transaction, and the record
//! of purged blobs.
//!
//! Trace ids are matched through their numbers (`id_numbers`, kind 0), which the
//! entries are indexed by; lists of traces go in as JSON arrays (`json_each`).

use std::collections::HashMap;

use async_trait::async_trait;
use evident_core::blob::BlobRef;
use rusqlite::{params, Connection};

use super::{blob_from_row, hash_from_blob, map_err, seq_of, sql_seq, SqliteStore};
use crate::retention::{
    ExpiryBounds, PurgeCounts, PurgedBlob, RetentionStore, RetentionTrace, TracePurge,
};
use crate::{StoreError, StoreResult, StoredBlob};

/// The `seq`s of the entries of the traces in JSON array `?1`.
const TRACE_SEQS: &str = "SELECT seq FROM entries WHERE trace_no IN
     (SELECT no FROM id_numbers WHERE kind = 0 AND value IN (SELECT value FROM json_each(?1)))";

/// The holds in force at `?2` covering any entry of trace `?1` (or the trace itself).
const HOLDS_ON_TRACE: &str = "SELECT hold_id FROM legal_holds h
     WHERE lifted_at IS NULL AND (until_at IS NULL OR until_at > ?2) AND (
       (kind = 'trace' AND value = ?1)
       OR (kind IN ('job', 'case', 'subject', 'time') AND EXISTS (
         SELECT 1 FROM entries e WHERE e.trace_no =
             (SELECT no FROM id_numbers WHERE kind = 0 AND value = ?1)
           AND ((h.kind = 'job' AND e.job_id = h.value)
             OR (h.kind = 'case' AND e.case_id = h.value)
             OR (h.kind = 'subject' AND e.subject = h.value)
             OR (h.kind = 'time' AND e.ts BETWEEN h.from_at AND h.to_at)))))
     ORDER BY placed_at, hold_id";

/// The traces with payload in entries below `?1` or search text below `?3`, after
/// trace id `?2` in order: read from the indexes of what is left to purge (`blobs_by_seq`,
/// `vault_uses`' key, the full-text rowids), never by scanning the log or its list of
/// traces. A trace's number is the `seq` of its first entry, which names it.
const CANDIDATE_TRACES: &str = "SELECT DISTINCT first.trace_id FROM entries first
     WHERE first.trace_id > ?2 AND first.seq IN (
       SELECT trace_no FROM entries WHERE seq IN
         (SELECT seq FROM blobs WHERE seq < ?1
          UNION SELECT seq FROM vault_uses WHERE seq < ?1
          UNION SELECT rowid FROM events_fts WHERE rowid < ?3))
     ORDER BY first.trace_id";

/// The plans (`EXPLAIN QUERY PLAN`) of every statement a purge runs, named, for the
/// check that none scans the log.
pub(super) fn explain(conn: &Connection) -> rusqlite::Result<Vec<(String, Vec<String>)>> {
    let list = r#"["t-1"]"#;
    let in_list = |what: &str, sql: String| (what.to_owned(), sql, vec![list.to_owned()]);
    let statements: Vec<(String, String, Vec<String>)> = vec![
        (
            "candidate traces".into(),
            CANDIDATE_TRACES.into(),
            vec!["1000".into(), String::new(), "2000".into()],
        ),
        in_list(
            "a trace's newest entry",
            format!("SELECT coalesce(max(seq), -1) FROM entries WHERE seq IN ({TRACE_SEQS})"),
        ),
        in_list(
            "a trace's kinds",
            format!("SELECT DISTINCT event_type, agent, case_id FROM entries WHERE seq IN ({TRACE_SEQS})"),
        ),
        (
            "holds on a trace".into(),
            HOLDS_ON_TRACE.into(),
            vec!["t-1".into(), "0".into()],
        ),
        in_list(
            "a trace's blobs",
            format!("SELECT count(*) FROM blobs WHERE seq IN ({TRACE_SEQS})"),
        ),
        in_list(
            "a trace's texts",
            format!("SELECT count(*) FROM events_fts WHERE rowid IN ({TRACE_SEQS})"),
        ),
        in_list(
            "a trace's default-key values",
            format!("SELECT count(*) FROM vault_uses WHERE seq IN ({TRACE_SEQS})"),
        ),
        in_list(
            "emptied subject keys' values",
            format!("DELETE FROM vault WHERE key_id IN ({})", emptied_keys()),
        ),
        in_list(
            "unused default-key values",
            format!(
                "DELETE FROM vault WHERE (key_id, token) IN ({})",
                unused_default_values()
            ),
        ),
        in_list(
            "the purged blobs",
            format!("DELETE FROM blobs WHERE seq IN ({TRACE_SEQS})"),
        ),
        in_list(
            "the purged texts",
            format!("DELETE FROM events_fts WHERE rowid IN ({TRACE_SEQS})"),
        ),
    ];
    statements
        .into_iter()
        .map(|(what, sql, params)| {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let plan = stmt
                .query_map(rusqlite::params_from_iter(params), |r| {
                    r.get::<_, String>(3)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((what, plan))
        })
        .collect()
}

fn json_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    serde_json::to_string(&items.collect::<Vec<_>>()).unwrap_or_else(|_| "[]".into())
}

fn count(conn: &Connection, sql: &str, list: &str) -> rusqlite::Result<u64> {
    conn.query_row(sql, [list], |r| r.get::<_, i64>(0))
        .map(|n| u64::try_from(n).unwrap_or_default())
}

/// The vault values a purge of the payload traces in `?1` deletes: those under the
/// data keys of the traces' subjects that have no blob left outside these traces.
const EMPTIED_KEYS: &str = "SELECT k.key_id FROM data_keys k WHERE k.subject IN
       (SELECT DISTINCT subject FROM entries WHERE subject IS NOT NULL AND seq IN (TRACE_SEQS))
     AND NOT EXISTS (SELECT 1 FROM entries e JOIN blobs b ON b.seq = e.seq
                     WHERE e.subject = k.subject AND e.seq NOT IN (TRACE_SEQS))";

fn emptied_keys() -> String {
    EMPTIED_KEYS.replace("TRACE_SEQS", TRACE_SEQS)
}

/// The vault values under the log's default key (found in events without a subject)
/// a purge of the payload traces in `?1` deletes: those these traces use and no other
/// entry does (`vault_uses`), as `(key_id, token)`.
const UNUSED_DEFAULT_VALUES: &str = "SELECT u.key_id, u.token FROM vault_uses u
     WHERE u.seq IN (TRACE_SEQS)
       AND NOT EXISTS (SELECT 1 FROM vault_uses o WHERE o.key_id = u.key_id
                       AND o.token = u.token AND o.seq NOT IN (TRACE_SEQS))";

fn unused_default_values() -> String {
    UNUSED_DEFAULT_VALUES.replace("TRACE_SEQS", TRACE_SEQS)
}

/// What purging `traces` would delete, as `conn` sees it.
pub(super) fn plan(conn: &Connection, traces: &[TracePurge]) -> rusqlite::Result<PurgeCounts> {
    let payload = json_list(
        traces
            .iter()
            .filter(|t| t.payload)
            .map(|t| t.trace_id.as_str()),
    );
    let text = json_list(
        traces
            .iter()
            .filter(|t| t.text)
            .map(|t| t.trace_id.as_str()),
    );
    Ok(PurgeCounts {
        blobs: count(
            conn,
            &format!("SELECT count(*) FROM blobs WHERE seq IN ({TRACE_SEQS})"),
            &payload,
        )?,
        values: count(
            conn,
            &format!(
                "SELECT count(*) FROM vault WHERE key_id IN ({})",
                emptied_keys()
            ),
            &payload,
        )? + count(
            conn,
            &format!(
                "SELECT count(*) FROM vault WHERE (key_id, token) IN ({})",
                unused_default_values()
            ),
            &payload,
        )?,
        texts: count(
            conn,
            &format!("SELECT count(*) FROM events_fts WHERE rowid IN ({TRACE_SEQS})"),
            &text,
        )?,
    })
}

/// Applies a purge in `tx` (see [`crate::Effect::PurgeRetention`]).
pub(super) fn purge(
    tx: &Connection,
    run_id: &str,
    now_micros: i64,
    traces: &[TracePurge],
    expect: &PurgeCounts,
) -> StoreResult<Result<(), StoreError>> {
    for trace in traces {
        let newest: Option<i64> = tx
            .query_row(
                "SELECT max(seq) FROM entries WHERE trace_no =
                     (SELECT no FROM id_numbers WHERE kind = 0 AND value = ?1)",
                [&trace.trace_id],
                |r| r.get(0),
            )
            .map_err(map_err)?;
        if newest.map(seq_of) != Some(trace.last_seq) {
            return Ok(Err(StoreError::Conflict(format!(
                "trace {:?} changed since the purge was planned",
                trace.trace_id
            ))));
        }
        let held: Option<String> = tx
            .query_row(HOLDS_ON_TRACE, params![trace.trace_id, now_micros], |r| {
                r.get(0)
            })
            .optional_row()
            .map_err(map_err)?;
        if let Some(hold) = held {
            return Ok(Err(StoreError::Conflict(format!(
                "the legal hold {hold} covers trace {:?}",
                trace.trace_id
            ))));
        }
    }
    let found = plan(tx, traces).map_err(map_err)?;
    if found != *expect {
        return Ok(Err(StoreError::Conflict(format!(
            "what the purge deletes changed since it was planned (now {found:?})"
        ))));
    }
    let payload = json_list(
        traces
            .iter()
            .filter(|t| t.payload)
            .map(|t| t.trace_id.as_str()),
    );
    let text = json_list(
        traces
            .iter()
            .filter(|t| t.text)
            .map(|t| t.trace_id.as_str()),
    );
    // Values first: which keys are emptied is decided by the blobs still there.
    tx.execute(
        &format!("DELETE FROM vault WHERE key_id IN ({})", emptied_keys()),
        [&payload],
    )
    .map_err(map_err)?;
    tx.execute(
        &format!(
            "DELETE FROM vault WHERE (key_id, token) IN ({})",
            unused_default_values()
        ),
        [&payload],
    )
    .map_err(map_err)?;
    tx.execute(
        &format!("DELETE FROM vault_uses WHERE seq IN ({TRACE_SEQS})"),
        [&payload],
    )
    .map_err(map_err)?;
    tx.execute(
        &format!(
            "INSERT OR IGNORE INTO purged_blobs(ref, seq, run_id, purged_at)
             SELECT ref, seq, ?2, ?3 FROM blobs WHERE seq IN ({TRACE_SEQS})"
        ),
        params![payload, run_id, now_micros],
    )
    .map_err(map_err)?;
    tx.execute(
        &format!("DELETE FROM blobs WHERE seq IN ({TRACE_SEQS})"),
        [&payload],
    )
    .map_err(map_err)?;
    tx.execute(
        &format!("DELETE FROM events_fts WHERE rowid IN ({TRACE_SEQS})"),
        [&text],
    )
    .map_err(map_err)?;
    Ok(Ok(()))
}

/// `query_row` that may find nothing.
trait OptionalRow<T> {
    fn optional_row(self) -> rusqlite::Result<Option<T>>;
}

impl<T> OptionalRow<T> for rusqlite::Result<T> {
    fn optional_row(self) -> rusqlite::Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn purged_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PurgedBlob> {
    Ok(PurgedBlob {
        reference: BlobRef(hash_from_blob(&r.get::<_, Vec<u8>>(0)?)?.0),
        seq: seq_of(r.get(1)?),
        run_id: r.get(2)?,
        purged_micros: r.get(3)?,
    })
}

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn size_signed_by(&self, micros: i64) -> StoreResult<u64> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT coalesce(max(size), 0) FROM checkpoints WHERE created_at <= ?1",
                [micros],
                |r| r.get::<_, i64>(0),
            )
            .map(seq_of)
        })
        .await
    }

    async fn retention_candidates(
        &self,
        below: ExpiryBounds,
        now_micros: i64,
        after_trace: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RetentionTrace>> {
        let after = after_trace.unwrap_or_default().to_owned();
        self.read(move |conn| {
            let payload_below = sql_seq(below.payload);
            let text_below = sql_seq(below.text);
            let below = sql_seq(below.max());
            let mut stmt = conn.prepare_cached(CANDIDATE_TRACES)?;
            let traces: Vec<String> = stmt
                .query_map(params![payload_below, after, text_below], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut found = Vec::new();
            for trace_id in traces {
                if found.len() >= limit {
                    break;
                }
                let list = json_list(std::iter::once(trace_id.as_str()));
                let last: i64 = conn.query_row(
                    &format!("SELECT coalesce(max(seq), -1) FROM entries WHERE seq IN ({TRACE_SEQS})"),
                    [&list],
                    |r| r.get(0),
                )?;
                if last < 0 || last >= below {
                    continue;
                }
                let mut kinds_stmt = conn.prepare_cached(&format!(
                    "SELECT DISTINCT event_type, agent, case_id FROM entries WHERE seq IN ({TRACE_SEQS})"
                ))?;
                let kinds = kinds_stmt
                    .query_map([&list], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                let mut holds_stmt = conn.prepare_cached(HOLDS_ON_TRACE)?;
                let held_by = holds_stmt
                    .query_map(params![trace_id, now_micros], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                found.push(RetentionTrace {
                    last_seq: seq_of(last),
                    kinds,
                    blobs: count(
                        conn,
                        &format!("SELECT count(*) FROM blobs WHERE seq IN ({TRACE_SEQS})"),
                        &list,
                    )?,
                    texts: count(
                        conn,
                        &format!("SELECT count(*) FROM events_fts WHERE rowid IN ({TRACE_SEQS})"),
                        &list,
                    )?,
                    default_values: count(
                        conn,
                        &format!("SELECT count(*) FROM vault_uses WHERE seq IN ({TRACE_SEQS})"),
                        &list,
                    )?,
                    held_by,
                    trace_id,
                });
            }
            Ok(found)
        })
        .await
    }

    async fn newest_in_traces(&self, trace_ids: &[String]) -> StoreResult<HashMap<String, u64>> {
        let trace_ids = trace_ids.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT max(seq) FROM entries WHERE trace_no =
                     (SELECT no FROM id_numbers WHERE kind = 0 AND value = ?1)",
            )?;
            let mut found = HashMap::new();
            for trace_id in trace_ids {
                let newest: Option<i64> = stmt.query_row([&trace_id], |r| r.get(0))?;
                if let Some(newest) = newest {
                    found.insert(trace_id, seq_of(newest));
                }
            }
            Ok(found)
        })
        .await
    }

    async fn purge_plan(&self, traces: &[TracePurge]) -> StoreResult<PurgeCounts> {
        let traces = traces.to_vec();
        self.read(move |conn| plan(conn, &traces)).await
    }

    async fn blobs_of_traces(&self, trace_ids: &[String]) -> StoreResult<Vec<StoredBlob>> {
        let list = json_list(trace_ids.iter().map(String::as_str));
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT ref, media_type, size, key_id, sealed, seq FROM blobs
                 WHERE seq IN ({TRACE_SEQS}) ORDER BY seq, ref"
            ))?;
            let rows = stmt.query_map([&list], blob_from_row)?;
            rows.collect()
        })
        .await
    }

    async fn purged_blobs(&self, refs: &[BlobRef]) -> StoreResult<HashMap<BlobRef, PurgedBlob>> {
        let refs = refs.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT ref, seq, run_id, purged_at FROM purged_blobs WHERE ref = ?1",
            )?;
            let mut found = HashMap::new();
            for reference in refs {
                if let Some(purged) = stmt
                    .query_row([&reference.0[..]], purged_from_row)
                    .optional_row()?
                {
                    found.insert(reference, purged);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn purged_blobs_in_range(&self, start: u64, end: u64) -> StoreResult<Vec<PurgedBlob>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT ref, seq, run_id, purged_at FROM purged_blobs
                 WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![sql_seq(start), sql_seq(end)], purged_from_row)?;
            rows.collect()
        })
        .await
    }
}
