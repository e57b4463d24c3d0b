//! A store wrapper that fails on purpose, for fault tests.
//!
//! [`FaultyStore`] fails the Nth call to `append`, either before anything reaches the
//! inner store ([`FailMode::BeforeWrite`]) or after the inner store committed
//! ([`FailMode::AfterPersist`], the "failed but persisted" case a crash between commit
//! and reply produces), or inside the inner store's transaction between a request's
//! state changes and its events ([`FailMode::BetweenEffectAndAppend`]). Tests then check there is no fork, no gap, that retries get
//! the first answer, and that the next append works.

use crate::{ApiKeyStore, BlobStore, LogStore, MetaStore, SearchStore, VaultStore};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use evident_core::blob::BlobRef;
use evident_core::record::{IndexKeys, UploadedBlob};
use evident_tlog::{TileId, TileMap};

use crate::{
    ApiKeyRecord, AppendOutcome, AppendRequest, DataKey, ErasureReport, IndexedEntry, SealedBlob,
    SealedValue, Store, StoreError, StoreResult, StoredBlob, StoredCheckpoint, StoredEntry,
    TreeHead,
};

/// When the injected failure happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Return an error without calling the inner store.
    BeforeWrite,
    /// Let the inner store commit, then return an error anyway.
    AfterPersist,
    /// Let the inner store apply every request's effects inside its transaction, then
    /// fail before the events are appended ([`crate::Effect::InjectedFault`]): the
    /// transaction must roll back the effects with everything else.
    BetweenEffectAndAppend,
}

/// Wraps a store; fails the `fail_at`-th append (1-based) in `mode`.
pub struct FaultyStore<S: ?Sized> {
    inner: std::sync::Arc<S>,
    mode: FailMode,
    fail_at: u64,
    appends: AtomicU64,
}

impl<S: Store> FaultyStore<S> {
    pub fn new(inner: S, mode: FailMode, fail_at: u64) -> Self {
        Self::shared(std::sync::Arc::new(inner), mode, fail_at)
    }
}

