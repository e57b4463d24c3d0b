//! PostgreSQL's remembered identifiers: written inside the append transaction of the
//! declaring event (one `UNNEST` statement per group commit), read by subject. See
//! `crate::identifiers`.

use async_trait::async_trait;
use tokio_postgres::Transaction;

use super::{map_err, PgStore};
use crate::identifiers::{IdentifierStore, SealedIdentifier};
use crate::StoreResult;

/// Files `identifiers` in `tx`; ones already remembered (same subject, kind and value
/// hash, in the database or earlier in this batch) are skipped.
pub(super) async fn remember(
    tx: &Transaction<'_>,
    identifiers: &[SealedIdentifier],
) -> StoreResult<()> {
    let subjects: Vec<&str> = identifiers.iter().map(|i| i.subject.as_str()).collect();
    let kinds: Vec<&str> = identifiers.iter().map(|i| i.kind.as_str()).collect();
    let hashes: Vec<&[u8]> = identifiers
        .iter()
        .map(|i| i.value_hash.as_slice())
        .collect();
    let key_ids: Vec<&str> = identifiers.iter().map(|i| i.key_id.as_str()).collect();
    let sealed: Vec<&[u8]> = identifiers.iter().map(|i| i.sealed.as_slice()).collect();
    tx.execute(
        "INSERT INTO subject_identifiers(subject, kind, value_hash, key_id, sealed)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::text[], $5::bytea[])
         ON CONFLICT DO NOTHING",
        &[&subjects, &kinds, &hashes, &key_ids, &sealed],
    )
    .await
    .map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl IdentifierStore for PgStore {
    async fn remembered_identifiers(&self, subject: &str) -> StoreResult<Vec<SealedIdentifier>> {
        let rows = self
            .query(
                "SELECT kind, value_hash, key_id, sealed FROM subject_identifiers
                 WHERE subject = $1 ORDER BY id",
                &[&subject],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| SealedIdentifier {
                subject: subject.to_owned(),
                kind: r.get(0),
                value_hash: r.get(1),
                key_id: r.get(2),
                sealed: r.get(3),
            })
            .collect())
    }
}
