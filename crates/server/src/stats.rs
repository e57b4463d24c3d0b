//! The console dashboard's aggregates: events per hour by agent, errors, escalations,
//! and the approvals waiting with their ages.
//!
//! Read from the store's hourly rollup and the approvals' state index
//! (`evident_store::stats`), never from the log: a window costs one row per hour,
//! agent and event type, whatever the log holds. The rollup follows the text index, so
//! answers say how far it reached (`indexed_through`).
//!
//! Out of scope: charts (the console draws them), rates the APIs cannot state.

use std::collections::BTreeMap;

use evident_core::event::SERVER_EVENT_TYPES;
use evident_store::stats::{HourCount, HOUR_MICROS};
use evident_store::StoreError;

use crate::state::App;

/// The longest window one answer covers: a week of hours.
pub const MAX_HOURS: i64 = 7 * 24;

/// The window when none is asked for: the last day.
pub const DEFAULT_HOURS: i64 = 24;

/// Agents charted one by one; the rest are summed as [`OTHER_AGENTS`], so an answer
/// stays bounded however many agents the log holds.
pub const MAX_AGENTS: usize = 8;

/// The name the agents beyond [`MAX_AGENTS`] are summed under.
pub const OTHER_AGENTS: &str = "(other agents)";

/// The event type counted as an error.
const ERROR_TYPE: &str = "error";

/// The server event that a policy requiring a human writes: an escalation.
const ESCALATION_TYPE: &str = "approval_request";

/// What a caller may get wrong, or the store failing.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("`to` must be after `from`")]
    EmptyWindow,
    #[error("the window is longer than {MAX_HOURS} hours")]
    WindowTooLong,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A window of whole hours, `[from, to)`, µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_micros: i64,
    pub to_micros: i64,
}

impl Window {
    /// The window from the hour of `from` (floored) to the end of the hour of `to`
    /// (the hour of `to` included), or the last [`DEFAULT_HOURS`] up to now's hour.
    ///
    /// # Errors
    /// An empty or too long window.
    pub fn of(from: Option<i64>, to: Option<i64>, now_micros: i64) -> Result<Self, StatsError> {
        let to_micros = floor_hour(to.unwrap_or(now_micros)) + HOUR_MICROS;
        let from_micros = from.map_or(to_micros - DEFAULT_HOURS * HOUR_MICROS, floor_hour);
        if from_micros >= to_micros {
            return Err(StatsError::EmptyWindow);
        }
        if (to_micros - from_micros) / HOUR_MICROS > MAX_HOURS {
            return Err(StatsError::WindowTooLong);
        }
        Ok(Self {
            from_micros,
            to_micros,
        })
    }

    fn hours(&self) -> usize {
        usize::try_from((self.to_micros - self.from_micros) / HOUR_MICROS).unwrap_or(0)
    }
}

fn floor_hour(micros: i64) -> i64 {
    micros - micros.rem_euclid(HOUR_MICROS)
}

/// Per-hour series over a window, each as long as `hours`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub window: Window,
    /// Each hour's first µs.
    pub hours: Vec<i64>,
    /// Client events per agent (the busiest [`MAX_AGENTS`], then the rest summed).
    pub agents: Vec<(String, Vec<u64>)>,
    /// All client events.
    pub events: Vec<u64>,
    /// Events of type `error`.
    pub errors: Vec<u64>,
    /// `approval_request` events: decisions that needed a human.
    pub escalations: Vec<u64>,
    /// How many entries the rollup covers.
    pub indexed_through: u64,
}

/// The activity of a window.
///
/// # Errors
/// Store errors.
pub async fn activity(app: &App, window: Window) -> Result<Activity, StatsError> {
    let indexed_through = app.store.text_indexed_through().await?;
    let rows = app
        .store
        .activity(window.from_micros, window.to_micros)
        .await?;
    Ok(pivot(window, &rows, indexed_through))
}

/// Rollup rows → series (pure).
pub fn pivot(window: Window, rows: &[HourCount], indexed_through: u64) -> Activity {
    let hours = window.hours();
    let slot = |hour: i64| usize::try_from((hour - window.from_micros) / HOUR_MICROS).ok();
    let mut per_agent: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut events = vec![0; hours];
    let mut errors = vec![0; hours];
    let mut escalations = vec![0; hours];
    for row in rows {
        let Some(i) = slot(row.hour_micros).filter(|&i| i < hours) else {
            continue;
        };
        if row.event_type == ESCALATION_TYPE {
            escalations[i] += row.events;
        }
        if SERVER_EVENT_TYPES.contains(&row.event_type.as_str()) {
            continue;
        }
        if row.event_type == ERROR_TYPE {
            errors[i] += row.events;
        }
        events[i] += row.events;
        per_agent
            .entry(&row.agent)
            .or_insert_with(|| vec![0; hours])[i] += row.events;
    }
    let mut agents: Vec<(String, Vec<u64>)> = per_agent
        .into_iter()
        .map(|(agent, series)| (agent.to_owned(), series))
        .collect();
    // Busiest first; ties by name, so the answer is stable.
    agents.sort_by(|a, b| {
        let total = |s: &[u64]| s.iter().sum::<u64>();
        total(&b.1).cmp(&total(&a.1)).then_with(|| a.0.cmp(&b.0))
    });
    if agents.len() > MAX_AGENTS {
        let rest = agents.split_off(MAX_AGENTS - 1);
        let mut other = vec![0; hours];
        for (_, series) in rest {
            for (sum, n) in other.iter_mut().zip(series) {
                *sum += n;
            }
        }
        agents.push((OTHER_AGENTS.to_owned(), other));
    }
    Activity {
        window,
        hours: (0..hours as i64)
            .map(|i| window.from_micros + i * HOUR_MICROS)
            .collect(),
        agents,
        events,
        errors,
        escalations,
        indexed_through,
    }
}

