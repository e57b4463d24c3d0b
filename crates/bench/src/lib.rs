//! evident-bench: `evident bench`, the benchmark (BENCHMARKS.md), and the workload
//! generator it sends (also what `evident serve --demo` loads, [`generator`]).
//!
//! Out of scope: the product's own code paths. The bench drives the real `evident`
//! binary from outside (HTTP, the `verify` command) and reads the embedded store's
//! sizes through `evident-store`; it never talks SQL itself. Arrows: cli → bench →
//! store → core.
//!
//! It measures the real thing: a `evident serve` child process of this same binary on
//! a fresh data dir, driven over loopback HTTP by concurrent client tasks, then the
//! real `evident verify` on the data the server left. In order:
//!
//! 1. **Workload**: the built-in generator ([`generator`], deterministic for
//!    `--seed`) writes zstd-compressed NDJSON to temporary files, or `--input FILE` is
//!    used as is (any NDJSON file of events, e.g. another generator's, so other systems can be measured
//!    on the same bytes). Reading request bodies from files keeps generation off the
//!    clock.
//! 2. **Ingest**: `batch` sends most events in `--batch`-event NDJSON requests from
//!    `--clients` clients; `single` sends the last `--single-events` one per request
//!    from `--single-clients` clients. Each reports events/s, ack latency and
//!    checkpoint lag (ack → a signed checkpoint covering the event, seen by polling
//!    `GET /checkpoint`).
//! 3. **Queries** at the loaded size: event by id, trace, job, all events of a subject
//!    (DSAR, every page), full text; p50/p99 over `--queries` each, one at a time.
//! 4. **Server**: peak RSS (`VmHWM`) and CPU time, then SIGTERM.
//! 5. **Verify**: `evident verify` over the data dir, events/s.
//! 6. **Disk**: bytes per event, by SQLite table (`dbstat`).
//!
//! `--database-url` (the global flag) is passed to `serve` and `verify`, so the same
//! bench measures PostgreSQL; without it, the embedded store in a fresh data dir.
//!
//! The table goes to stdout; `--out FILE` writes every figure as JSON. Figures from a
//! debug build say so: they are not the product's.

mod decide;
mod disk;
pub mod generator;
mod ingest;
mod otlp;
mod queries;
mod report;
mod retention;
mod server;
mod workload;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use serde_json::{json, Value};

use self::report::Report;
use self::server::ServerProcess;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Events to load: generated, or the first N lines of --input (default: all of it).
    #[arg(long)]
    pub events: Option<u64>,
    /// Of those, how many the single-event scenario sends, one per request (default:
    /// a fifth, at most 20,000).
    #[arg(long)]
    pub single_events: Option<u64>,
    /// Concurrent clients of the batched scenario.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Events per request of the batched scenario.
    #[arg(long, default_value_t = 1_000)]
    pub batch: usize,
    /// Concurrent clients of the single-event scenario.
    #[arg(long, default_value_t = 64)]
    pub single_clients: usize,
    /// Spans the OTLP scenario sends (default: a fifth of --events, at most 50,000),
    /// in requests of --batch spans from --clients clients.
    #[arg(long)]
    pub otlp_spans: Option<u64>,
    /// Seconds the decide scenario runs.
    #[arg(long, default_value_t = 30)]
    pub decide_seconds: u64,
    /// Concurrent clients of the decide scenario.
    #[arg(long, default_value_t = 16)]
    pub decide_clients: usize,
    /// Active rules the decide scenario publishes first.
    #[arg(long, default_value_t = 100)]
    pub decide_rules: usize,
    /// Queries of each kind (event, trace, job, subject, text).
    #[arg(long, default_value_t = 1_000)]
    pub queries: usize,
    /// Scenarios to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "batch,single,otlp,query,verify,disk"
    )]
    pub scenarios: Vec<Scenario>,
    /// NDJSON events to send instead of generated ones (any NDJSON file of events);
    /// zstd-compressed if the name ends in `.zst`.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Seed of the generated workload (and of the choice of queries).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Keep the server's data dir here (must not exist or be empty) instead of a
    /// temporary one.
    #[arg(long)]
    pub keep_data: Option<PathBuf>,
    /// Write every figure as JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A config file for the server under test (e.g. PII dictionaries, field rules),
    /// as `evident serve --config` reads it; the store and listen addresses the bench
    /// passes as flags take precedence over the file's.
    #[arg(long)]
    pub server_config: Option<PathBuf>,
    /// Only write the generated workload as NDJSON to this file (zstd-compressed if
    /// the name ends in `.zst`), and exit.
    #[arg(long)]
    pub emit_workload: Option<PathBuf>,
}