impl<S: Store + ?Sized> FaultyStore<S> {
    /// Wraps a store shared with others (`Arc<dyn Store>`).
    pub fn shared(inner: std::sync::Arc<S>, mode: FailMode, fail_at: u64) -> Self {
        Self {
            inner,
            mode,
            fail_at,
            appends: AtomicU64::new(0),
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

fn injected() -> StoreError {
    StoreError::Unavailable("injected fault".into())
}

#[async_trait]
impl<S: Store + ?Sized> crate::IdentifierStore for FaultyStore<S> {
    async fn remembered_identifiers(
        &self,
        subject: &str,
    ) -> StoreResult<Vec<crate::SealedIdentifier>> {
        self.inner.remembered_identifiers(subject).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> crate::LegalHoldStore for FaultyStore<S> {
    async fn legal_holds(&self) -> StoreResult<Vec<crate::LegalHold>> {
        self.inner.legal_holds().await
    }
    async fn legal_hold(&self, hold_id: &str) -> StoreResult<Option<crate::LegalHold>> {
        self.inner.legal_hold(hold_id).await
    }
    async fn holds_covering_subject(
        &self,
        subject: &str,
        now_micros: i64,
    ) -> StoreResult<Vec<crate::LegalHold>> {
        self.inner.holds_covering_subject(subject, now_micros).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> crate::RetentionStore for FaultyStore<S> {
    async fn size_signed_by(&self, micros: i64) -> StoreResult<u64> {
        self.inner.size_signed_by(micros).await
    }
    async fn retention_candidates(
        &self,
        below: crate::ExpiryBounds,
        now_micros: i64,
        after_trace: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<crate::RetentionTrace>> {
        self.inner
            .retention_candidates(below, now_micros, after_trace, limit)
            .await
    }
    async fn newest_in_traces(
        &self,
        trace_ids: &[String],
    ) -> StoreResult<std::collections::HashMap<String, u64>> {
        self.inner.newest_in_traces(trace_ids).await
    }
    async fn purge_plan(&self, traces: &[crate::TracePurge]) -> StoreResult<crate::PurgeCounts> {
        self.inner.purge_plan(traces).await
    }
    async fn blobs_of_traces(&self, trace_ids: &[String]) -> StoreResult<Vec<StoredBlob>> {
        self.inner.blobs_of_traces(trace_ids).await
    }
    async fn purged_blobs(
        &self,
        refs: &[BlobRef],
    ) -> StoreResult<HashMap<BlobRef, crate::PurgedBlob>> {
        self.inner.purged_blobs(refs).await
    }
    async fn purged_blobs_in_range(
        &self,
        start: u64,
        end: u64,
    ) -> StoreResult<Vec<crate::PurgedBlob>> {
        self.inner.purged_blobs_in_range(start, end).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> crate::AccessLogStore for FaultyStore<S> {
    async fn access_log_size(&self) -> StoreResult<u64> {
        self.inner.access_log_size().await
    }
    async fn access_records(&self, start: u64, end: u64) -> StoreResult<Vec<crate::AccessRecord>> {
        self.inner.access_records(start, end).await
    }
    async fn search_access(
        &self,
        query: &crate::AccessQuery,
    ) -> StoreResult<Vec<crate::AccessRecord>> {
        self.inner.search_access(query).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> crate::WitnessStore for FaultyStore<S> {
    async fn put_cosignature(&self, cosignature: crate::StoredCosignature) -> StoreResult<()> {
        self.inner.put_cosignature(cosignature).await
    }
    async fn cosignatures(&self, size: u64) -> StoreResult<Vec<crate::StoredCosignature>> {
        self.inner.cosignatures(size).await
    }
    async fn newest_cosigned_size(
        &self,
        witnesses: &[String],
        quorum: usize,
    ) -> StoreResult<Option<u64>> {
        self.inner.newest_cosigned_size(witnesses, quorum).await
    }
    async fn put_witness_status(&self, status: crate::WitnessStatus) -> StoreResult<()> {
        self.inner.put_witness_status(status).await
    }
    async fn witness_statuses(&self) -> StoreResult<Vec<crate::WitnessStatus>> {
        self.inner.witness_statuses().await
    }
}

#[async_trait]
impl<S: Store + ?Sized> crate::StatsStore for FaultyStore<S> {
    async fn activity(
        &self,
        from_micros: i64,
        to_micros: i64,
    ) -> StoreResult<Vec<crate::stats::HourCount>> {
        self.inner.activity(from_micros, to_micros).await
    }
    async fn waiting_approvals(
        &self,
        before_micros: &[i64],
    ) -> StoreResult<crate::stats::WaitingApprovals> {
        self.inner.waiting_approvals(before_micros).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> crate::ArtifactStore for FaultyStore<S> {
    async fn artifact(
        &self,
        kind: &str,
        name: &str,
        selector: &crate::artifacts::ArtifactSelector,
        at_micros: Option<i64>,
    ) -> StoreResult<Option<crate::artifacts::PublishedArtifact>> {
        self.inner.artifact(kind, name, selector, at_micros).await
    }
    async fn label_version(
        &self,
        kind: &str,
        name: &str,
        label: &str,
    ) -> StoreResult<Option<String>> {
        self.inner.label_version(kind, name, label).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> crate::ApprovalStore for FaultyStore<S> {
    async fn approval(&self, approval_id: &str) -> StoreResult<Option<crate::approvals::Approval>> {
        self.inner.approval(approval_id).await
    }
    async fn approvals(
        &self,
        filter: &crate::approvals::ApprovalFilter,
    ) -> StoreResult<Vec<crate::approvals::Approval>> {
        self.inner.approvals(filter).await
    }
    async fn approvals_due(&self, now_micros: i64, limit: usize) -> StoreResult<Vec<String>> {
        self.inner.approvals_due(now_micros, limit).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> crate::PolicyStore for FaultyStore<S> {
    async fn policy_generation(&self) -> StoreResult<i64> {
        self.inner.policy_generation().await
    }
    async fn active_policies(&self) -> StoreResult<(i64, Vec<crate::policies::PolicyVersion>)> {
        self.inner.active_policies().await
    }
    async fn policy_version(
        &self,
        set_id: &str,
        version: i64,
    ) -> StoreResult<Option<crate::policies::PolicyVersion>> {
        self.inner.policy_version(set_id, version).await
    }
    async fn policy_activations(&self) -> StoreResult<Vec<crate::policies::PolicyActivation>> {
        self.inner.policy_activations().await
    }
    async fn policy_decisions(
        &self,
        filter: &crate::policies::DecisionFilter,
    ) -> StoreResult<Vec<(crate::policies::PolicyDecisionRow, Option<u64>)>> {
        self.inner.policy_decisions(filter).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> LogStore for FaultyStore<S> {
    async fn append(&self, requests: Vec<AppendRequest>) -> StoreResult<Vec<AppendOutcome>> {
        let n = self.appends.fetch_add(1, Ordering::SeqCst) + 1;
        if n != self.fail_at {
            return self.inner.append(requests).await;
        }
        match self.mode {
            FailMode::BeforeWrite => Err(injected()),
            FailMode::AfterPersist => {
                self.inner.append(requests).await?;
                Err(injected())
            }
            FailMode::BetweenEffectAndAppend => {
                let requests = requests
                    .into_iter()
                    .map(|mut r| {
                        r.effects.push(crate::Effect::InjectedFault);
                        r
                    })
                    .collect();
                self.inner.append(requests).await
            }
        }
    }

    async fn tree_head(&self) -> StoreResult<TreeHead> {
        self.inner.tree_head().await
    }

    async fn read_tiles(&self, ids: &[TileId]) -> StoreResult<TileMap> {
        self.inner.read_tiles(ids).await
    }

    async fn read_entries(&self, start: u64, end: u64) -> StoreResult<Vec<StoredEntry>> {
        self.inner.read_entries(start, end).await
    }

    async fn entry_by_event_id(&self, event_id: &str) -> StoreResult<Option<StoredEntry>> {
        self.inner.entry_by_event_id(event_id).await
    }

    async fn index_rows(&self, start: u64, end: u64) -> StoreResult<Vec<(u64, IndexKeys)>> {
        self.inner.index_rows(start, end).await
    }

    async fn read_indexed_entries(&self, start: u64, end: u64) -> StoreResult<Vec<IndexedEntry>> {
        self.inner.read_indexed_entries(start, end).await
    }

    async fn put_checkpoint(&self, checkpoint: StoredCheckpoint) -> StoreResult<()> {
        self.inner.put_checkpoint(checkpoint).await
    }

    async fn latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>> {
        self.inner.latest_checkpoint().await
    }

    async fn checkpoints(
        &self,
        from_size: u64,
        limit: usize,
    ) -> StoreResult<Vec<StoredCheckpoint>> {
        self.inner.checkpoints(from_size, limit).await
    }

    async fn try_lead(&self) -> StoreResult<bool> {
        self.inner.try_lead().await
    }

    async fn integrity_check(&self) -> StoreResult<crate::IntegrityCheck> {
        self.inner.integrity_check().await
    }
}

#[async_trait]
impl<S: Store + ?Sized> BlobStore for FaultyStore<S> {
    async fn put_upload(&self, blob: SealedBlob, now_micros: i64) -> StoreResult<()> {
        self.inner.put_upload(blob, now_micros).await
    }

    async fn put_vault_values(&self, values: Vec<SealedValue>) -> StoreResult<()> {
        self.inner.put_vault_values(values).await
    }

    async fn uploads(&self, refs: &[BlobRef]) -> StoreResult<HashMap<BlobRef, UploadedBlob>> {
        self.inner.uploads(refs).await
    }

    async fn blob(&self, reference: &BlobRef) -> StoreResult<Option<StoredBlob>> {
        self.inner.blob(reference).await
    }

    async fn blobs_in_range(&self, start: u64, end: u64) -> StoreResult<Vec<StoredBlob>> {
        self.inner.blobs_in_range(start, end).await
    }

    async fn drop_stale_uploads(&self, cutoff_micros: i64) -> StoreResult<u64> {
        self.inner.drop_stale_uploads(cutoff_micros).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> ApiKeyStore for FaultyStore<S> {
    async fn create_api_key(&self, key: ApiKeyRecord) -> StoreResult<()> {
        self.inner.create_api_key(key).await
    }

    async fn api_key_by_hash(&self, key_hash: &[u8; 32]) -> StoreResult<Option<ApiKeyRecord>> {
        self.inner.api_key_by_hash(key_hash).await
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        self.inner.list_api_keys().await
    }

    async fn revoke_api_key(&self, name: &str, now_micros: i64) -> StoreResult<()> {
        self.inner.revoke_api_key(name, now_micros).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> MetaStore for FaultyStore<S> {
    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.inner.get_meta(key).await
    }

    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.inner.set_meta(key, value).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> SearchStore for FaultyStore<S> {
    async fn search(&self, query: &crate::SearchQuery) -> StoreResult<Vec<StoredEntry>> {
        self.inner.search(query).await
    }

    async fn search_with_blobs(
        &self,
        query: &crate::SearchQuery,
    ) -> StoreResult<crate::EntriesWithBlobs> {
        self.inner.search_with_blobs(query).await
    }

    async fn text_indexed_through(&self) -> StoreResult<u64> {
        self.inner.text_indexed_through().await
    }

    async fn index_text(&self, from: u64, docs: Vec<String>) -> StoreResult<()> {
        self.inner.index_text(from, docs).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> VaultStore for FaultyStore<S> {
    async fn active_data_keys(&self, subjects: &[String]) -> StoreResult<HashMap<String, DataKey>> {
        self.inner.active_data_keys(subjects).await
    }

    async fn insert_data_keys(&self, keys: Vec<DataKey>) -> StoreResult<()> {
        self.inner.insert_data_keys(keys).await
    }

    async fn data_keys(&self, key_ids: &[String]) -> StoreResult<HashMap<String, DataKey>> {
        self.inner.data_keys(key_ids).await
    }

    async fn destroyed_keys(
        &self,
        key_ids: &[String],
    ) -> StoreResult<std::collections::HashSet<String>> {
        self.inner.destroyed_keys(key_ids).await
    }

    async fn all_data_keys(&self) -> StoreResult<Vec<DataKey>> {
        self.inner.all_data_keys().await
    }

    async fn rewrap_data_keys(&self, keys: Vec<DataKey>) -> StoreResult<()> {
        self.inner.rewrap_data_keys(keys).await
    }

    async fn vault_values(&self, tokens: &[String]) -> StoreResult<Vec<SealedValue>> {
        self.inner.vault_values(tokens).await
    }

    async fn erasure_plan(&self, subject: &str) -> StoreResult<ErasureReport> {
        self.inner.erasure_plan(subject).await
    }

    async fn vault_values_under(&self, key_id: &str) -> StoreResult<Vec<SealedValue>> {
        self.inner.vault_values_under(key_id).await
    }

    async fn erased_at(&self, subject: &str) -> StoreResult<Option<i64>> {
        self.inner.erased_at(subject).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> crate::RegistryRows for FaultyStore<S> {
    async fn artifact_version_rows(
        &self,
        after_id: i64,
        limit: usize,
    ) -> StoreResult<Vec<(i64, crate::artifacts::ArtifactVersion)>> {
        self.inner.artifact_version_rows(after_id, limit).await
    }
    async fn label_move_rows(
        &self,
        after_id: i64,
        limit: usize,
    ) -> StoreResult<Vec<(i64, crate::artifacts::LabelMove)>> {
        self.inner.label_move_rows(after_id, limit).await
    }
    async fn policy_version_rows(
        &self,
        after: crate::registry_rows::PolicyVersionCursor,
        limit: usize,
    ) -> StoreResult<Vec<crate::policies::PolicyVersion>> {
        self.inner.policy_version_rows(after, limit).await
    }
}