/// Age bands of the waiting approvals, in seconds: opened less than 1 h ago, 1 to
/// 4 h, 4 to 24 h, more than a day.
pub const AGE_BANDS_SECS: [u64; 3] = [3_600, 4 * 3_600, 24 * 3_600];

/// The approvals waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub count: u64,
    pub oldest_opened_micros: Option<i64>,
    /// How many fall in each band: `[< 1 h, 1-4 h, 4-24 h, > 24 h]`.
    pub bands: [u64; 4],
}

/// The open approvals and their ages at `now_micros`.
///
/// # Errors
/// Store errors.
pub async fn waiting(app: &App, now_micros: i64) -> Result<Waiting, StatsError> {
    let edges: Vec<i64> = AGE_BANDS_SECS
        .iter()
        .map(|&secs| now_micros - i64::try_from(secs).unwrap_or(0) * 1_000_000)
        .collect();
    let found = app.store.waiting_approvals(&edges).await?;
    // opened_before[i] = older than band edge i; nested, so bands are differences.
    let older = |i: usize| found.opened_before.get(i).copied().unwrap_or(0);
    let bands = [
        found.count.saturating_sub(older(0)),
        older(0).saturating_sub(older(1)),
        older(1).saturating_sub(older(2)),
        older(2),
    ];
    Ok(Waiting {
        count: found.count,
        oldest_opened_micros: found.oldest_opened_micros,
        bands,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(hour: i64, agent: &str, kind: &str, events: u64) -> HourCount {
        HourCount {
            hour_micros: hour * HOUR_MICROS,
            agent: agent.into(),
            event_type: kind.into(),
            events,
        }
    }

    #[test]
    fn a_window_is_whole_hours_and_bounded() {
        let now = 10 * HOUR_MICROS + 5;
        let w = Window::of(None, None, now).unwrap();
        assert_eq!(w.to_micros, 11 * HOUR_MICROS);
        assert_eq!(w.hours(), 24);
        assert!(matches!(
            Window::of(Some(now), Some(now - HOUR_MICROS), now),
            Err(StatsError::EmptyWindow)
        ));
        assert!(matches!(
            Window::of(Some(0), Some(MAX_HOURS * HOUR_MICROS), now),
            Err(StatsError::WindowTooLong)
        ));
        assert_eq!(
            Window::of(Some(0), Some(MAX_HOURS * HOUR_MICROS - 1), now)
                .unwrap()
                .hours(),
            168
        );
    }

    #[test]
    fn pivot_separates_agents_errors_and_escalations() {
        let window = Window {
            from_micros: 0,
            to_micros: 3 * HOUR_MICROS,
        };
        let rows = [
            row(0, "a", "tool_call", 2),
            row(0, "a", "error", 1),
            row(1, "b", "model_call", 5),
            row(2, "evident", "approval_request", 3),
            row(2, "evident", "policy_decision", 9),
            row(2, "evident", "access_log_checkpoint", 4),
            row(7, "a", "tool_call", 100), // outside: ignored
        ];
        let a = pivot(window, &rows, 42);
        assert_eq!(a.events, vec![3, 5, 0]);
        assert_eq!(a.errors, vec![1, 0, 0]);
        assert_eq!(a.escalations, vec![0, 0, 3]);
        assert_eq!(
            a.agents,
            vec![("b".into(), vec![0, 5, 0]), ("a".into(), vec![3, 0, 0])]
        );
        assert_eq!(a.indexed_through, 42);
    }

    #[test]
    fn agents_beyond_the_bound_are_summed() {
        let window = Window {
            from_micros: 0,
            to_micros: HOUR_MICROS,
        };
        let rows: Vec<HourCount> = (0..20)
            .map(|i| row(0, &format!("agent-{i:02}"), "step", 100 - i))
            .collect();
        let a = pivot(window, &rows, 0);
        assert_eq!(a.agents.len(), MAX_AGENTS);
        assert_eq!(a.agents[0].0, "agent-00");
        let (name, other) = a.agents.last().unwrap();
        assert_eq!(name, OTHER_AGENTS);
        let summed: u64 = (MAX_AGENTS as u64 - 1..20).map(|i| 100 - i).sum();
        assert_eq!(other, &vec![summed]);
    }
}
