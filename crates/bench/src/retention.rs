//! The `retention` scenario: a purge of a tenth of the log while ingest goes on.
//!
//! The batched workload is sent in three parts: the oldest tenth, then (after a quiet
//! gap of [`GAP`], with a signed checkpoint covering the tenth before it) 45 % measured
//! as the ingest rate **before** the purge, then the rest, during which the real
//! `evident retention run` purges on the same store. Its tier is written just before
//! it starts: as long as the time since the middle of the gap, so exactly the traces
//! that ended in the first tenth have expired (expiry counts from `received_at`, read
//! from the signed checkpoints). A `evident serve` child has no clock a test can move,
//! so the tier is fitted to the wall clock instead; the gap is wider than the
//! checkpoint interval plus the rounding of the tier to seconds.
//!
//! Reports the purge's wall time (and its candidate scan and commit, from the run's
//! own report), what it purged, and the ingest rate while it ran (tree growth over the
//! purge, read from `GET /api/v1/log`) against the rate before.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Mutex};

use crate::ingest::{self, Bodies, Target};
use crate::server::ServerProcess;
use crate::workload::Part;

/// The quiet time between the tenth that expires and the rest: more than the
/// checkpoint interval (1 s) plus half a second of rounding of the tier.
const GAP: Duration = Duration::from_secs(4);

/// How long ingest runs alone in the last part before the purge starts.
const WARM_UP: Duration = Duration::from_secs(1);

/// Forwards the first `events` events' bodies of `source` to a new receiver.
fn take_events(source: Arc<Mutex<Bodies>>, events: u64) -> Bodies {
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let mut sent = 0u64;
        while sent < events {
            let Some(body) = source.lock().await.recv().await else {
                return;
            };
            if let Ok(body) = &body {
                sent += body.events;
            }
            if tx.send(body).await.is_err() {
                return;
            }
        }
    });
    rx
}

/// What the scenario needs of the bench.
pub struct RetentionPhase<'a> {
    pub part: &'a Part,
    pub clients: usize,
    pub per_request: usize,
    pub data: &'a Path,
    pub database_url: Option<&'a str>,
    pub work: &'a Path,
}

/// Runs the scenario; returns its figures and the tree size at its end.
///
/// # Errors
/// Ingest failed, or the purge did not run.
pub async fn run(
    target: &Target,
    server: &ServerProcess,
    phase: &RetentionPhase<'_>,
) -> anyhow::Result<(Value, u64)> {
    let per_request = phase.per_request as u64;
    // Whole requests, so no request straddles two parts.
    let round = |n: u64| n.div_ceil(per_request) * per_request;
    let total = phase.part.events;
    let old = round(total / 10).min(total);
    let before = round(total * 45 / 100).min(total - old);
    let during = total - old - before;
    anyhow::ensure!(
        old > 0 && before > 0 && during > 0,
        "the retention scenario needs at least {} events (--events)",
        per_request * 20
    );
    let source = Arc::new(Mutex::new(
        ingest::file_bodies(phase.part, phase.per_request, phase.clients).await?,
    ));
    let ingest_phase = |name, events| ingest::Phase {
        name,
        format: ingest::Format::Events,
        clients: phase.clients,
        per_request: phase.per_request,
        events,
    };

    let expired = ingest::run(
        target,
        take_events(source.clone(), old),
        &ingest_phase("retention: the tenth that expires", old),
        server,
    )
    .await?;
    // `ingest::run` waited for a checkpoint covering it.
    tokio::time::sleep(GAP).await;
    let boundary = SystemTime::now() - GAP / 2;

    let kept = ingest::run(
        target,
        take_events(source.clone(), before),
        &ingest_phase("retention: ingest before the purge", before),
        server,
    )
    .await?;

    let during_phase = ingest_phase("retention: ingest during the purge", during);
    let last = ingest::run(
        target,
        take_events(source.clone(), during),
        &during_phase,
        server,
    );
    let purge = async {
        tokio::time::sleep(WARM_UP).await;
        let size_before = ingest::log_size(target).await?;
        let tier = boundary.elapsed().unwrap_or_default().as_secs_f64().round() as u64;
        let config = phase.work.join("retention.toml");
        std::fs::write(
            &config,
            format!(
                "# The bench's tier: the time since the gap after the oldest tenth.\n\
                 [[retention.tiers]]\nname = \"bench\"\npayload = \"{tier}s\"\nsearch_text = \"{tier}s\"\n"
            ),
        )
        .with_context(|| format!("writing {}", config.display()))?;
        let started = Instant::now();
        let output = retention_run(phase, &config).await?;
        let seconds = started.elapsed().as_secs_f64();
        let size_after = ingest::log_size(target).await?;
        anyhow::ensure!(
            output.status.success(),
            "evident retention run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_slice(&output.stdout)
            .context("evident retention run --json printed no report")?;
        anyhow::Ok((report, seconds, size_before, size_after, tier))
    };
    let (last, purge) = tokio::join!(last, purge);
    let last = last?;
    let (report, seconds, size_before, size_after, tier) = purge?;
    let during_rate = size_after.saturating_sub(size_before) as f64 / seconds.max(1e-9);
    let before_rate = kept.json["events_per_second"].as_f64().unwrap_or_default();
    let ingest_outlasted =
        last.json["seconds"].as_f64().unwrap_or_default() > WARM_UP.as_secs_f64() + seconds;
    Ok((
        json!({
            "events": total,
            "expiring_part_events": old,
            "tier_seconds": tier,
            "purge": {
                "seconds": seconds,
                "plan_seconds": report["plan_seconds"],
                "commit_seconds": report["commit_seconds"],
                "traces": report["traces"],
                "blobs": report["blobs"],
                "values": report["values"],
                "search_texts": report["search_texts"],
                "run_id": report["run_id"],
                "seq": report["seq"],
            },
            "ingest_events_per_second_before": before_rate,
            "ingest_events_per_second_during": during_rate,
            "during_vs_before": during_rate / before_rate.max(1e-9),
            "ingest_ran_throughout_the_purge": ingest_outlasted,
            "expired_part_ingest": expired.json,
            "before_ingest": kept.json,
            "during_ingest": last.json,
        }),
        last.tree_size,
    ))
}

/// The real `evident retention run --json` on the bench's store.
async fn retention_run(
    phase: &RetentionPhase<'_>,
    config: &Path,
) -> anyhow::Result<std::process::Output> {
    let mut command = tokio::process::Command::new(std::env::current_exe()?);
    command
        .args(["retention", "run", "--json", "--config"])
        .arg(config)
        .arg("--data")
        .arg(phase.data);
    if let Some(url) = phase.database_url {
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
    command
        .output()
        .await
        .context("running evident retention run")
}
