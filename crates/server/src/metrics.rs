//! Counters served at `GET /metrics` in the Prometheus text format.

use std::sync::atomic::{AtomicU64, Ordering};

/// Process-wide counters. Gauges that live in the store (tree size) are read at scrape.
#[derive(Debug, Default)]
pub struct Metrics {
    events_appended: AtomicU64,
    commits: AtomicU64,
    failed_commits: AtomicU64,
    checkpoints_signed: AtomicU64,
}

impl Metrics {
    pub fn record_commit(&self, new_events: u64) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.events_appended
            .fetch_add(new_events, Ordering::Relaxed);
    }

    pub fn record_failed_commit(&self) {
        self.failed_commits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_checkpoint(&self) {
        self.checkpoints_signed.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with the tree gauges given by the caller.
    pub fn render(&self, tree_size: u64, checkpoint_size: u64) -> String {
        let counter = |name: &str, help: &str, value: u64| {
            format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n")
        };
        let gauge = |name: &str, help: &str, value: u64| {
            format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n")
        };
        [
            counter(
                "evident_events_appended_total",
                "Events appended to the log by this process.",
                self.events_appended.load(Ordering::Relaxed),
            ),
            counter(
                "evident_commits_total",
                "Group commits by this process.",
                self.commits.load(Ordering::Relaxed),
            ),
            counter(
                "evident_failed_commits_total",
                "Group commits that failed (nothing stored).",
                self.failed_commits.load(Ordering::Relaxed),
            ),
            counter(
                "evident_checkpoints_signed_total",
                "Checkpoints signed by this process.",
                self.checkpoints_signed.load(Ordering::Relaxed),
            ),
            gauge("evident_tree_size", "Entries in the log.", tree_size),
            gauge(
                "evident_checkpoint_size",
                "Tree size of the latest signed checkpoint.",
                checkpoint_size,
            ),
        ]
        .concat()
    }
}