/// What `--scenarios` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Batched ingest: --batch events per request, --clients clients.
    Batch,
    /// Single-event requests from --single-clients clients.
    Single,
    /// OTLP/HTTP protobuf ingest (when the server has it).
    Otlp,
    /// Event, trace, job, subject and full-text queries at the loaded size.
    Query,
    /// `evident verify` over the data the server left.
    Verify,
    /// Bytes on disk per event, by table.
    Disk,
    /// `POST /api/v1/decide` from --decide-clients clients against --decide-rules
    /// active rules, for --decide-seconds, with no other load.
    Decide,
    /// Instead of `batch`: the batched events in three parts, and `evident retention
    /// run` purging the oldest tenth while the last part is ingested.
    Retention,
}

/// Most events the single-event scenario takes by default.
const DEFAULT_SINGLE_EVENTS: u64 = 20_000;

/// Most spans the OTLP scenario sends by default.
const DEFAULT_OTLP_SPANS: u64 = 50_000;

/// The benchmarked data did not pass `evident verify`: a failed check, not an error
/// of the bench.
#[derive(Debug, thiserror::Error)]
#[error("evident verify failed on the benchmarked data")]
pub struct VerifyFailed;

/// Runs the benchmark: `database_url` is the global `--database-url` (PostgreSQL
/// instead of a fresh embedded store).
///
/// # Errors
/// [`VerifyFailed`] when the data does not verify; anything that kept the bench from
/// running.
pub async fn run(database_url: Option<&str>, args: &Args) -> anyhow::Result<()> {
    if let Some(path) = &args.emit_workload {
        return emit(args, path).await;
    }
    let has = |s: Scenario| args.scenarios.contains(&s);
    anyhow::ensure!(
        has(Scenario::Batch)
            || has(Scenario::Single)
            || has(Scenario::Otlp)
            || has(Scenario::Decide)
            || has(Scenario::Retention),
        "--scenarios needs an ingest scenario (batch, single, otlp or retention) or decide to load the server"
    );
    anyhow::ensure!(
        args.decide_clients >= 1 && args.decide_rules >= 1,
        "--decide-clients and --decide-rules must be at least 1"
    );
    anyhow::ensure!(args.batch >= 1, "--batch must be at least 1");
    anyhow::ensure!(
        args.clients >= 1 && args.single_clients >= 1,
        "--clients and --single-clients must be at least 1"
    );
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build; its figures are not the product's (use `cargo build --release`)");
    }
    let work = tempfile::Builder::new()
        .prefix("evident-bench-")
        .tempdir()
        .context("creating a temporary directory")?;
    let data = match &args.keep_data {
        Some(dir) => {
            let empty = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
            anyhow::ensure!(
                empty,
                "--keep-data {} must not exist or be empty: the bench measures a fresh store",
                dir.display()
            );
            dir.clone()
        }
        None => work.path().join("data"),
    };

    let mut report = Report::new(args, database_url.is_some());
    let wanted_single = if has(Scenario::Single) {
        args.single_events
    } else {
        Some(0)
    };
    let prepared = workload::prepare(
        args.input.as_deref(),
        args.events,
        args.seed,
        work.path(),
        wanted_single,
    )
    .await?;
    report.set("workload", prepared.describe());
    if let Some(config) = &args.server_config {
        report.set("server_config", json!(config.display().to_string()));
    }

    let server = ServerProcess::start(
        &data,
        database_url,
        args.server_config.as_deref(),
        &work.path().join("server.log"),
    )
    .await?;
    let store = StoreAt {
        data: &data,
        database_url,
        work: work.path(),
    };
    let outcome = drive(args, &prepared, &server, &store, &mut report).await;
    report.set(
        "server",
        json!({
            "peak_rss_bytes": server.peak_rss_bytes(),
            "cpu_seconds": server.cpu_seconds(),
        }),
    );
    let stopped = server.stop().await;
    outcome?;
    stopped?;

    let loaded = report.loaded_events();
    if has(Scenario::Verify) {
        report.set("verify", verify(&data, database_url, loaded).await?);
    }
    if has(Scenario::Disk) {
        let disk = if database_url.is_some() {
            json!({"skipped": "the store is a database, not a data dir"})
        } else {
            disk::measure(&data, loaded)?
        };
        report.set("disk", disk);
    }
    if args.keep_data.is_some() {
        report.set("data_dir", json!(data.display().to_string()));
    }
    report.finish(args.out.as_deref())?;
    if report.verify_failed() {
        return Err(VerifyFailed.into());
    }
    Ok(())
}

/// Where the server under test keeps its store, for commands run beside it.
struct StoreAt<'a> {
    data: &'a std::path::Path,
    database_url: Option<&'a str>,
    work: &'a std::path::Path,
}

