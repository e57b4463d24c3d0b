//! The embedded store's artifact registry: its effects (inside the append
//! transaction) and its reads. See `crate::artifacts` for the contract.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{map_err, SqliteStore};
use crate::artifacts::{
    ArtifactSelector, ArtifactStore, ArtifactVersion, LabelMove, PublishedArtifact,
};
use crate::{StoreError, StoreResult};

/// [`crate::Effect::PublishArtifact`].
pub(super) fn publish(
    tx: &Transaction<'_>,
    v: &ArtifactVersion,
) -> StoreResult<Result<(), StoreError>> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO artifacts(kind, name, version, content, content_hash, metadata,
                                   event_id, published_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                v.kind,
                v.name,
                v.version,
                v.content,
                v.content_hash,
                v.metadata,
                v.event_id,
                v.published_micros
            ])
        })
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
pub(super) fn move_label(
    tx: &Transaction<'_>,
    m: &LabelMove,
) -> StoreResult<Result<(), StoreError>> {
    let exists: bool = tx
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM artifacts WHERE kind = ?1 AND name = ?2 AND version = ?3)",
        )
        .and_then(|mut stmt| stmt.query_row(params![m.kind, m.name, m.to_version], |r| r.get(0)))
        .map_err(map_err)?;
    if !exists {
        return Ok(Err(StoreError::NotFound(format!(
            "{}/{}@{} was never published",
            m.kind, m.name, m.to_version
        ))));
    }
    let current = current_label(tx, &m.kind, &m.name, &m.label).map_err(map_err)?;
    if current != m.from_version {
        return Ok(Err(StoreError::Conflict(format!(
            "label {:?} names {current:?}, not {:?}",
            m.label, m.from_version
        ))));
    }
    tx.prepare_cached(
        "INSERT INTO artifact_label_moves(kind, name, label, from_version, version, event_id, moved_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            m.kind,
            m.name,
            m.label,
            m.from_version,
            m.to_version,
            m.event_id,
            m.moved_micros
        ])
    })
    .map_err(map_err)?;
    Ok(Ok(()))
}

/// The version a label names now: its last move in commit order.
fn current_label(
    conn: &Connection,
    kind: &str,
    name: &str,
    label: &str,
) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT version FROM artifact_label_moves WHERE kind = ?1 AND name = ?2 AND label = ?3
         ORDER BY id DESC LIMIT 1",
    )?
    .query_row(params![kind, name, label], |r| r.get(0))
    .optional()
}

const COLUMNS: &str = "a.kind, a.name, a.version, a.content, a.content_hash, a.metadata,
     a.event_id, a.published_at, e.seq";

fn published(row: &rusqlite::Row<'_>) -> rusqlite::Result<PublishedArtifact> {
    Ok(PublishedArtifact {
        artifact: ArtifactVersion {
            kind: row.get(0)?,
            name: row.get(1)?,
            version: row.get(2)?,
            content: row.get(3)?,
            content_hash: row.get(4)?,
            metadata: row.get(5)?,
            event_id: row.get(6)?,
            published_micros: row.get(7)?,
        },
        seq: row
            .get::<_, Option<i64>>(8)?
            .map(|s| u64::try_from(s).unwrap_or_default()),
    })
}

fn read_artifact(
    conn: &Connection,
    kind: &str,
    name: &str,
    selector: &ArtifactSelector,
    at: i64,
) -> rusqlite::Result<Option<PublishedArtifact>> {
    let version = match selector {
        ArtifactSelector::Latest => {
            return conn
                .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM artifacts a LEFT JOIN entries e ON e.event_id = a.event_id
                     WHERE a.kind = ?1 AND a.name = ?2 AND a.published_at <= ?3
                     ORDER BY a.published_at DESC, a.id DESC LIMIT 1"
            ))?
                .query_row(params![kind, name, at], published)
                .optional()
        }
        ArtifactSelector::Version(version) => version.clone(),
        ArtifactSelector::Label(label) if at == i64::MAX => {
            let Some(version) = current_label(conn, kind, name, label)? else {
                return Ok(None);
            };
            version
        }
        ArtifactSelector::Label(label) => {
            let named: Option<String> = conn
                .prepare_cached(
                    "SELECT version FROM artifact_label_moves
                     WHERE kind = ?1 AND name = ?2 AND label = ?3 AND moved_at <= ?4
                     ORDER BY moved_at DESC, id DESC LIMIT 1",
                )?
                .query_row(params![kind, name, label, at], |r| r.get(0))
                .optional()?;
            let Some(version) = named else {
                return Ok(None);
            };
            version
        }
    };
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM artifacts a LEFT JOIN entries e ON e.event_id = a.event_id
         WHERE a.kind = ?1 AND a.name = ?2 AND a.version = ?3 AND a.published_at <= ?4"
    ))?
    .query_row(params![kind, name, version, at], published)
    .optional()
}

#[async_trait]
impl ArtifactStore for SqliteStore {
    async fn artifact(
        &self,
        kind: &str,
        name: &str,
        selector: &ArtifactSelector,
        at_micros: Option<i64>,
    ) -> StoreResult<Option<PublishedArtifact>> {
        let (kind, name, selector) = (kind.to_owned(), name.to_owned(), selector.clone());
        let at = at_micros.unwrap_or(i64::MAX);
        self.read(move |conn| read_artifact(conn, &kind, &name, &selector, at))
            .await
    }

    async fn label_version(
        &self,
        kind: &str,
        name: &str,
        label: &str,
    ) -> StoreResult<Option<String>> {
        let (kind, name, label) = (kind.to_owned(), name.to_owned(), label.to_owned());
        self.read(move |conn| current_label(conn, &kind, &name, &label))
            .await
    }
}
