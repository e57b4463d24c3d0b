//! Sample agent runs for `evident serve --demo`: complete runs from the benchmark's
//! workload generator (evident-bench `generator`), scaled down so the demo loads in a
//! moment: a few agents, a few dozen people with several runs each (so a subject's
//! history and a DSAR have something to show), personal data in a fifth of the events.

use evident_bench::generator::{Params, Workload};
use serde_json::Value;

/// 2026-11-23T09:00:00Z: the demo's simulated morning.
const DEMO_START_UNIX_MS: i64 = 1_795_424_400_000;

/// `runs` complete agent runs (4–16 events each, about 10 on average), deterministic
/// for `seed`.
pub fn generate(seed: u64, runs: usize) -> Vec<Value> {
    let mut workload = Workload::new(Params {
        seed,
        agents: 6,
        subjects: 40,
        hot_subjects: 6,
        start_unix_ms: DEMO_START_UNIX_MS,
        runs_per_second: 1,
        ..Params::default()
    });
    (0..runs).flat_map(|_| workload.next_run()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_is_small_and_deterministic() {
        let events = super::generate(42, 40);
        assert!((300..=2_000).contains(&events.len()), "{}", events.len());
        assert_eq!(events, super::generate(42, 40));
        for event in &events {
            evident_core::event::validate_client_event(event).unwrap();
        }
    }
}
