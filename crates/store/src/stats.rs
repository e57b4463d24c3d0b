//! Aggregates for the console's dashboard: events per hour by agent and type, and the
//! approvals waiting (CONTRACT section 4, `GET /api/v1/stats/...`).
//!
//! Counts are kept as a rollup (`activity_hours`: one row per hour, agent and event
//! type) that the text indexer advances in the same transaction as its position
//! (`SearchStore::index_text`), so each entry is counted exactly once and a read costs
//! one row per hour, agent and type in its window, however many events the log holds.
//! It follows the text index (`indexed_through`), never the log itself.
//!
//! Out of scope: anything computed from payloads (the rollup reads only the indexed
//! columns `agent`, `event_type`, `ts`), and windows longer than the caller bounds.

use async_trait::async_trait;

use crate::StoreResult;

/// One hour in µs: the rollup's bucket width.
pub const HOUR_MICROS: i64 = 3_600_000_000;

/// How many events of one type one agent's actor recorded in one hour (by the events'
/// own timestamps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourCount {
    /// The hour's first µs since the epoch (a multiple of [`HOUR_MICROS`]).
    pub hour_micros: i64,
    /// `actor.id`.
    pub agent: String,
    pub event_type: String,
    pub events: u64,
}

/// The approvals still open: how many, the oldest, and how many were opened before
/// each of the given instants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WaitingApprovals {
    pub count: u64,
    /// When the oldest open request was opened, µs.
    pub oldest_opened_micros: Option<i64>,
    /// For each instant asked for (in order), how many open requests are older.
    pub opened_before: Vec<u64>,
}

/// Reads of the dashboard's aggregates; the rollup is written by `index_text`.
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// Rollup rows with `from_micros <= hour < to_micros`, by hour then agent then
    /// type.
    async fn activity(&self, from_micros: i64, to_micros: i64) -> StoreResult<Vec<HourCount>>;

    /// The open approvals, from the approvals' state index.
    async fn waiting_approvals(&self, before_micros: &[i64]) -> StoreResult<WaitingApprovals>;
}
