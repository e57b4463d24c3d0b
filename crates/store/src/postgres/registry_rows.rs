//! The PostgreSQL store's [`RegistryRows`]: governance rows a page at a time, for
//! `verify`. See `crate::registry_rows`.

use async_trait::async_trait;

use super::policies::{version_row, VERSION_COLUMNS};
use super::PgStore;
use crate::artifacts::{ArtifactVersion, LabelMove};
use crate::policies::PolicyVersion;
use crate::registry_rows::{PolicyVersionCursor, RegistryRows};
use crate::StoreResult;

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl RegistryRows for PgStore {
    async fn artifact_version_rows(
        &self,
        after_id: i64,
        n: usize,
    ) -> StoreResult<Vec<(i64, ArtifactVersion)>> {
        let rows = self
            .query(
                "SELECT id, kind, name, version, content, content_hash, metadata, event_id,
                        published_at
                   FROM artifacts WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after_id, &limit(n)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    ArtifactVersion {
                        kind: r.get(1),
                        name: r.get(2),
                        version: r.get(3),
                        content: r.get(4),
                        content_hash: r.get(5),
                        metadata: r.get(6),
                        event_id: r.get(7),
                        published_micros: r.get(8),
                    },
                )
            })
            .collect())
    }

    async fn label_move_rows(&self, after_id: i64, n: usize) -> StoreResult<Vec<(i64, LabelMove)>> {
        let rows = self
            .query(
                "SELECT id, kind, name, label, from_version, version, event_id, moved_at
                   FROM artifact_label_moves WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after_id, &limit(n)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    LabelMove {
                        kind: r.get(1),
                        name: r.get(2),
                        label: r.get(3),
                        from_version: r.get(4),
                        to_version: r.get(5),
                        event_id: r.get(6),
                        moved_micros: r.get(7),
                    },
                )
            })
            .collect())
    }

    async fn policy_version_rows(
        &self,
        after: PolicyVersionCursor,
        n: usize,
    ) -> StoreResult<Vec<PolicyVersion>> {
        let (set_id, version) = after.unwrap_or_default();
        let rows = self
            .query(
                &format!(
                    "SELECT {VERSION_COLUMNS} FROM policy_versions v
                      WHERE (v.set_id, v.version) > ($1, $2)
                      ORDER BY v.set_id, v.version LIMIT $3"
                ),
                &[&set_id, &version, &limit(n)],
            )
            .await?;
        Ok(rows.iter().map(version_row).collect())
    }
}
