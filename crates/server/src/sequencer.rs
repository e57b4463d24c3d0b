//! The sequencer: group commit for ingest.
//!
//! Every ingest request hands its prepared events to one background task through a
//! bounded queue. The task takes everything waiting (up to [`MAX_GROUP_EVENTS`]) and
//! appends it with one `Store::append`, so one durable commit (one fsync) covers all
//! the requests that arrived while the previous commit was running. Under load, groups
//! grow; idle, a lone request commits at once. Nothing waits on a timer.
//!
//! A full queue means the store cannot keep up: the request gets 503 with
//! `Retry-After` instead of waiting without bound.

use std::sync::Arc;

use evident_store::{AppendOutcome, AppendRequest, Store, StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::metrics::Metrics;

/// Most events one commit takes; bounds the size of one transaction.
pub const MAX_GROUP_EVENTS: usize = 50_000;

/// Requests that may wait for the sequencer before new ones are refused with 503.
pub const QUEUE_CAPACITY: usize = 4_096;

struct Job {
    request: AppendRequest,
    reply: oneshot::Sender<StoreResult<AppendOutcome>>,
}

/// The handle requests use to reach the sequencing task.
#[derive(Clone)]
pub struct Sequencer {
    queue: mpsc::Sender<Job>,
}

/// Why a request was not sequenced.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the ingest queue is full")]
    Overloaded,
    #[error("the sequencer has stopped")]
    Stopped,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Sequencer {
    /// Starts the sequencing task. `appended` is notified after every commit that
    /// grew the log (the checkpointer listens).
    pub fn start(store: Arc<dyn Store>, appended: Arc<Notify>, metrics: Arc<Metrics>) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(store, jobs, appended, metrics));
        Self { queue }
    }

    /// A handle with no task behind it: every submit answers
    /// [`SubmitError::Stopped`]. For applications that only read.
    pub fn closed() -> Self {
        let (queue, _jobs) = mpsc::channel(1);
        Self { queue }
    }

    /// Appends one request's events, durably, all or nothing.
    ///
    /// # Errors
    /// [`SubmitError::Overloaded`] when the queue is full; store errors as they are.
    pub async fn submit(&self, request: AppendRequest) -> Result<AppendOutcome, SubmitError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Job { request, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SubmitError::Overloaded,
                mpsc::error::TrySendError::Closed(_) => SubmitError::Stopped,
            })?;
        Ok(answer.await.map_err(|_| SubmitError::Stopped)??)
    }
}

async fn run(
    store: Arc<dyn Store>,
    mut jobs: mpsc::Receiver<Job>,
    appended: Arc<Notify>,
    metrics: Arc<Metrics>,
) {
    while let Some(first) = jobs.recv().await {
        let mut events = first.request.events.len();
        let mut group = vec![first];
        while events < MAX_GROUP_EVENTS {
            match jobs.try_recv() {
                Ok(job) => {
                    events += job.request.events.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        let (requests, replies): (Vec<_>, Vec<_>) =
            group.into_iter().map(|j| (j.request, j.reply)).unzip();
        match store.append(requests).await {
            Ok(outcomes) => {
                let new_events: usize = outcomes
                    .iter()
                    .map(|o| match o {
                        AppendOutcome::Appended(r) => r.iter().filter(|a| !a.is_dup).count(),
                        AppendOutcome::Conflict { .. } | AppendOutcome::Refused { .. } => 0,
                    })
                    .sum();
                metrics.record_commit(new_events as u64);
                if new_events > 0 {
                    appended.notify_one();
                }
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, requests = replies.len(), "group commit failed");
                metrics.record_failed_commit();
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
