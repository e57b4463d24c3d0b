//! The embedded store's legal holds: placed, lifted and checked inside the append
//! transaction of their server events; read by id, in full, and by the subject they
//! cover. See `crate::holds`.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{map_err, SqliteStore};
use crate::holds::{HoldScope, LegalHold, LegalHoldStore};
use crate::{StoreError, StoreResult};

const COLUMNS: &str = "hold_id, kind, value, from_at, to_at, reason, placed_by, placed_at,
                       until_at, event_id, lifted_at, lifted_by";

fn hold_of(row: &Row<'_>) -> rusqlite::Result<LegalHold> {
    let kind: String = row.get(1)?;
    let scope =
        HoldScope::from_stored(&kind, row.get(2)?, row.get(3)?, row.get(4)?).ok_or_else(|| {
            rusqlite::Error::InvalidColumnType(
                1,
                format!("hold kind {kind:?}"),
                rusqlite::types::Type::Text,
            )
        })?;
    Ok(LegalHold {
        hold_id: row.get(0)?,
        scope,
        reason: row.get(5)?,
        placed_by: row.get(6)?,
        placed_micros: row.get(7)?,
        until_micros: row.get(8)?,
        event_id: row.get(9)?,
        lifted_micros: row.get(10)?,
        lifted_by: row.get(11)?,
    })
}

/// Places `hold`; a taken id is refused.
pub(super) fn place(conn: &Connection, hold: &LegalHold) -> StoreResult<Result<(), StoreError>> {
    let (from, to) = hold.scope.range();
    let inserted = conn
        .execute(
            "INSERT INTO legal_holds(hold_id, kind, value, from_at, to_at, reason, placed_by,
                                     placed_at, until_at, event_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
            params![
                hold.hold_id,
                hold.scope.kind(),
                hold.scope.value(),
                from,
                to,
                hold.reason,
                hold.placed_by,
                hold.placed_micros,
                hold.until_micros,
                hold.event_id
            ],
        )
        .map_err(map_err)?;
    Ok(if inserted == 0 {
        Err(StoreError::Conflict(format!(
            "a legal hold {} exists",
            hold.hold_id
        )))
    } else {
        Ok(())
    })
}

/// Lifts a hold; unknown is `NotFound`, lifted already is `Conflict`.
pub(super) fn lift(
    conn: &Connection,
    hold_id: &str,
    now_micros: i64,
    lifted_by: &str,
) -> StoreResult<Result<(), StoreError>> {
    let lifted: Option<Option<i64>> = conn
        .query_row(
            "SELECT lifted_at FROM legal_holds WHERE hold_id = ?1",
            [hold_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(map_err)?;
    match lifted {
        None => {
            return Ok(Err(StoreError::NotFound(format!(
                "no legal hold {hold_id}"
            ))))
        }
        Some(Some(_)) => {
            return Ok(Err(StoreError::Conflict(format!(
                "the legal hold {hold_id} was lifted already"
            ))))
        }
        Some(None) => {}
    }
    conn.execute(
        "UPDATE legal_holds SET lifted_at = ?2, lifted_by = ?3 WHERE hold_id = ?1",
        params![hold_id, now_micros, lifted_by],
    )
    .map_err(map_err)?;
    Ok(Ok(()))
}

/// The holds in force at `now` that cover an event about `subject` (see
/// [`LegalHoldStore::holds_covering_subject`]).
pub(super) fn covering_subject(
    conn: &Connection,
    subject: &str,
    now_micros: i64,
) -> rusqlite::Result<Vec<LegalHold>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM legal_holds h
         WHERE lifted_at IS NULL AND (until_at IS NULL OR until_at > ?2) AND (
           (kind = 'subject' AND value = ?1)
           OR (kind = 'trace' AND EXISTS (SELECT 1 FROM entries e
                                          WHERE e.subject = ?1 AND e.trace_id = h.value))
           OR (kind = 'job' AND EXISTS (SELECT 1 FROM entries e
                                        WHERE e.subject = ?1 AND e.job_id = h.value))
           OR (kind = 'case' AND EXISTS (SELECT 1 FROM entries e
                                         WHERE e.subject = ?1 AND e.case_id = h.value))
           OR (kind = 'time' AND EXISTS (SELECT 1 FROM entries e WHERE e.subject = ?1
                                         AND e.ts BETWEEN h.from_at AND h.to_at)))
         ORDER BY placed_at, hold_id"
    ))?;
    let rows = stmt.query_map(params![subject, now_micros], hold_of)?;
    rows.collect()
}

/// Refuses (`Conflict`, naming the hold) if a hold covers `subject`.
pub(super) fn refuse_if_held(
    conn: &Connection,
    subject: &str,
    now_micros: i64,
) -> StoreResult<Result<(), StoreError>> {
    let holds = covering_subject(conn, subject, now_micros).map_err(map_err)?;
    Ok(match holds.first() {
        Some(hold) => Err(StoreError::Conflict(format!(
            "the legal hold {} covers this subject",
            hold.hold_id
        ))),
        None => Ok(()),
    })
}

#[async_trait]
impl LegalHoldStore for SqliteStore {
    async fn legal_holds(&self) -> StoreResult<Vec<LegalHold>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM legal_holds ORDER BY placed_at, hold_id"
            ))?;
            let rows = stmt.query_map([], hold_of)?;
            rows.collect()
        })
        .await
    }

    async fn legal_hold(&self, hold_id: &str) -> StoreResult<Option<LegalHold>> {
        let hold_id = hold_id.to_owned();
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM legal_holds WHERE hold_id = ?1"),
                [&hold_id],
                hold_of,
            )
            .optional()
        })
        .await
    }

    async fn holds_covering_subject(
        &self,
        subject: &str,
        now_micros: i64,
    ) -> StoreResult<Vec<LegalHold>> {
        let subject = subject.to_owned();
        self.read(move |conn| covering_subject(conn, &subject, now_micros))
            .await
    }
}
