//! PostgreSQL approvals: their effects (inside the append transaction) and their
//! reads. See `crate::approvals` for the contract.
//!
//! Two servers resolving one request at once: the resolution is one `UPDATE ... WHERE
//! state = 'open' ...`; the second transaction to reach the row waits for the first's
//! row lock, re-reads the row once it commits (READ COMMITTED re-checks the `WHERE` on
//! the new version), finds it no longer open and changes nothing, so its request is
//! refused. (The append transaction also holds the tree head's row lock, which orders
//! whole appends; the conditional update does not rely on it.)

use async_trait::async_trait;
use tokio_postgres::{Row, Transaction};

use super::{map_err, PgStore};
use crate::approvals::{
    Approval, ApprovalFilter, ApprovalResolution, ApprovalStore, NewApproval, EXPIRED, OPEN,
};
use crate::{StoreError, StoreResult};

/// [`crate::Effect::OpenApproval`]; an id taken is refused with `Conflict`.
pub(super) async fn open(
    tx: &Transaction<'_>,
    a: &NewApproval,
) -> StoreResult<Result<(), StoreError>> {
    let inserted = tx
        .execute(
            "INSERT INTO approvals(approval_id, job_id, job_hash, action, requested_by, trace_id,
                                   subject, event_id, opened_at, expires_at, state)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open') ON CONFLICT DO NOTHING",
            &[
                &a.approval_id,
                &a.job_id,
                &a.job_hash,
                &a.action,
                &a.requested_by,
                &a.trace_id,
                &a.subject,
                &a.event_id,
                &a.opened_micros,
                &a.expires_micros,
            ],
        )
        .await
        .map_err(map_err)?;
    Ok(if inserted == 0 {
        Err(StoreError::Conflict(format!(
            "approval {} exists",
            a.approval_id
        )))
    } else {
        Ok(())
    })
}

/// [`crate::Effect::ResolveApproval`] (module docs).
pub(super) async fn resolve(
    tx: &Transaction<'_>,
    r: &ApprovalResolution,
) -> StoreResult<Result<(), StoreError>> {
    let expiry = r.resolution == EXPIRED;
    let changed = tx
        .query(
            "UPDATE approvals SET state = CASE WHEN $2 = 'escalated' THEN state ELSE $2 END
             WHERE approval_id = $1 AND state = 'open' AND job_hash = $3
               AND CASE WHEN $4 THEN expires_at <= $5 ELSE expires_at > $5 END
             RETURNING approval_id",
            &[
                &r.approval_id,
                &r.resolution,
                &r.expected_job_hash,
                &expiry,
                &r.at_micros,
            ],
        )
        .await
        .map_err(map_err)?;
    if changed.is_empty() {
        let found = tx
            .query_opt(
                "SELECT state, job_hash, expires_at FROM approvals WHERE approval_id = $1",
                &[&r.approval_id],
            )
            .await
            .map_err(map_err)?;
        return Ok(Err(match found {
            None => StoreError::NotFound(format!("approval {} does not exist", r.approval_id)),
            Some(row) => StoreError::Conflict(crate::approvals::refusal(
                r,
                row.get(0),
                row.get(1),
                row.get(2),
            )),
        }));
    }
    tx.execute(
        "INSERT INTO approval_resolutions(approval_id, job_hash, resolution, resolved_by, method,
                                          final_job_hash, event_id, resolved_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &r.approval_id,
            &r.expected_job_hash,
            &r.resolution,
            &r.resolved_by,
            &r.method,
            &r.final_job_hash,
            &r.event_id,
            &r.at_micros,
        ],
    )
    .await
    .map_err(map_err)?;
    Ok(Ok(()))
}

const COLUMNS: &str = "approval_id, job_id, job_hash, action, requested_by, trace_id, subject,
     event_id, opened_at, expires_at, state";

fn request_row(row: &Row) -> (NewApproval, String) {
    (
        NewApproval {
            approval_id: row.get(0),
            job_id: row.get(1),
            job_hash: row.get(2),
            action: row.get(3),
            requested_by: row.get(4),
            trace_id: row.get(5),
            subject: row.get(6),
            event_id: row.get(7),
            opened_micros: row.get(8),
            expires_micros: row.get(9),
        },
        row.get(10),
    )
}

impl PgStore {
    /// The requests of `rows` with their histories (one query for all of them).
    async fn with_histories(&self, rows: Vec<Row>) -> StoreResult<Vec<Approval>> {
        let requests: Vec<(NewApproval, String)> = rows.iter().map(request_row).collect();
        let ids: Vec<&str> = requests
            .iter()
            .map(|(r, _)| r.approval_id.as_str())
            .collect();
        let history = self
            .query(
                "SELECT approval_id, job_hash, resolution, resolved_by, method, final_job_hash,
                        event_id, resolved_at
                 FROM approval_resolutions WHERE approval_id = ANY($1) ORDER BY id",
                &[&ids],
            )
            .await?;
        let mut by_id: std::collections::HashMap<String, Vec<ApprovalResolution>> =
            std::collections::HashMap::new();
        for row in history {
            let r = ApprovalResolution {
                approval_id: row.get(0),
                expected_job_hash: row.get(1),
                resolution: row.get(2),
                resolved_by: row.get(3),
                method: row.get(4),
                final_job_hash: row.get(5),
                event_id: row.get(6),
                at_micros: row.get(7),
            };
            by_id.entry(r.approval_id.clone()).or_default().push(r);
        }
        Ok(requests
            .into_iter()
            .map(|(request, state)| {
                let history = by_id.remove(&request.approval_id).unwrap_or_default();
                crate::approvals::assemble(request, state, history)
            })
            .collect())
    }
}

#[async_trait]
impl ApprovalStore for PgStore {
    async fn approval(&self, approval_id: &str) -> StoreResult<Option<Approval>> {
        let rows = self
            .query(
                &format!("SELECT {COLUMNS} FROM approvals WHERE approval_id = $1"),
                &[&approval_id],
            )
            .await?;
        Ok(self.with_histories(rows).await?.pop())
    }

    async fn approvals(&self, f: &ApprovalFilter) -> StoreResult<Vec<Approval>> {
        let (after_at, after_id) = f.after.clone().unwrap_or((i64::MIN, String::new()));
        let limit = i64::try_from(f.limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM approvals
                     WHERE ($1 OR state = 'open')
                       AND ($2::TEXT IS NULL OR requested_by = $2)
                       AND ($3::TEXT IS NULL OR job_id = $3)
                       AND (opened_at, approval_id) > ($4, $5)
                     ORDER BY opened_at, approval_id LIMIT $6"
                ),
                &[
                    &f.include_resolved,
                    &f.requested_by,
                    &f.job_id,
                    &after_at,
                    &after_id,
                    &limit,
                ],
            )
            .await?;
        self.with_histories(rows).await
    }

    async fn approvals_due(&self, now_micros: i64, limit: usize) -> StoreResult<Vec<String>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT approval_id FROM approvals WHERE state = $1 AND expires_at <= $2
                 ORDER BY expires_at, approval_id LIMIT $3",
                &[&OPEN, &now_micros, &limit],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }
}