/// Everything that talks to the running server.
async fn drive(
    args: &Args,
    prepared: &workload::Prepared,
    server: &ServerProcess,
    store: &StoreAt<'_>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let has = |s: Scenario| args.scenarios.contains(&s);
    let target = ingest::Target {
        client: ingest::http_client()?,
        base: server.base.clone(),
        key: server.admin_key.clone(),
    };
    let mut loaded = 0u64;
    // Alone on the server: before any ingest, so nothing else loads it.
    if has(Scenario::Decide) {
        let phase = decide::DecidePhase {
            clients: args.decide_clients,
            rules: args.decide_rules,
            duration: std::time::Duration::from_secs(args.decide_seconds.max(1)),
        };
        let result = decide::run(&target, &phase).await?;
        loaded = result["decisions"].as_u64().unwrap_or(0) + 1;
        report.set("decide", result);
    }
    if has(Scenario::Retention) {
        let phase = retention::RetentionPhase {
            part: &prepared.batch,
            clients: args.clients,
            per_request: args.batch,
            data: store.data,
            database_url: store.database_url,
            work: store.work,
        };
        let (result, tree_size) = retention::run(&target, server, &phase).await?;
        loaded = tree_size;
        report.set("retention", result);
    } else if has(Scenario::Batch) && prepared.batch.events > 0 {
        let phase = ingest::Phase {
            name: "batched ingest",
            format: ingest::Format::Events,
            clients: args.clients,
            per_request: args.batch,
            events: prepared.batch.events,
        };
        let source = ingest::file_bodies(&prepared.batch, args.batch, args.clients).await?;
        let result = ingest::run(&target, source, &phase, server).await?;
        loaded = result.tree_size;
        report.set("batch_ingest", result.json);
    }
    if has(Scenario::Single) && prepared.single.events > 0 {
        let phase = ingest::Phase {
            name: "single-event requests",
            format: ingest::Format::Events,
            clients: args.single_clients,
            per_request: 1,
            events: prepared.single.events,
        };
        let source = ingest::file_bodies(&prepared.single, 1, args.single_clients).await?;
        let result = ingest::run(&target, source, &phase, server).await?;
        loaded = result.tree_size;
        report.set("single_ingest", result.json);
    }
    if has(Scenario::Otlp) {
        let spans = args
            .otlp_spans
            .unwrap_or((prepared.events() / 5).min(DEFAULT_OTLP_SPANS))
            .max(1);
        let (seed, batch) = (args.seed, args.batch);
        let (bodies, encode_seconds) =
            tokio::task::spawn_blocking(move || otlp::requests(seed, spans, batch)).await?;
        let phase = ingest::Phase {
            name: "OTLP protobuf ingest",
            format: ingest::Format::Otlp,
            clients: args.clients,
            per_request: args.batch,
            events: spans,
        };
        let result = ingest::run(&target, ingest::ready_bodies(bodies), &phase, server).await?;
        loaded = result.tree_size;
        let mut json = result.json;
        json["encode_seconds"] = json!(encode_seconds);
        report.set("otlp_ingest", json);
    }
    report.set_loaded_events(loaded);
    if has(Scenario::Query) {
        let started = Instant::now();
        let caught_up = queries::wait_for_index(&target, loaded).await?;
        report.set(
            "search_catch_up_seconds",
            json!(caught_up.then(|| started.elapsed().as_secs_f64())),
        );
        let results = queries::run(&target, &prepared.targets, args.queries, args.seed).await?;
        report.set("queries", results);
    }
    Ok(())
}

/// Runs the real `evident verify` on what the server left.
async fn verify(
    data: &std::path::Path,
    database_url: Option<&str>,
    events: u64,
) -> anyhow::Result<Value> {
    let bar = progress_bar(0, "verifying");
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let mut command = tokio::process::Command::new(std::env::current_exe()?);
    command.arg("verify").arg("--data").arg(data);
    if let Some(url) = database_url {
        command.arg("--database-url").arg(url);
    }
    command
        .env_remove("EVIDENT_SERVER")
        .env_remove("EVIDENT_API_KEY")
        .env_remove("EVIDENT_DATABASE_URL")
        .env_remove("EVIDENT_CONFIG")
        .env_remove("EVIDENT_SIGNING_KEY_FILE")
        .env_remove("EVIDENT_MASTER_KEY_FILE")
        .stdin(std::process::Stdio::null());
    let started = Instant::now();
    let output = command.output().await.context("running evident verify")?;
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let ok = output.status.success();
    if !ok {
        eprintln!(
            "evident verify failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(json!({
        "ok": ok,
        "events": events,
        "seconds": seconds,
        "events_per_second": events as f64 / seconds.max(1e-9),
        "output": String::from_utf8_lossy(&output.stdout).trim(),
    }))
}

/// `--emit-workload FILE`: the generated workload as NDJSON, nothing else.
async fn emit(args: &Args, path: &std::path::Path) -> anyhow::Result<()> {
    let events = args.events.unwrap_or(workload::DEFAULT_EVENTS);
    let started = Instant::now();
    let (bytes, stored) = workload::generate_file(path, events, args.seed).await?;
    let compressed = if stored == bytes {
        String::new()
    } else {
        format!(", {stored} on disk")
    };
    println!(
        "wrote {events} events ({bytes} bytes{compressed}, {:.0} bytes/event, seed {}) to {} in {:.1} s",
        bytes as f64 / events.max(1) as f64,
        args.seed,
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A progress bar on a terminal (stderr), hidden otherwise (CONTRACT section 7: long
/// work stays quiet when output is not a terminal).
pub(crate) fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}
