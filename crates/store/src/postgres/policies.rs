//! The PostgreSQL policy sets: their effects (inside the append transaction, which
//! holds the tree head's row lock, so publishes, rollbacks and the generation checks
//! of decisions run one at a time across every server sharing the database) and
//! their reads. See `crate::policies` for the contract.

use async_trait::async_trait;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row, Transaction};

use super::{map_err, seq_of, PgStore};
use crate::policies::{
    DecisionFilter, PolicyActivation, PolicyDecisionRow, PolicyRollback, PolicyStore, PolicyVersion,
};
use crate::{StoreError, StoreResult};

const GENERATION: &str = "SELECT COALESCE(max(id), 0)::BIGINT FROM policy_activations";

async fn activate(
    tx: &Transaction<'_>,
    set_id: &str,
    version: i64,
    kind: &str,
    event_id: &str,
    at: i64,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO policy_activations(set_id, version, kind, event_id, at)
         VALUES ($1, $2, $3, $4, $5)",
        &[&set_id, &version, &kind, &event_id, &at],
    )
    .await
    .map_err(map_err)?;
    Ok(())
}

/// [`crate::Effect::PublishPolicy`].
pub(super) async fn publish(
    tx: &Transaction<'_>,
    v: &PolicyVersion,
) -> StoreResult<Result<(), StoreError>> {
    let last: i64 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0)::BIGINT FROM policy_versions WHERE set_id = $1",
            &[&v.set_id],
        )
        .await
        .map_err(map_err)?
        .get(0);
    if v.version != last + 1 {
        return Ok(Err(StoreError::Conflict(format!(
            "policy set {:?} is at version {last}, not {}",
            v.set_id,
            v.version - 1
        ))));
    }
    tx.execute(
        "INSERT INTO policy_versions(set_id, version, text, schema, tests, text_sha256,
                                     event_id, published_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &v.set_id,
            &v.version,
            &v.text,
            &v.schema,
            &v.tests,
            &v.text_sha256,
            &v.event_id,
            &v.published_micros,
        ],
    )
    .await
    .map_err(map_err)?;
    activate(
        tx,
        &v.set_id,
        v.version,
        "publish",
        &v.event_id,
        v.published_micros,
    )
    .await?;
    Ok(Ok(()))
}

/// [`crate::Effect::RollbackPolicy`].
pub(super) async fn rollback(
    tx: &Transaction<'_>,
    r: &PolicyRollback,
) -> StoreResult<Result<(), StoreError>> {
    let row = tx
        .query_one(
            "SELECT (SELECT version FROM policy_activations WHERE set_id = $1 ORDER BY id DESC LIMIT 1),
                    EXISTS(SELECT 1 FROM policy_versions WHERE set_id = $1 AND version = $2)",
            &[&r.set_id, &r.to_version],
        )
        .await
        .map_err(map_err)?;
    let active: Option<i64> = row.get(0);
    if active != Some(r.from_version) {
        return Ok(Err(StoreError::Conflict(format!(
            "policy set {:?} is active at version {active:?}, not {}",
            r.set_id, r.from_version
        ))));
    }
    if !row.get::<_, bool>(1) {
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
    )
    .await?;
    Ok(Ok(()))
}

/// [`crate::Effect::RequirePolicyGeneration`].
pub(super) async fn require_generation(
    tx: &Transaction<'_>,
    expected: i64,
) -> StoreResult<Result<(), StoreError>> {
    let now: i64 = tx.query_one(GENERATION, &[]).await.map_err(map_err)?.get(0);
    Ok(if now == expected {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "policy generation is {now}, not {expected}: a publish or rollback committed since"
        )))
    })
}

/// [`crate::Effect::IndexPolicyDecision`].
pub(super) async fn index_decision(
    tx: &Transaction<'_>,
    d: &PolicyDecisionRow,
) -> StoreResult<Result<(), StoreError>> {
    tx.execute(
        "INSERT INTO policy_decisions(event_id, decided_at, decision, rule_id, agent)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &d.event_id,
            &d.decided_micros,
            &d.decision,
            &d.rule_id,
            &d.agent,
        ],
    )
    .await
    .map_err(map_err)?;
    Ok(Ok(()))
}

