//! A realistic, deterministic workload of AI-agent events: what `evident bench` sends
//! and what `evident serve --demo` loads.
//!
//! The mix follows how agents in production are instrumented:
//!
//! - **Runs.** One agent run is one trace of 4–16 client events forming a tree: an
//!   `agent_run` root carrying the inbound request, then model calls, tool calls and
//!   their results (a fifth of the model calls fan out into two parallel tool calls),
//!   retrievals, and a tail of `decision`, `guardrail`, `human_review` and
//!   `external_action` events. Every `parent_event_id` names an earlier event of the
//!   same run.
//! - **Agents.** About 20 agents (ten domains, two deployments each) with pinned
//!   models, model parameters, prompt versions (`name@version`), tool versions,
//!   retrieval indexes, policy snapshots and workflow versions; traffic is skewed
//!   towards a few busy agents.
//! - **Subjects.** About 10,000 people (`cust_NNNNNN`) with a skew: 30% of runs are
//!   about a hot set of 300, so a hot subject has ~10x the events of an average one;
//!   a tenth of the runs are follow-ups of a recent job (same job, case and subject).
//! - **Personal data** (e-mail addresses, phone numbers, Luhn-valid card numbers,
//!   mod-97-valid IBANs) in about 20% of events, in the payload text.
//! - **Sizes.** About 1.5 KB of JSON per event on average, with a tail of tool results
//!   of 4–16 KB (documents and statements a tool pulled).
//!
//! Deterministic: the same [`Params`] give the same events, byte for byte, on every
//! platform and with every version of the `rand` crate. The generator brings its own
//! small PRNG (xoshiro256**) and uses only integer and basic floating-point
//! arithmetic (no `ln`/`exp`, whose last bits vary between math libraries).
//!
//! Pure: no clock, no I/O. Time is simulated from [`Params::start_unix_ms`].

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use serde_json::Value;

use self::rng::Rng;
use self::run::{generate_run, Job, RunState};
use self::text::capitalize;
use self::world::{make_agent, Agent, DOMAINS, ENVIRONMENTS, FIRST, LAST};

mod rng;
mod run;
mod text;
mod world;

/// 2026-01-01T00:00:00Z, the default start of simulated time.
pub const DEFAULT_START_UNIX_MS: i64 = 1_767_225_600_000;

/// The knobs of a workload. [`Params::default`] is the benchmark's mix (BENCHMARKS.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Same seed, same events.
    pub seed: u64,
    /// How many agents (deployments) emit runs; at most [`MAX_AGENTS`].
    pub agents: usize,
    /// How many distinct people the runs are about.
    pub subjects: usize,
    /// How many of them are hot (regular customers with many runs).
    pub hot_subjects: usize,
    /// Share of runs about a hot subject.
    pub hot_share: f64,
    /// Share of events with personal data in their payload text.
    pub pii_share: f64,
    /// Share of runs that follow up a recent job (same job, case, subject).
    pub follow_up_share: f64,
    /// Simulated time of the first run, ms since the epoch.
    pub start_unix_ms: i64,
    /// Mean number of runs starting per simulated second (runs overlap in time).
    pub runs_per_second: u32,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            seed: 1,
            agents: 20,
            subjects: 10_000,
            hot_subjects: 300,
            hot_share: 0.3,
            pii_share: 0.2,
            follow_up_share: 0.1,
            start_unix_ms: DEFAULT_START_UNIX_MS,
            runs_per_second: 20,
        }
    }
}

/// The most agents a workload has: every domain (refunds, claims, KYC, ...) times
/// [`DEPLOYMENTS`].
pub const MAX_AGENTS: usize = DOMAINS.len() * DEPLOYMENTS;

/// Deployments per domain (e.g. a stable and a canary version).
const DEPLOYMENTS: usize = 4;

/// Fewest and most events in one run.
pub const MIN_RUN_EVENTS: usize = 4;
pub const MAX_RUN_EVENTS: usize = 16;

/// Runs whose job later runs can follow up (a retry, a customer's reply).
const RECENT_JOBS: usize = 500;

/// A generator of agent runs. Use [`Workload::next_run`] for whole runs one after the
/// other, or [`Workload::events`] for the events of overlapping runs in timestamp
/// order, as a log receives them.
pub struct Workload {
    params: Params,
    rng: Rng,
    agents: Vec<Agent>,
    total_weight: f64,
    recent_jobs: Vec<Job>,
    next_case: u64,
    next_start_ms: i64,
}

impl Workload {
    pub fn new(params: Params) -> Self {
        let mut rng = Rng::new(params.seed);
        let count = params.agents.clamp(1, MAX_AGENTS);
        let agents: Vec<Agent> = (0..count).map(|i| make_agent(&mut rng, i)).collect();
        let total_weight = agents.iter().map(|a| a.weight).sum();
        let next_start_ms = params.start_unix_ms;
        Self {
            params,
            rng,
            agents,
            total_weight,
            recent_jobs: Vec::new(),
            next_case: 100_000,
            next_start_ms,
        }
    }

