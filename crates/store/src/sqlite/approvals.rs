//! The embedded store's approvals: their effects (inside the append transaction) and
//! their reads. See `crate::approvals` for the contract.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{map_err, SqliteStore};
use crate::approvals::{
    Approval, ApprovalFilter, ApprovalResolution, ApprovalStore, NewApproval, EXPIRED, OPEN,
};
use crate::{StoreError, StoreResult};

/// [`crate::Effect::OpenApproval`]; an id taken is refused with `Conflict`.
pub(super) fn open(tx: &Transaction<'_>, a: &NewApproval) -> StoreResult<Result<(), StoreError>> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO approvals(approval_id, job_id, job_hash, action, requested_by, trace_id,
                                   subject, event_id, opened_at, expires_at, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'open') ON CONFLICT DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                a.approval_id,
                a.job_id,
                a.job_hash,
                a.action,
                a.requested_by,
                a.trace_id,
                a.subject,
                a.event_id,
                a.opened_micros,
                a.expires_micros
            ])
        })
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

/// [`crate::Effect::ResolveApproval`]: one conditional update (open, the quoted hash,
/// before `expires_at` for an approver, at or after it for an expiry), then the
/// resolution's row. Refused with `NotFound` for an unknown id, `Conflict` otherwise.
pub(super) fn resolve(
    tx: &Transaction<'_>,
    r: &ApprovalResolution,
) -> StoreResult<Result<(), StoreError>> {
    let expiry = r.resolution == EXPIRED;
    let changed = tx
        .prepare_cached(
            "UPDATE approvals SET state = CASE WHEN ?2 = 'escalated' THEN state ELSE ?2 END
             WHERE approval_id = ?1 AND state = 'open' AND job_hash = ?3
               AND CASE WHEN ?4 THEN expires_at <= ?5 ELSE expires_at > ?5 END",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                r.approval_id,
                r.resolution,
                r.expected_job_hash,
                expiry,
                r.at_micros
            ])
        })
        .map_err(map_err)?;
    if changed == 0 {
        let found: Option<(String, String, i64)> = tx
            .prepare_cached(
                "SELECT state, job_hash, expires_at FROM approvals WHERE approval_id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![r.approval_id], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()
            })
            .map_err(map_err)?;
        return Ok(Err(match found {
            None => StoreError::NotFound(format!("approval {} does not exist", r.approval_id)),
            Some((state, hash, expires)) => {
                StoreError::Conflict(crate::approvals::refusal(r, &state, &hash, expires))
            }
        }));
    }
    tx.prepare_cached(
        "INSERT INTO approval_resolutions(approval_id, job_hash, resolution, resolved_by, method,
                                          final_job_hash, event_id, resolved_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            r.approval_id,
            r.expected_job_hash,
            r.resolution,
            r.resolved_by,
            r.method,
            r.final_job_hash,
            r.event_id,
            r.at_micros
        ])
    })
    .map_err(map_err)?;
    Ok(Ok(()))
}

const COLUMNS: &str = "approval_id, job_id, job_hash, action, requested_by, trace_id, subject,
     event_id, opened_at, expires_at, state";

fn request_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(NewApproval, String)> {
    Ok((
        NewApproval {
            approval_id: row.get(0)?,
            job_id: row.get(1)?,
            job_hash: row.get(2)?,
            action: row.get(3)?,
            requested_by: row.get(4)?,
            trace_id: row.get(5)?,
            subject: row.get(6)?,
            event_id: row.get(7)?,
            opened_micros: row.get(8)?,
            expires_micros: row.get(9)?,
        },
        row.get(10)?,
    ))
}

fn with_history(
    conn: &Connection,
    request: NewApproval,
    state: String,
) -> rusqlite::Result<Approval> {
    let history = conn
        .prepare_cached(
            "SELECT approval_id, job_hash, resolution, resolved_by, method, final_job_hash,
                    event_id, resolved_at
             FROM approval_resolutions WHERE approval_id = ?1 ORDER BY id",
        )?
        .query_map(params![request.approval_id], |row| {
            Ok(ApprovalResolution {
                approval_id: row.get(0)?,
                expected_job_hash: row.get(1)?,
                resolution: row.get(2)?,
                resolved_by: row.get(3)?,
                method: row.get(4)?,
                final_job_hash: row.get(5)?,
                event_id: row.get(6)?,
                at_micros: row.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(crate::approvals::assemble(request, state, history))
}

fn read_one(conn: &Connection, id: &str) -> rusqlite::Result<Option<Approval>> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM approvals WHERE approval_id = ?1"
        ))?
        .query_row(params![id], request_row)
        .optional()?;
    found
        .map(|(request, state)| with_history(conn, request, state))
        .transpose()
}

fn read_many(conn: &Connection, f: &ApprovalFilter) -> rusqlite::Result<Vec<Approval>> {
    let (after_at, after_id) = f.after.clone().unwrap_or((i64::MIN, String::new()));
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM approvals
             WHERE (?1 OR state = 'open')
               AND (?2 IS NULL OR requested_by = ?2)
               AND (?3 IS NULL OR job_id = ?3)
               AND (opened_at > ?4 OR (opened_at = ?4 AND approval_id > ?5))
             ORDER BY opened_at, approval_id LIMIT ?6"
        ))?
        .query_map(
            params![
                f.include_resolved,
                f.requested_by,
                f.job_id,
                after_at,
                after_id,
                i64::try_from(f.limit).unwrap_or(i64::MAX)
            ],
            request_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(request, state)| with_history(conn, request, state))
        .collect()
}

#[async_trait]
impl ApprovalStore for SqliteStore {
    async fn approval(&self, approval_id: &str) -> StoreResult<Option<Approval>> {
        let id = approval_id.to_owned();
        self.read(move |conn| read_one(conn, &id)).await
    }

    async fn approvals(&self, filter: &ApprovalFilter) -> StoreResult<Vec<Approval>> {
        let filter = filter.clone();
        self.read(move |conn| read_many(conn, &filter)).await
    }

    async fn approvals_due(&self, now_micros: i64, limit: usize) -> StoreResult<Vec<String>> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT approval_id FROM approvals WHERE state = ?1 AND expires_at <= ?2
                 ORDER BY expires_at, approval_id LIMIT ?3",
            )?
            .query_map(
                params![OPEN, now_micros, i64::try_from(limit).unwrap_or(i64::MAX)],
                |row| row.get(0),
            )?
            .collect()
        })
        .await
    }
}