pub(super) const VERSION_COLUMNS: &str =
    "v.set_id, v.version, v.text, v.schema, v.tests, v.text_sha256, v.event_id, v.published_at";

pub(super) fn version_row(row: &Row) -> PolicyVersion {
    PolicyVersion {
        set_id: row.get(0),
        version: row.get(1),
        text: row.get(2),
        schema: row.get(3),
        tests: row.get(4),
        text_sha256: row.get(5),
        event_id: row.get(6),
        published_micros: row.get(7),
    }
}

async fn read_active(client: &impl GenericClient) -> StoreResult<(i64, Vec<PolicyVersion>)> {
    // One statement, so the generation and the rows are one snapshot.
    let rows = client
        .query(
            &format!(
                "WITH g AS ({GENERATION}),
                      act AS (SELECT DISTINCT ON (set_id) set_id, version
                                FROM policy_activations ORDER BY set_id, id DESC)
                 SELECT {VERSION_COLUMNS}, (SELECT * FROM g)
                   FROM act JOIN policy_versions v ON v.set_id = act.set_id AND v.version = act.version
                 UNION ALL
                 SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, (SELECT * FROM g)
                 ORDER BY 1 NULLS FIRST"
            ),
            &[],
        )
        .await
        .map_err(map_err)?;
    let generation: i64 = rows.first().map_or(0, |r| r.get(8));
    let versions = rows
        .iter()
        .filter(|r| r.get::<_, Option<String>>(0).is_some())
        .map(version_row)
        .collect();
    Ok((generation, versions))
}

#[async_trait]
impl PolicyStore for PgStore {
    async fn policy_generation(&self) -> StoreResult<i64> {
        Ok(self.query(GENERATION, &[]).await?[0].get(0))
    }

    async fn active_policies(&self) -> StoreResult<(i64, Vec<PolicyVersion>)> {
        let client = self.client().await?;
        read_active(&**client).await
    }

    async fn policy_version(
        &self,
        set_id: &str,
        version: i64,
    ) -> StoreResult<Option<PolicyVersion>> {
        let rows = self
            .query(
                &format!(
                    "SELECT {VERSION_COLUMNS} FROM policy_versions v WHERE set_id = $1 AND version = $2"
                ),
                &[&set_id, &version],
            )
            .await?;
        Ok(rows.first().map(version_row))
    }

    async fn policy_activations(&self) -> StoreResult<Vec<PolicyActivation>> {
        let rows = self
            .query(
                "SELECT id, set_id, version, kind, event_id, at FROM policy_activations ORDER BY id",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| PolicyActivation {
                generation: row.get(0),
                set_id: row.get(1),
                version: row.get(2),
                kind: row.get(3),
                event_id: row.get(4),
                at_micros: row.get(5),
            })
            .collect())
    }

    async fn policy_decisions(
        &self,
        filter: &DecisionFilter,
    ) -> StoreResult<Vec<(PolicyDecisionRow, Option<u64>)>> {
        let from = filter.from_micros.unwrap_or(i64::MIN);
        let to = filter.to_micros.unwrap_or(i64::MAX);
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let mut sql = String::from(
            "SELECT d.event_id, d.decided_at, d.decision, d.rule_id, d.agent, e.seq
             FROM policy_decisions d LEFT JOIN entries e ON e.event_id = d.event_id
             WHERE d.decided_at >= $1 AND d.decided_at <= $2",
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&from, &to];
        for (column, value) in [
            ("d.rule_id", &filter.rule_id),
            ("d.decision", &filter.decision),
            ("d.agent", &filter.agent),
        ] {
            if let Some(value) = value {
                params.push(value);
                sql.push_str(&format!(" AND {column} = ${}", params.len()));
            }
        }
        params.push(&limit);
        sql.push_str(&format!(
            " ORDER BY d.decided_at, d.id LIMIT ${}",
            params.len()
        ));
        let rows = self.query(&sql, &params).await?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    PolicyDecisionRow {
                        event_id: row.get(0),
                        decided_micros: row.get(1),
                        decision: row.get(2),
                        rule_id: row.get(3),
                        agent: row.get(4),
                    },
                    row.get::<_, Option<i64>>(5).map(seq_of),
                )
            })
            .collect())
    }
}
