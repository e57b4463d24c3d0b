//! The embedded store's remembered identifiers: written inside the append
//! transaction of the declaring event, read by subject. See `crate::identifiers`.

use async_trait::async_trait;
use rusqlite::{params, Transaction};

use super::{map_err, SqliteStore};
use crate::identifiers::{IdentifierStore, SealedIdentifier};
use crate::StoreResult;

/// Files `identifiers` in `tx`; ones already remembered (same subject, kind and value
/// hash) are skipped.
pub(super) fn remember(tx: &Transaction<'_>, identifiers: &[SealedIdentifier]) -> StoreResult<()> {
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO subject_identifiers(subject, kind, value_hash, key_id, sealed)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )
        .map_err(map_err)?;
    for id in identifiers {
        insert
            .execute(params![
                id.subject,
                id.kind,
                id.value_hash,
                id.key_id,
                id.sealed
            ])
            .map_err(map_err)?;
    }
    Ok(())
}

#[async_trait]
impl IdentifierStore for SqliteStore {
    async fn remembered_identifiers(&self, subject: &str) -> StoreResult<Vec<SealedIdentifier>> {
        let subject = subject.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT kind, value_hash, key_id, sealed FROM subject_identifiers
                 WHERE subject = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([&subject], |r| {
                Ok(SealedIdentifier {
                    subject: subject.clone(),
                    kind: r.get(0)?,
                    value_hash: r.get(1)?,
                    key_id: r.get(2)?,
                    sealed: r.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}
