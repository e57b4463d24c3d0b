//! The embedded store's dashboard aggregates (see `crate::stats`).

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use crate::stats::{HourCount, StatsStore, WaitingApprovals};
use crate::StoreResult;

/// Adds the entries `?1 <= seq < ?2` to the rollup; run by `index_text` in the
/// transaction that moves the text index over them, so each is counted once. The hour
/// is floored (`%` truncates toward zero in SQLite).
pub(super) const ROLL_UP: &str = "
INSERT INTO activity_hours(hour, agent, event_type, events)
  SELECT ts - ((ts % 3600000000) + 3600000000) % 3600000000, agent, event_type, count(*)
  FROM entries WHERE seq >= ?1 AND seq < ?2
  GROUP BY 1, 2, 3
  ON CONFLICT(hour, agent, event_type) DO UPDATE SET events = events + excluded.events";

#[async_trait]
impl StatsStore for SqliteStore {
    async fn activity(&self, from_micros: i64, to_micros: i64) -> StoreResult<Vec<HourCount>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT hour, agent, event_type, events FROM activity_hours
                 WHERE hour >= ?1 AND hour < ?2 ORDER BY hour, agent, event_type",
            )?;
            let rows = stmt.query_map(params![from_micros, to_micros], |r| {
                Ok(HourCount {
                    hour_micros: r.get(0)?,
                    agent: r.get(1)?,
                    event_type: r.get(2)?,
                    events: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn waiting_approvals(&self, before_micros: &[i64]) -> StoreResult<WaitingApprovals> {
        let before = before_micros.to_vec();
        self.read(move |conn| {
            // Both read the `approvals_by_state(state, opened_at, ...)` index only.
            let (count, oldest): (i64, Option<i64>) = conn.query_row(
                "SELECT count(*), min(opened_at) FROM approvals WHERE state = 'open'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut older = conn.prepare_cached(
                "SELECT count(*) FROM approvals WHERE state = 'open' AND opened_at < ?1",
            )?;
            let mut opened_before = Vec::with_capacity(before.len());
            for instant in &before {
                let n: i64 = older.query_row([instant], |r| r.get(0))?;
                opened_before.push(u64::try_from(n).unwrap_or(0));
            }
            Ok(WaitingApprovals {
                count: u64::try_from(count).unwrap_or(0),
                oldest_opened_micros: oldest,
                opened_before,
            })
        })
        .await
    }
}
