//! PostgreSQL's dashboard aggregates (see `crate::stats`).

use async_trait::async_trait;

use super::PgStore;
use crate::stats::{HourCount, StatsStore, WaitingApprovals};
use crate::StoreResult;

/// Adds the entries `$1 <= seq < $2` to the rollup; run by `index_text` in the
/// transaction that moves the text index over them (holding the position's row lock),
/// so each is counted once. The hour is floored (`%` truncates toward zero).
pub(super) const ROLL_UP: &str = "
INSERT INTO activity_hours(hour, agent, event_type, events)
  SELECT ts - ((ts % 3600000000) + 3600000000) % 3600000000, agent, event_type, count(*)
  FROM entries WHERE seq >= $1 AND seq < $2
  GROUP BY 1, 2, 3
  ON CONFLICT(hour, agent, event_type)
  DO UPDATE SET events = activity_hours.events + excluded.events";

#[async_trait]
impl StatsStore for PgStore {
    async fn activity(&self, from_micros: i64, to_micros: i64) -> StoreResult<Vec<HourCount>> {
        let rows = self
            .query(
                "SELECT hour, agent, event_type, events FROM activity_hours
                 WHERE hour >= $1 AND hour < $2 ORDER BY hour, agent, event_type",
                &[&from_micros, &to_micros],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| HourCount {
                hour_micros: r.get(0),
                agent: r.get(1),
                event_type: r.get(2),
                events: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
            })
            .collect())
    }

    async fn waiting_approvals(&self, before_micros: &[i64]) -> StoreResult<WaitingApprovals> {
        // Both read the `approvals_by_state(state, opened_at, ...)` index.
        let rows = self
            .query(
                "SELECT count(*), min(opened_at) FROM approvals WHERE state = 'open'",
                &[],
            )
            .await?;
        let (count, oldest) = rows.first().map_or((0, None), |r| {
            (r.get::<_, i64>(0), r.get::<_, Option<i64>>(1))
        });
        let mut opened_before = Vec::with_capacity(before_micros.len());
        for instant in before_micros {
            let rows = self
                .query(
                    "SELECT count(*) FROM approvals WHERE state = 'open' AND opened_at < $1",
                    &[instant],
                )
                .await?;
            let n = rows.first().map_or(0, |r| r.get::<_, i64>(0));
            opened_before.push(u64::try_from(n).unwrap_or(0));
        }
        Ok(WaitingApprovals {
            count: u64::try_from(count).unwrap_or(0),
            oldest_opened_micros: oldest,
            opened_before,
        })
    }
}