    /// The agent ids this workload uses.
    pub fn agent_ids(&self) -> Vec<&str> {
        self.agents.iter().map(|a| a.id.as_str()).collect()
    }

    /// The next run: its events in timestamp order, the root first.
    pub fn next_run(&mut self) -> Vec<Value> {
        let mut events = self.run_with_times();
        events.sort_by_key(|(ms, _)| *ms);
        events.into_iter().map(|(_, e)| e).collect()
    }

    /// An endless stream of the events of overlapping runs, in timestamp order.
    pub fn events(self) -> Events {
        Events {
            workload: self,
            pending: BinaryHeap::new(),
            counter: 0,
        }
    }

    /// One run with each event's time; the clock moves to the next run's start.
    fn run_with_times(&mut self) -> Vec<(i64, Value)> {
        let start = self.next_start_ms;
        let mean_gap = 1000 / i64::from(self.params.runs_per_second.max(1));
        self.next_start_ms +=
            1 + i64::try_from(self.rng.below(usize::try_from(2 * mean_gap).unwrap_or(1)))
                .unwrap_or(0);
        let agent = self.pick_agent();
        let job = self.pick_job(start);
        let rng = &mut self.rng;
        let (first, last) = (*rng.pick(FIRST), *rng.pick(LAST));
        let run = RunState {
            agent: &self.agents[agent],
            trace_id: rng.hex(32),
            run_id: format!("run_{}", rng.ulid(start)),
            workflow_run_id: format!("wfr_{}", rng.ulid(start)),
            environment: ENVIRONMENTS[rng.below(ENVIRONMENTS.len())],
            correlation_ids: vec![format!(
                "{}-{}",
                rng.pick(&["ticket", "order", "claim", "txn", "req"]),
                rng.range(10_000, 9_999_999)
            )],
            customer: format!("{} {}", capitalize(first), capitalize(last)),
            job,
            step: 0,
            now_ms: start,
            events: Vec::new(),
        };
        generate_run(rng, &self.params, run)
    }

    fn pick_agent(&mut self) -> usize {
        let mut target = self.rng.unit() * self.total_weight;
        for (i, agent) in self.agents.iter().enumerate() {
            if target < agent.weight {
                return i;
            }
            target -= agent.weight;
        }
        self.agents.len() - 1
    }

    fn pick_job(&mut self, start_ms: i64) -> Job {
        if !self.recent_jobs.is_empty() && self.rng.chance(self.params.follow_up_share) {
            return self.rng.pick(&self.recent_jobs).clone();
        }
        self.next_case += 1;
        let subjects = self.params.subjects.max(1);
        let hot = self.params.hot_subjects.clamp(1, subjects);
        let number = if self.rng.chance(self.params.hot_share) {
            // Spread the hot set over the id space so it is not just the lowest ids.
            self.rng.below(hot) * (subjects / hot)
        } else {
            self.rng.below(subjects)
        };
        let job = Job {
            job_id: format!("job_{}", self.rng.ulid(start_ms)),
            case_id: format!("case_{:07}", self.next_case),
            subject: format!("cust_{number:06}"),
        };
        if self.recent_jobs.len() == RECENT_JOBS {
            let slot = self.rng.below(RECENT_JOBS);
            self.recent_jobs[slot] = job.clone();
        } else {
            self.recent_jobs.push(job.clone());
        }
        job
    }
}

/// The events of overlapping runs in timestamp order (ties in generation order).
/// Endless: take as many as needed; the runs still open at the cut are incomplete.
pub struct Events {
    workload: Workload,
    pending: BinaryHeap<Pending>,
    counter: u64,
}

struct Pending {
    at_ms: i64,
    order: u64,
    event: Value,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    /// Reversed, so the max-heap pops the earliest event.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_ms, other.order).cmp(&(self.at_ms, self.order))
    }
}

impl Iterator for Events {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        // Start runs until the next one would begin after the earliest pending event:
        // only then is that event the earliest there will ever be.
        while self
            .pending
            .peek()
            .is_none_or(|p| self.workload.next_start_ms <= p.at_ms)
        {
            for (at_ms, event) in self.workload.run_with_times() {
                self.counter += 1;
                self.pending.push(Pending {
                    at_ms,
                    order: self.counter,
                    event,
                });
            }
        }
        self.pending.pop().map(|p| p.event)
    }
}

