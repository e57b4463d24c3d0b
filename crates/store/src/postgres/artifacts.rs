//! The PostgreSQL artifact registry: its effects (inside the append transaction,
//! which holds the tree head's row lock, so label moves are checked and written one
//! at a time across servers) and its reads. See `crate::artifacts` for the contract.

use async_trait::async_trait;
use tokio_postgres::{Row, Transaction};

use super::{map_err, seq_of, PgStore};
use crate::artifacts::{
    ArtifactSelector, ArtifactStore, ArtifactVersion, LabelMove, PublishedArtifact,
};
use crate::{StoreError, StoreResult};

/// [`crate::Effect::PublishArtifact`].
pub(super) async fn publish(
    tx: &Transaction<'_>,
    v: &ArtifactVersion,
) -> StoreResult<Result<(), StoreError>> {
    let inserted = tx
        .execute(
            "INSERT INTO artifacts(kind, name, version, content, content_hash, metadata,
                                   event_id, published_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            &[
                &v.kind,
                &v.name,
                &v.version,
                &v.content,
                &v.content_hash,
                &v.metadata,
                &v.event_id,
                &v.published_micros,
            ],
        )
        .await
        .map_err(map_err)?;
    Ok(if inserted == 0 {
        Err(StoreError::Conflict(format!(
            "{}/{}@{} is published",
            v.kind, v.name, v.version
        )))
    } else {
        Ok(())
    })
}

/// [`crate::Effect::MoveLabel`].
pub(super) async fn move_label(
    tx: &Transaction<'_>,
    m: &LabelMove,
) -> StoreResult<Result<(), StoreError>> {
    let row = tx
        .query_one(
            "SELECT EXISTS(SELECT 1 FROM artifacts WHERE kind = $1 AND name = $2 AND version = $3),
                    (SELECT version FROM artifact_label_moves
                      WHERE kind = $1 AND name = $2 AND label = $4 ORDER BY id DESC LIMIT 1)",
            &[&m.kind, &m.name, &m.to_version, &m.label],
        )
        .await
        .map_err(map_err)?;
    if !row.get::<_, bool>(0) {
        return Ok(Err(StoreError::NotFound(format!(
            "{}/{}@{} was never published",
            m.kind, m.name, m.to_version
        ))));
    }
    let current: Option<String> = row.get(1);
    if current != m.from_version {
        return Ok(Err(StoreError::Conflict(format!(
            "label {:?} names {current:?}, not {:?}",
            m.label, m.from_version
        ))));
    }
    tx.execute(
        "INSERT INTO artifact_label_moves(kind, name, label, from_version, version, event_id, moved_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &m.kind,
            &m.name,
            &m.label,
            &m.from_version,
            &m.to_version,
            &m.event_id,
            &m.moved_micros,
        ],
    )
    .await
    .map_err(map_err)?;
    Ok(Ok(()))
}

const COLUMNS: &str = "a.kind, a.name, a.version, a.content, a.content_hash, a.metadata,
     a.event_id, a.published_at, e.seq";

fn published(row: &Row) -> PublishedArtifact {
    PublishedArtifact {
        artifact: ArtifactVersion {
            kind: row.get(0),
            name: row.get(1),
            version: row.get(2),
            content: row.get(3),
            content_hash: row.get(4),
            metadata: row.get(5),
            event_id: row.get(6),
            published_micros: row.get(7),
        },
        seq: row.get::<_, Option<i64>>(8).map(seq_of),
    }
}

#[async_trait]
impl ArtifactStore for PgStore {
    async fn artifact(
        &self,
        kind: &str,
        name: &str,
        selector: &ArtifactSelector,
        at_micros: Option<i64>,
    ) -> StoreResult<Option<PublishedArtifact>> {
        let at = at_micros.unwrap_or(i64::MAX);
        let from = "FROM artifacts a LEFT JOIN entries e ON e.event_id = a.event_id
                    WHERE a.kind = $1 AND a.name = $2 AND a.published_at <= $3";
        let rows = match selector {
            ArtifactSelector::Latest => {
                self.query(
                    &format!(
                        "SELECT {COLUMNS} {from} ORDER BY a.published_at DESC, a.id DESC LIMIT 1"
                    ),
                    &[&kind, &name, &at],
                )
                .await?
            }
            ArtifactSelector::Version(version) => {
                self.query(
                    &format!("SELECT {COLUMNS} {from} AND a.version = $4"),
                    &[&kind, &name, &at, version],
                )
                .await?
            }
            ArtifactSelector::Label(label) => {
                // Now: the last move in commit order (what a move's precondition
                // checks); at a time: the last move received by then.
                let order = if at_micros.is_none() {
                    "id DESC"
                } else {
                    "moved_at DESC, id DESC"
                };
                self.query(
                    &format!(
                        "SELECT {COLUMNS} {from} AND a.version =
                           (SELECT version FROM artifact_label_moves
                             WHERE kind = $1 AND name = $2 AND label = $4 AND moved_at <= $3
                             ORDER BY {order} LIMIT 1)"
                    ),
                    &[&kind, &name, &at, label],
                )
                .await?
            }
        };
        Ok(rows.first().map(published))
    }

    async fn label_version(
        &self,
        kind: &str,
        name: &str,
        label: &str,
    ) -> StoreResult<Option<String>> {
        let rows = self
            .query(
                "SELECT version FROM artifact_label_moves
                  WHERE kind = $1 AND name = $2 AND label = $3 ORDER BY id DESC LIMIT 1",
                &[&kind, &name, &label],
            )
            .await?;
        Ok(rows.first().map(|r| r.get(0)))
    }
}
