//! PostgreSQL's legal holds: placed, lifted and checked inside the append transaction
//! of their server events; read by id, in full, and by the subject they cover. See
//! `crate::holds`.

use async_trait::async_trait;
use tokio_postgres::{GenericClient, Row, Transaction};

use super::{map_err, PgStore};
use crate::holds::{HoldScope, LegalHold, LegalHoldStore};
use crate::{StoreError, StoreResult};

const COLUMNS: &str = "hold_id, kind, value, from_at, to_at, reason, placed_by, placed_at,
                       until_at, event_id, lifted_at, lifted_by";

const COVERING_SUBJECT: &str = "
         WHERE lifted_at IS NULL AND (until_at IS NULL OR until_at > $2) AND (
           (kind = 'subject' AND value = $1)
           OR (kind = 'trace' AND EXISTS (SELECT 1 FROM entries e
                                          WHERE e.subject = $1 AND e.trace_id = h.value))
           OR (kind = 'job' AND EXISTS (SELECT 1 FROM entries e
                                        WHERE e.subject = $1 AND e.job_id = h.value))
           OR (kind = 'case' AND EXISTS (SELECT 1 FROM entries e
                                         WHERE e.subject = $1 AND e.case_id = h.value))
           OR (kind = 'time' AND EXISTS (SELECT 1 FROM entries e WHERE e.subject = $1
                                         AND e.ts BETWEEN h.from_at AND h.to_at)))
         ORDER BY placed_at, hold_id";

fn hold_of(row: &Row) -> StoreResult<LegalHold> {
    let kind: String = row.get(1);
    let scope = HoldScope::from_stored(&kind, row.get(2), row.get(3), row.get(4))
        .ok_or_else(|| StoreError::Corrupt(format!("a legal hold of unknown kind {kind:?}")))?;
    Ok(LegalHold {
        hold_id: row.get(0),
        scope,
        reason: row.get(5),
        placed_by: row.get(6),
        placed_micros: row.get(7),
        until_micros: row.get(8),
        event_id: row.get(9),
        lifted_micros: row.get(10),
        lifted_by: row.get(11),
    })
}

/// Places `hold`; a taken id is refused.
pub(super) async fn place(
    tx: &Transaction<'_>,
    hold: &LegalHold,
) -> StoreResult<Result<(), StoreError>> {
    let (from, to) = hold.scope.range();
    let inserted = tx
        .execute(
            "INSERT INTO legal_holds(hold_id, kind, value, from_at, to_at, reason, placed_by,
                                     placed_at, until_at, event_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            &[
                &hold.hold_id,
                &hold.scope.kind(),
                &hold.scope.value(),
                &from,
                &to,
                &hold.reason,
                &hold.placed_by,
                &hold.placed_micros,
                &hold.until_micros,
                &hold.event_id,
            ],
        )
        .await
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
pub(super) async fn lift(
    tx: &Transaction<'_>,
    hold_id: &str,
    now_micros: i64,
    lifted_by: &str,
) -> StoreResult<Result<(), StoreError>> {
    let row = tx
        .query_opt(
            "SELECT lifted_at FROM legal_holds WHERE hold_id = $1 FOR UPDATE",
            &[&hold_id],
        )
        .await
        .map_err(map_err)?;
    match row.map(|r| r.get::<_, Option<i64>>(0)) {
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
    tx.execute(
        "UPDATE legal_holds SET lifted_at = $2, lifted_by = $3 WHERE hold_id = $1",
        &[&hold_id, &now_micros, &lifted_by],
    )
    .await
    .map_err(map_err)?;
    Ok(Ok(()))
}

async fn covering_subject(
    client: &impl GenericClient,
    subject: &str,
    now_micros: i64,
) -> StoreResult<Vec<LegalHold>> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM legal_holds h {COVERING_SUBJECT}"),
            &[&subject, &now_micros],
        )
        .await
        .map_err(map_err)?;
    rows.iter().map(hold_of).collect()
}

/// Refuses (`Conflict`, naming the hold) if a hold covers `subject`. Holds are placed
/// by appends, which hold the tree head's row lock as this transaction does by now, so
/// a hold committed before this erasure is seen here.
pub(super) async fn refuse_if_held(
    tx: &Transaction<'_>,
    subject: &str,
    now_micros: i64,
) -> StoreResult<Result<(), StoreError>> {
    let holds = covering_subject(tx, subject, now_micros).await?;
    Ok(match holds.first() {
        Some(hold) => Err(StoreError::Conflict(format!(
            "the legal hold {} covers this subject",
            hold.hold_id
        ))),
        None => Ok(()),
    })
}

#[async_trait]
impl LegalHoldStore for PgStore {
    async fn legal_holds(&self) -> StoreResult<Vec<LegalHold>> {
        let rows = self
            .query(
                &format!("SELECT {COLUMNS} FROM legal_holds ORDER BY placed_at, hold_id"),
                &[],
            )
            .await?;
        rows.iter().map(hold_of).collect()
    }

    async fn legal_hold(&self, hold_id: &str) -> StoreResult<Option<LegalHold>> {
        let rows = self
            .query(
                &format!("SELECT {COLUMNS} FROM legal_holds WHERE hold_id = $1"),
                &[&hold_id],
            )
            .await?;
        rows.first().map(hold_of).transpose()
    }

    async fn holds_covering_subject(
        &self,
        subject: &str,
        now_micros: i64,
    ) -> StoreResult<Vec<LegalHold>> {
        let client = self.client().await?;
        covering_subject(&**client, subject, now_micros).await
    }
}
