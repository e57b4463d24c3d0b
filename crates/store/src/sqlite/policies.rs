//! The embedded store's policy sets: their effects (inside the append transaction,
//! which the single writer runs one at a time) and their reads. See
//! `crate::policies` for the contract.

use async_trait::async_trait;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Transaction};

use super::{map_err, seq_of, SqliteStore};
use crate::policies::{
    DecisionFilter, PolicyActivation, PolicyDecisionRow, PolicyRollback, PolicyStore, PolicyVersion,
};
use crate::{StoreError, StoreResult};

fn generation(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE(max(id), 0) FROM policy_activations")?
        .query_row([], |r| r.get(0))
}

fn active_version(conn: &Connection, set_id: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT version FROM policy_activations WHERE set_id = ?1 ORDER BY id DESC LIMIT 1",
    )?
    .query_row(params![set_id], |r| r.get(0))
    .optional()
}

fn activate(
    tx: &Transaction<'_>,
    set_id: &str,
    version: i64,
    kind: &str,
    event_id: &str,
    at: i64,
) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO policy_activations(set_id, version, kind, event_id, at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut stmt| stmt.execute(params![set_id, version, kind, event_id, at]))
    .map_err(map_err)?;
    Ok(())
}

/// [`crate::Effect::PublishPolicy`].
pub(super) fn publish(
    tx: &Transaction<'_>,
    v: &PolicyVersion,
) -> StoreResult<Result<(), StoreError>> {
    let last: i64 = tx
        .prepare_cached("SELECT COALESCE(max(version), 0) FROM policy_versions WHERE set_id = ?1")
        .and_then(|mut stmt| stmt.query_row(params![v.set_id], |r| r.get(0)))
        .map_err(map_err)?;
    if v.version != last + 1 {
        return Ok(Err(StoreError::Conflict(format!(
            "policy set {:?} is at version {last}, not {}",
            v.set_id,
            v.version - 1
        ))));
    }
    tx.prepare_cached(
        "INSERT INTO policy_versions(set_id, version, text, schema, tests, text_sha256,
                                     event_id, published_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            v.set_id,
            v.version,
            v.text,
            v.schema,
            v.tests,
            v.text_sha256,
            v.event_id,
            v.published_micros
        ])
    })
    .map_err(map_err)?;
    activate(
        tx,
        &v.set_id,
        v.version,
        "publish",
        &v.event_id,
        v.published_micros,
    )?;
    Ok(Ok(()))
}

/// [`crate::Effect::RollbackPolicy`].
pub(super) fn rollback(
    tx: &Transaction<'_>,
    r: &PolicyRollback,
) -> StoreResult<Result<(), StoreError>> {
    let active = active_version(tx, &r.set_id).map_err(map_err)?;
    if active != Some(r.from_version) {
        return Ok(Err(StoreError::Conflict(format!(
            "policy set {:?} is active at version {active:?}, not {}",
            r.set_id, r.from_version
        ))));
    }
    let exists: bool = tx
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM policy_versions WHERE set_id = ?1 AND version = ?2)",
        )
        .and_then(|mut stmt| stmt.query_row(params![r.set_id, r.to_version], |row| row.get(0)))
        .map_err(map_err)?;
    if !exists {
        return Ok(Err(StoreError::NotFound(format!(
            "policy set {:?} has no version {}",
            r.set_id, r.to_version
        ))));
    }
    activate(
        tx,
        &r.set_id,
        r.to_version,
        "rollback",
        &r.event_id,
        r.at_micros,
    )?;
    Ok(Ok(()))
}

/// [`crate::Effect::RequirePolicyGeneration`].
pub(super) fn require_generation(
    tx: &Transaction<'_>,
    expected: i64,
) -> StoreResult<Result<(), StoreError>> {
    let now = generation(tx).map_err(map_err)?;
    Ok(if now == expected {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "policy generation is {now}, not {expected}: a publish or rollback committed since"
        )))
    })
}

/// [`crate::Effect::IndexPolicyDecision`].
pub(super) fn index_decision(
    tx: &Transaction<'_>,
    d: &PolicyDecisionRow,
) -> StoreResult<Result<(), StoreError>> {
    tx.prepare_cached(
        "INSERT INTO policy_decisions(event_id, decided_at, decision, rule_id, agent)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            d.event_id,
            d.decided_micros,
            d.decision,
            d.rule_id,
            d.agent
        ])
    })
    .map_err(map_err)?;
    Ok(Ok(()))
}

