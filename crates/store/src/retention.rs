//! Retention (CONTRACT section 2, "Retention"; section 7, `evident retention run`):
//! what the purge reads to decide, and what it leaves behind.
//!
//! A purge deletes, for whole traces, their payload blobs, their search text, the
//! vault values of subjects left with no payload, and the values under the log's
//! default key (found in events without a subject) that no other trace uses; entries stay, so the log stays
//! verifiable. It is one [`crate::Effect::PurgeRetention`], applied in the transaction
//! that appends its `retention_purge` event. Like an erasure, the event states counts
//! fixed before the transaction, so the effect recounts what it deletes
//! ([`RetentionStore::purge_plan`] is that count) and refuses if they differ; it also
//! refuses if a trace grew since the plan (a trace is purged whole or not at all) or
//! a legal hold in force now covers it.
//!
//! Each purged blob leaves a row (reference, `seq`, run, when), so reads answer 410
//! naming the run instead of "missing", and `verify` counts it.
//!
//! Out of scope: tiers and floors, which traces expired (the server's retention
//! module decides from these reads), and archives.

use std::collections::HashMap;

use async_trait::async_trait;
use evident_core::blob::BlobRef;

use crate::StoreResult;

/// Where each part may have expired: below `payload`, some tier's payload has; below
/// `text`, some tier's search text has (the server reads both from the signed
/// checkpoints). Candidates are looked for below each bound only, so search text kept
/// longer than payloads is not read again by every run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryBounds {
    pub payload: u64,
    pub text: u64,
}

impl ExpiryBounds {
    /// The same bound for both parts.
    pub fn both(seq: u64) -> Self {
        Self {
            payload: seq,
            text: seq,
        }
    }

    /// The higher bound: a candidate trace lies entirely below it.
    pub fn max(self) -> u64 {
        self.payload.max(self.text)
    }
}

/// A trace that has something left to purge, with what decides its tier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionTrace {
    pub trace_id: String,
    /// Its newest entry.
    pub last_seq: u64,
    /// The distinct (event type, agent, case id) of its entries.
    pub kinds: Vec<(String, String, Option<String>)>,
    /// Blobs filed under its entries.
    pub blobs: u64,
    /// Its entries with search text.
    pub texts: u64,
    /// Uses by its entries of vault values under the log's default key (values found
    /// in events without a subject): payload too, purged once no kept trace uses them.
    pub default_values: u64,
    /// Holds in force that cover it (by trace, job, case, subject or time).
    pub held_by: Vec<String>,
}

/// One trace's part of a purge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracePurge {
    pub trace_id: String,
    /// The newest entry the plan saw: the effect refuses if the trace has a newer one.
    pub last_seq: u64,
    /// Delete its payload blobs (and the vault values of subjects left without any).
    pub payload: bool,
    /// Delete its search text.
    pub text: bool,
}

/// What a purge deletes (or, planned, will delete).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    pub blobs: u64,
    pub values: u64,
    pub texts: u64,
}

/// A purged blob: which run, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgedBlob {
    pub reference: BlobRef,
    /// The entry it was filed under.
    pub seq: u64,
    /// The `retention_purge` event's id.
    pub run_id: String,
    pub purged_micros: i64,
}

/// Reads the purge decides from, and what purges left.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// The size of the newest checkpoint signed at or before `micros` (0 if none):
    /// every entry below it was received before `micros`, whatever the client's
    /// `timestamp` said, so expiry counted from it never purges early.
    async fn size_signed_by(&self, micros: i64) -> StoreResult<u64>;

    /// Traces whose entries all lie below `below.max()` and that still have payload
    /// (blobs, uses of default-key vault values) below `below.payload` or search text
    /// below `below.text`, ordered by trace id after `after_trace`, at most `limit`;
    /// with the holds in force at `now_micros` that cover each. Found from what is left
    /// to purge, never by reading the whole log.
    async fn retention_candidates(
        &self,
        below: ExpiryBounds,
        now_micros: i64,
        after_trace: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<RetentionTrace>>;

    /// The newest entry of each of these traces that has one: what a purge whose
    /// commit was refused checks to drop the traces written to since its plan.
    async fn newest_in_traces(&self, trace_ids: &[String]) -> StoreResult<HashMap<String, u64>>;

    /// What purging `traces` now would delete: the counts a
    /// [`crate::Effect::PurgeRetention`] expects.
    async fn purge_plan(&self, traces: &[TracePurge]) -> StoreResult<PurgeCounts>;

    /// The stored blobs of the entries of these traces (what an archive keeps).
    async fn blobs_of_traces(&self, trace_ids: &[String]) -> StoreResult<Vec<crate::StoredBlob>>;

    /// Which of these blobs a purge deleted, and when.
    async fn purged_blobs(&self, refs: &[BlobRef]) -> StoreResult<HashMap<BlobRef, PurgedBlob>>;

    /// Blobs purged from entries `start..end`, for `verify`.
    async fn purged_blobs_in_range(&self, start: u64, end: u64) -> StoreResult<Vec<PurgedBlob>>;
}
