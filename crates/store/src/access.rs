//! The read-access log (CONTRACT section 4, `GET /api/v1/access-log`): who read which
//! events, traces, subjects, blobs, bundles and reports, when, with which key.
//!
//! Records are numbered from 0 (`seq` of the access log, not of the main log) and
//! appended in batches, each batch only with the `access_log_checkpoint` event of the
//! main log that states its range and the RFC 6962 root of its records
//! ([`crate::Effect::AppendAccessRecords`]). Editing or deleting a record therefore
//! contradicts a signed entry of the main log, which `verify` checks.
//!
//! Out of scope: what a record says (the server writes it as canonical JSON, subjects
//! as tokens only) and batching off the request path.

use async_trait::async_trait;

use crate::StoreResult;

/// One access record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord {
    /// Its position in the access log.
    pub seq: u64,
    /// The API key's name.
    pub key: String,
    /// When, µs since the epoch.
    pub at_micros: i64,
    /// The record (RFC 8785 JSON): the leaf of the batch root.
    pub record: Vec<u8>,
}

/// A query of the access log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessQuery {
    pub key: Option<String>,
    /// Inclusive bounds, µs.
    pub from_micros: Option<i64>,
    pub to_micros: Option<i64>,
    /// Only records with `seq > after_seq` (the cursor).
    pub after_seq: Option<u64>,
    pub limit: usize,
}

/// Reads of the access log. Writes go with their checkpoint events (module docs).
#[async_trait]
pub trait AccessLogStore: Send + Sync {
    /// How many records the access log holds.
    async fn access_log_size(&self) -> StoreResult<u64>;

    /// Records `start..end` in order.
    async fn access_records(&self, start: u64, end: u64) -> StoreResult<Vec<AccessRecord>>;

    /// Records matching `query`, in `seq` order.
    async fn search_access(&self, query: &AccessQuery) -> StoreResult<Vec<AccessRecord>>;
}