pub(super) const VERSION_COLUMNS: &str =
    "v.set_id, v.version, v.text, v.schema, v.tests, v.text_sha256, v.event_id, v.published_at";

pub(super) fn version_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PolicyVersion> {
    Ok(PolicyVersion {
        set_id: row.get(0)?,
        version: row.get(1)?,
        text: row.get(2)?,
        schema: row.get(3)?,
        tests: row.get(4)?,
        text_sha256: row.get(5)?,
        event_id: row.get(6)?,
        published_micros: row.get(7)?,
    })
}

fn read_active(conn: &Connection) -> rusqlite::Result<(i64, Vec<PolicyVersion>)> {
    // Inside one read transaction so the generation and the rows agree.
    conn.execute_batch("BEGIN")?;
    let result = (|| {
        let generation = generation(conn)?;
        let versions = conn
            .prepare_cached(&format!(
                "SELECT {VERSION_COLUMNS} FROM policy_versions v
                 JOIN policy_activations a ON a.set_id = v.set_id AND a.version = v.version
                 WHERE a.id = (SELECT max(id) FROM policy_activations b WHERE b.set_id = a.set_id)
                 ORDER BY v.set_id"
            ))?
            .query_map([], version_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((generation, versions))
    })();
    conn.execute_batch("COMMIT")?;
    result
}

#[async_trait]
impl PolicyStore for SqliteStore {
    async fn policy_generation(&self) -> StoreResult<i64> {
        self.read(generation).await
    }

    async fn active_policies(&self) -> StoreResult<(i64, Vec<PolicyVersion>)> {
        self.read(read_active).await
    }

    async fn policy_version(
        &self,
        set_id: &str,
        version: i64,
    ) -> StoreResult<Option<PolicyVersion>> {
        let set_id = set_id.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {VERSION_COLUMNS} FROM policy_versions v WHERE set_id = ?1 AND version = ?2"
            ))?
            .query_row(params![set_id, version], version_row)
            .optional()
        })
        .await
    }

    async fn policy_activations(&self) -> StoreResult<Vec<PolicyActivation>> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT id, set_id, version, kind, event_id, at FROM policy_activations ORDER BY id",
            )?
            .query_map([], |row| {
                Ok(PolicyActivation {
                    generation: row.get(0)?,
                    set_id: row.get(1)?,
                    version: row.get(2)?,
                    kind: row.get(3)?,
                    event_id: row.get(4)?,
                    at_micros: row.get(5)?,
                })
            })?
            .collect()
        })
        .await
    }

    async fn policy_decisions(
        &self,
        filter: &DecisionFilter,
    ) -> StoreResult<Vec<(PolicyDecisionRow, Option<u64>)>> {
        let filter = filter.clone();
        self.read(move |conn| {
            let mut sql = String::from(
                "SELECT d.event_id, d.decided_at, d.decision, d.rule_id, d.agent, e.seq
                 FROM policy_decisions d LEFT JOIN entries e ON e.event_id = d.event_id
                 WHERE d.decided_at >= ? AND d.decided_at <= ?",
            );
            let mut values: Vec<rusqlite::types::Value> = vec![
                filter.from_micros.unwrap_or(i64::MIN).into(),
                filter.to_micros.unwrap_or(i64::MAX).into(),
            ];
            for (column, value) in [
                ("d.rule_id", &filter.rule_id),
                ("d.decision", &filter.decision),
                ("d.agent", &filter.agent),
            ] {
                if let Some(value) = value {
                    sql.push_str(&format!(" AND {column} = ?"));
                    values.push(value.clone().into());
                }
            }
            sql.push_str(" ORDER BY d.decided_at, d.id LIMIT ?");
            values.push(i64::try_from(filter.limit).unwrap_or(i64::MAX).into());
            conn.prepare_cached(&sql)?
                .query_map(params_from_iter(values), |row| {
                    Ok((
                        PolicyDecisionRow {
                            event_id: row.get(0)?,
                            decided_micros: row.get(1)?,
                            decision: row.get(2)?,
                            rule_id: row.get(3)?,
                            agent: row.get(4)?,
                        },
                        row.get::<_, Option<i64>>(5)?.map(seq_of),
                    ))
                })?
                .collect()
        })
        .await
    }
}
