//! Every row of the artifact registry and of the policy tables, a page at a time, so
//! that `verify` can hold each against the log entry that records it (CONTRACT
//! section 6: "what was live at T" is answered from these rows, so a row the log
//! does not state, or one edited after its event, must be caught).
//!
//! Out of scope: the registry's own reads (`crate::artifacts`, `crate::policies`).

use async_trait::async_trait;

use crate::artifacts::{ArtifactVersion, LabelMove};
use crate::policies::PolicyVersion;
use crate::StoreResult;

/// Where a page of policy versions starts: after this (set, version).
pub type PolicyVersionCursor = Option<(String, i64)>;

/// Reads of every governance row, in a stable order, for verification.
#[async_trait]
pub trait RegistryRows: Send + Sync {
    /// Artifact versions with their row ids above `after_id`, in id order.
    async fn artifact_version_rows(
        &self,
        after_id: i64,
        limit: usize,
    ) -> StoreResult<Vec<(i64, ArtifactVersion)>>;

    /// Label moves with their row ids above `after_id`, in id order.
    async fn label_move_rows(
        &self,
        after_id: i64,
        limit: usize,
    ) -> StoreResult<Vec<(i64, LabelMove)>>;

    /// Policy versions after `after`, ordered by (set, version).
    async fn policy_version_rows(
        &self,
        after: PolicyVersionCursor,
        limit: usize,
    ) -> StoreResult<Vec<PolicyVersion>>;
}
