//! Ingest scenarios: concurrent clients POST request bodies — NDJSON cut from the
//! workload file to `/api/v1/events`, or OTLP protobuf made in advance to
//! `/v1/traces` — while a watcher polls `GET /checkpoint` to time how long an
//! acknowledged event waits for a signed checkpoint covering it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch, Mutex};

use super::report::{latency_json, Samples};
use super::server::{own_cpu_seconds, ServerProcess};
use super::workload::{bodies, Body, Part};

/// How often the watcher asks for the latest checkpoint. The lag it reports is
/// accurate to about this (plus the request's own time).
const CHECKPOINT_POLL: Duration = Duration::from_millis(10);

/// How long to wait after the last ack for a checkpoint covering it.
const CHECKPOINT_WAIT: Duration = Duration::from_secs(30);

/// Longest a request may take before the bench gives up on the server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// Retries of a request refused with 503 before the bench gives up.
const MAX_RETRIES: u32 = 100;

/// The server as the clients see it.
#[derive(Clone)]
pub struct Target {
    pub client: reqwest::Client,
    pub base: String,
    pub key: String,
}

impl Target {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// One HTTP client with a connection pool shared by every task (HTTP/1.1 keep-alive;
/// one connection per concurrent request).
///
/// # Errors
/// The TLS-less client could not be built.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")
}

/// How a scenario's requests are sent and answered.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `POST /api/v1/events`, NDJSON (or one JSON object), answered with acks.
    Events,
    /// `POST /v1/traces`, OTLP protobuf, answered with an `ExportTraceServiceResponse`.
    Otlp,
}

/// One ingest scenario.
pub struct Phase {
    pub name: &'static str,
    pub format: Format,
    pub clients: usize,
    /// Events (spans) per request.
    pub per_request: usize,
    /// Events (spans) in all.
    pub events: u64,
}

pub struct PhaseResult {
    pub json: Value,
    /// The log's size after the phase.
    pub tree_size: u64,
}

/// The part of an acknowledgement the bench reads.
#[derive(Deserialize)]
struct Ack {
    seq: u64,
}

/// What one client saw.
#[derive(Default)]
struct ClientLog {
    latencies: Vec<Duration>,
    /// (when the answer arrived, the tree size a checkpoint must reach to cover it)
    acks: Vec<(Instant, u64)>,
    retries: u64,
    requests: u64,
    events: u64,
    bytes: u64,
}

pub type Bodies = mpsc::Receiver<anyhow::Result<Body>>;

/// The bodies of `part` of the workload, cut by a reader thread.
///
/// # Errors
/// The workload file cannot be opened.
pub async fn file_bodies(
    part: &Part,
    per_request: usize,
    clients: usize,
) -> anyhow::Result<Bodies> {
    bodies(
        part,
        per_request,
        clients * if per_request == 1 { 4 } else { 2 },
    )
    .await
}

/// Bodies made in advance (OTLP), fed to the clients in order.
pub fn ready_bodies(ready: Vec<Body>) -> Bodies {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        for body in ready {
            if tx.send(Ok(body)).await.is_err() {
                return;
            }
        }
    });
    rx
}