/// The first `n` events of the default mix with `seed`, in timestamp order.
pub fn generate(seed: u64, n: usize) -> Vec<Value> {
    Workload::new(Params {
        seed,
        ..Params::default()
    })
    .events()
    .take(n)
    .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use evident_core::event::{validate_client_event, CLIENT_EVENT_TYPES};

    fn sample(n: usize) -> Vec<Value> {
        generate(7, n)
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_events() {
        let a: Vec<String> = generate(3, 2_000).iter().map(Value::to_string).collect();
        let b: Vec<String> = generate(3, 2_000).iter().map(Value::to_string).collect();
        let c: Vec<String> = generate(4, 2_000).iter().map(Value::to_string).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn every_event_is_a_valid_client_event() {
        for (i, event) in sample(5_000).iter().enumerate() {
            validate_client_event(event).unwrap_or_else(|e| panic!("event {i}: {e}: {event}"));
            let kind = event["event_type"].as_str().unwrap();
            assert!(CLIENT_EVENT_TYPES.contains(&kind));
        }
    }

    #[test]
    fn runs_are_trees_of_4_to_16_events() {
        let mut workload = Workload::new(Params::default());
        for _ in 0..500 {
            let run = workload.next_run();
            assert!(
                (MIN_RUN_EVENTS..=MAX_RUN_EVENTS).contains(&run.len()),
                "{}",
                run.len()
            );
            let trace = run[0]["trace_id"].as_str().unwrap();
            assert_eq!(run[0]["parent_event_id"], Value::Null);
            assert_eq!(run[0]["event_type"], "agent_run");
            let mut seen = HashSet::new();
            for event in &run {
                assert_eq!(event["trace_id"], trace);
                if let Some(parent) = event["parent_event_id"].as_str() {
                    assert!(
                        seen.contains(parent),
                        "parent {parent} not earlier in the run"
                    );
                }
                assert!(seen.insert(event["event_id"].as_str().unwrap().to_owned()));
            }
        }
    }

    #[test]
    fn the_mix_has_every_kind_of_step() {
        let mut workload = Workload::new(Params::default());
        let kinds: HashSet<String> = (0..300)
            .flat_map(|_| workload.next_run())
            .map(|e| e["event_type"].as_str().unwrap().to_owned())
            .collect();
        for kind in [
            "agent_run",
            "model_call",
            "tool_call",
            "tool_result",
            "retrieval",
            "decision",
            "guardrail",
            "human_review",
            "external_action",
        ] {
            assert!(kinds.contains(kind), "no {kind}");
        }
    }

    #[test]
    fn sizes_average_about_1_5_kb_with_a_tail() {
        let sizes: Vec<usize> = sample(10_000).iter().map(|e| e.to_string().len()).collect();
        let mean = sizes.iter().sum::<usize>() / sizes.len();
        assert!((1_300..=1_700).contains(&mean), "mean {mean}");
        let tail = sizes.iter().filter(|&&s| s >= 4_000).count();
        assert!(tail > 10, "only {tail} events of 4 KB or more");
        assert!(
            sizes.iter().all(|&s| s <= 18_000),
            "max {:?}",
            sizes.iter().max()
        );
    }

    #[test]
    fn about_a_fifth_of_events_carry_personal_data() {
        let events = sample(10_000);
        let with_pii = events
            .iter()
            .map(Value::to_string)
            .filter(|t| {
                [
                    "Contact: ",
                    "Call back on +",
                    "Card on file ",
                    "Refund to IBAN ",
                ]
                .iter()
                .any(|m| t.contains(m))
            })
            .count();
        let share = with_pii as f64 / events.len() as f64;
        assert!((0.17..=0.23).contains(&share), "share {share}");
    }

    #[test]
    fn subjects_are_skewed_towards_a_hot_set() {
        let events = sample(20_000);
        let mut per_subject: HashMap<&str, usize> = HashMap::new();
        for event in &events {
            *per_subject
                .entry(event["context"]["subject"].as_str().unwrap())
                .or_default() += 1;
        }
        let mut counts: Vec<usize> = per_subject.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top: usize = counts.iter().take(300).sum();
        // 300 of 10,000 subjects (3%) hold about a third of the events.
        assert!(
            top * 4 > events.len(),
            "top 300 hold {top} of {}",
            events.len()
        );
        assert!(per_subject.len() > 1_000, "{} subjects", per_subject.len());
    }

    #[test]
    fn about_twenty_agents_with_pinned_snapshots() {
        let events = sample(20_000);
        let mut models: HashMap<&str, HashSet<&str>> = HashMap::new();
        for event in events.iter().filter(|e| e["actor"]["type"] == "agent") {
            models
                .entry(event["actor"]["id"].as_str().unwrap())
                .or_default()
                .insert(event["snapshot"]["prompt_version"].as_str().unwrap());
        }
        assert_eq!(models.len(), 20);
        assert!(models.values().all(|prompts| prompts.len() == 1));
    }

    #[test]
    fn the_stream_is_in_timestamp_order() {
        let events = sample(10_000);
        let times: Vec<&str> = events
            .iter()
            .map(|e| e["timestamp"].as_str().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }
}