/// Runs one ingest scenario to the end.
///
/// # Errors
/// A request failed (other than 503, which is retried), or the workload file could
/// not be read.
pub async fn run(
    target: &Target,
    source: Bodies,
    phase: &Phase,
    server: &ServerProcess,
) -> anyhow::Result<PhaseResult> {
    let source = Arc::new(Mutex::new(source));
    let bar = crate::progress_bar(phase.events, phase.name);
    let watcher = CheckpointWatcher::start(target.clone());
    let server_cpu = server.cpu_seconds();
    let server_writes = server.storage_write_bytes();
    let client_cpu = own_cpu_seconds();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(phase.clients);
    for _ in 0..phase.clients {
        let target = target.clone();
        let source = source.clone();
        let bar = bar.clone();
        let (format, single) = (phase.format, phase.per_request == 1);
        tasks.push(tokio::spawn(async move {
            client_loop(&target, &source, format, single, &bar).await
        }));
    }
    let mut logs = Vec::with_capacity(tasks.len());
    for task in tasks {
        logs.push(task.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    let server_cpu = delta(server.cpu_seconds(), server_cpu);
    let client_cpu = delta(own_cpu_seconds(), client_cpu);
    let server_writes = server
        .storage_write_bytes()
        .zip(server_writes)
        .map(|(after, before)| after.saturating_sub(before));
    bar.finish_and_clear();

    let mut all = ClientLog::default();
    for log in logs {
        all.latencies.extend(log.latencies);
        all.acks.extend(log.acks);
        all.retries += log.retries;
        all.requests += log.requests;
        all.events += log.events;
        all.bytes += log.bytes;
    }
    let tree_size = match phase.format {
        Format::Events => all.acks.iter().map(|(_, size)| *size).max().unwrap_or(0),
        Format::Otlp => log_size(target).await?,
    };
    let observed = watcher.finish(tree_size).await;
    let lags = checkpoint_lags(&all.acks, &observed);
    let uncovered = all.acks.len() - lags.len();
    let lag = match phase.format {
        Format::Events => latency_json(Samples::new(lags)),
        // OTLP answers carry no `seq`: nothing to time a checkpoint from.
        Format::Otlp => Value::Null,
    };
    Ok(PhaseResult {
        tree_size,
        json: json!({
            "clients": phase.clients,
            "events_per_request": phase.per_request,
            "events": all.events,
            "requests": all.requests,
            "bytes": all.bytes,
            "seconds": seconds,
            "events_per_second": all.events as f64 / seconds.max(1e-9),
            "megabytes_per_second": all.bytes as f64 / 1e6 / seconds.max(1e-9),
            "retries_503": all.retries,
            "latency_ms": latency_json(Samples::new(all.latencies)),
            "checkpoint_lag_ms": lag,
            "acks_without_checkpoint": uncovered,
            "server_cpu_seconds": server_cpu,
            "client_cpu_seconds": client_cpu,
            "server_cpu_us_per_event": server_cpu.map(|s| s * 1e6 / all.events.max(1) as f64),
            "storage_write_bytes": server_writes,
            "storage_write_bytes_per_event": server_writes.map(|b| b / all.events.max(1)),
        }),
    })
}

fn delta(after: Option<f64>, before: Option<f64>) -> Option<f64> {
    Some(after? - before?)
}

/// The log's tree size, from `GET /api/v1/log`.
pub(crate) async fn log_size(target: &Target) -> anyhow::Result<u64> {
    let answer: Value = target
        .client
        .get(target.url("/api/v1/log"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    answer["tree_size"]
        .as_u64()
        .context("GET /api/v1/log has no tree_size")
}

type Source = Mutex<Bodies>;

async fn client_loop(
    target: &Target,
    source: &Source,
    format: Format,
    single: bool,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<ClientLog> {
    let mut log = ClientLog::default();
    let (url, content_type) = match format {
        Format::Events if single => (target.url("/api/v1/events"), "application/json"),
        Format::Events => (target.url("/api/v1/events"), "application/x-ndjson"),
        Format::Otlp => (target.url("/v1/traces"), "application/x-protobuf"),
    };
    loop {
        let next = source.lock().await.recv().await;
        let Some(body) = next else {
            return Ok(log);
        };
        let body = body?;
        let mut attempt = 0;
        loop {
            let sent = Instant::now();
            let response = target
                .client
                .post(&url)
                .bearer_auth(&target.key)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body.bytes.clone())
                .send()
                .await
                .context("sending events")?;
            let status = response.status();
            let answer = response.bytes().await.context("reading the answer")?;
            let arrived = Instant::now();
            if status == reqwest::StatusCode::SERVICE_UNAVAILABLE && attempt < MAX_RETRIES {
                attempt += 1;
                log.retries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            anyhow::ensure!(
                status.is_success(),
                "the server answered {status}: {}",
                String::from_utf8_lossy(&answer)
            );
            match format {
                Format::Events => {
                    let acks: Vec<Ack> =
                        serde_json::from_slice(&answer).context("reading the acknowledgements")?;
                    anyhow::ensure!(
                        acks.len() as u64 == body.events,
                        "{} acknowledgements for {} events",
                        acks.len(),
                        body.events
                    );
                    let covering = acks.iter().map(|a| a.seq + 1).max().unwrap_or(0);
                    log.acks.push((arrived, covering));
                }
                Format::Otlp => check_otlp_answer(&answer)?,
            }
            log.latencies.push(arrived - sent);
            log.requests += 1;
            log.events += body.events;
            log.bytes += body.bytes.len() as u64;
            bar.inc(body.events);
            break;
        }
    }
}

/// An OTLP answer must not report rejected spans.
fn check_otlp_answer(answer: &[u8]) -> anyhow::Result<()> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
    use prost::Message;
    let response = ExportTraceServiceResponse::decode(answer)
        .context("reading the ExportTraceServiceResponse")?;
    if let Some(partial) = response.partial_success {
        anyhow::ensure!(
            partial.rejected_spans == 0,
            "the server rejected {} spans: {}",
            partial.rejected_spans,
            partial.error_message
        );
    }
    Ok(())
}

/// Polls `GET /checkpoint` and records when each new size was first seen.
struct CheckpointWatcher {
    stop: watch::Sender<u64>,
    task: tokio::task::JoinHandle<Vec<(Instant, u64)>>,
}

impl CheckpointWatcher {
    fn start(target: Target) -> Self {
        let (stop, mut until) = watch::channel(u64::MAX);
        let task = tokio::spawn(async move {
            let mut seen: Vec<(Instant, u64)> = Vec::new();
            let mut deadline: Option<Instant> = None;
            loop {
                if let Some(size) = latest_checkpoint_size(&target).await {
                    if seen.last().is_none_or(|(_, last)| size > *last) {
                        seen.push((Instant::now(), size));
                    }
                }
                let wanted = *until.borrow_and_update();
                if wanted != u64::MAX {
                    let covered = seen.last().is_some_and(|(_, size)| *size >= wanted);
                    let deadline =
                        *deadline.get_or_insert_with(|| Instant::now() + CHECKPOINT_WAIT);
                    if covered || Instant::now() >= deadline {
                        return seen;
                    }
                }
                tokio::time::sleep(CHECKPOINT_POLL).await;
            }
        });
        Self { stop, task }
    }

    /// Waits (bounded) for a checkpoint of at least `tree_size`, then stops.
    async fn finish(self, tree_size: u64) -> Vec<(Instant, u64)> {
        let _ = self.stop.send(tree_size);
        self.task.await.unwrap_or_default()
    }
}

async fn latest_checkpoint_size(target: &Target) -> Option<u64> {
    let response = target
        .client
        .get(target.url("/checkpoint"))
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    let note = response.text().await.ok()?;
    // C2SP tlog-checkpoint: origin, then the tree size, then the root hash.
    note.lines().nth(1)?.trim().parse().ok()
}

/// For each ack, the time until a checkpoint covering it was first seen (zero when
/// one was already there); acks no checkpoint was seen to cover are left out.
fn checkpoint_lags(acks: &[(Instant, u64)], seen: &[(Instant, u64)]) -> Vec<Duration> {
    acks.iter()
        .filter_map(|&(acked, size)| {
            let first = seen.partition_point(|(_, s)| *s < size);
            let (at, _) = seen.get(first)?;
            Some(at.saturating_duration_since(acked))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_time_to_the_first_checkpoint_covering_the_ack() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let seen = [(at(5), 10), (at(50), 30), (at(300), 100)];
        let acks = [(at(0), 10), (at(10), 11), (at(60), 100), (at(70), 101)];
        let lags = checkpoint_lags(&acks, &seen);
        assert_eq!(
            lags,
            [
                Duration::from_millis(5),
                Duration::from_millis(40),
                Duration::from_millis(240)
            ]
        );
    }
}
