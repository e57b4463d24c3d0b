//! Retention (CONTRACT section 2, "Retention"; section 7, `evident retention run`):
//! tiers with legal floors, and the purge.
//!
//! **Tiers.** A tier says how long the payload (blobs and vault values) and the search
//! text of the events it matches are kept (by event type, agent, case; a tier without
//! filters matches every event; `None` = forever). Entries are kept forever: they
//! hold commitments and tokens, no payload and no clear personal data.
//!
//! **By trace, from `received_at`.** A trace's part is kept as long as the longest
//! tier any of its events matches (an event no tier matches keeps it forever), counted
//! from the trace's newest entry, so no trace is half purged. Time is read from the
//! signed checkpoints, never from the clients' `timestamp`: the entries below the
//! newest checkpoint signed before `now − d` were all received before it
//! ([`evident_store::RetentionStore::size_signed_by`]), so a backdated event is never
//! purged early (at most one checkpoint interval late).
//!
//! **Floors.** A tier shorter than a configured legal minimum is refused at start
//! naming the tier and the floor ([`floor_violations`]), unless the configuration
//! overrides it explicitly; the override is recorded as a `config_change` event
//! ([`record_floor_override`]).
//!
//! **The purge** ([`run`]): one `retention_purge` event per run, committed with the
//! deletions ([`Effect::PurgeRetention`]), stating counts by tier, the traces, the
//! `seq` bound and what legal holds kept. Before it, the run can write what it purges
//! to an archive ([`write_archive`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use evident_core::record::ServerEvent;
use evident_store::{Effect, PurgeCounts, RetentionTrace, StoreError, TracePurge};
use serde_json::{json, Map, Value};

use crate::auth::Principal;
use crate::record::RecordError;
use crate::state::App;

/// Most traces one run purges; the rest wait for the next run (one event, one
/// transaction per run, kept to a size a commit handles in well under a second).
pub const MAX_TRACES_PER_RUN: usize = 20_000;

/// Times a run tries to commit when the log moved between its plan and its commit.
/// After a refusal it does not scan again: it drops the traces that received an entry
/// meanwhile (a trace is purged whole or not at all; one still being written to waits
/// for a later run), recounts and tries again at once, so a busy log that keeps adding
/// to a few old traces does not starve the purge.
const PURGE_ATTEMPTS: usize = 10;

/// Candidates read from the store at a time.
const PAGE: usize = 1_000;

/// A part of an event that retention deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// Payload blobs and vault values.
    Payload,
    /// Full-text search text.
    SearchText,
}

impl Part {
    /// The configuration key of the part.
    pub fn key(self) -> &'static str {
        match self {
            Self::Payload => "payload",
            Self::SearchText => "search_text",
        }
    }
}

/// One retention tier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tier {
    pub name: String,
    /// How long payloads are kept; `None` = forever.
    pub payload: Option<Duration>,
    /// How long search text is kept; `None` = forever.
    pub search_text: Option<Duration>,
    /// Event types it applies to; empty = all.
    pub event_types: Vec<String>,
    /// Agents (`actor.id`) it applies to; empty = all.
    pub agents: Vec<String>,
    /// Cases (`context.case_id`) it applies to; empty = all.
    pub cases: Vec<String>,
}

impl Tier {
    fn keeps(&self, part: Part) -> Option<Duration> {
        match part {
            Part::Payload => self.payload,
            Part::SearchText => self.search_text,
        }
    }

    fn matches(&self, event_type: &str, agent: &str, case: Option<&str>) -> bool {
        let has = |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        has(&self.event_types, event_type)
            && has(&self.agents, agent)
            && (self.cases.is_empty() || case.is_some_and(|c| self.cases.iter().any(|v| v == c)))
    }
}

/// The retention configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub tiers: Vec<Tier>,
    /// Legal minimums per part (e.g. EU AI Act art. 19 and 26(6): six months).
    pub payload_floor: Option<Duration>,
    pub search_text_floor: Option<Duration>,
    /// Tiers below a floor are allowed (and recorded as a `config_change`).
    pub override_floors: bool,
    /// Where each run first writes what it purges.
    pub archive_dir: Option<PathBuf>,
    /// How often the server runs the purge by itself; `None`: never.
    pub run_every: Option<Duration>,
}

/// A tier's part below its floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorViolation {
    pub tier_index: usize,
    pub tier: String,
    pub part: Part,
    pub keeps: Duration,
    pub floor: Duration,
}

impl std::fmt::Display for FloorViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "retention.tiers[{}].{} (tier {:?}: {}) is below the legal floor retention.floors.{} ({}); \
             set retention.override_floors = true to allow it (recorded as a config_change event)",
            self.tier_index,
            self.part.key(),
            self.tier,
            format_duration(self.keeps),
            self.part.key(),
            format_duration(self.floor),
        )
    }
}

/// Every tier part shorter than its floor. A part kept forever is never below one.
pub fn floor_violations(policy: &RetentionPolicy) -> Vec<FloorViolation> {
    let mut found = Vec::new();
    for (i, tier) in policy.tiers.iter().enumerate() {
        for (part, floor) in [
            (Part::Payload, policy.payload_floor),
            (Part::SearchText, policy.search_text_floor),
        ] {
            if let (Some(keeps), Some(floor)) = (tier.keeps(part), floor) {
                if keeps < floor {
                    found.push(FloorViolation {
                        tier_index: i,
                        tier: tier.name.clone(),
                        part,
                        keeps,
                        floor,
                    });
                }
            }
        }
    }
    found
}

/// `90d`, `12h`, `30m`, `45s`: a duration as the configuration writes it.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(86_400) {
        format!("{}d", secs / 86_400)
    } else if secs.is_multiple_of(3_600) {
        format!("{}h", secs / 3_600)
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Parses [`format_duration`]'s forms; `None` for anything else.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.len().checked_sub(1)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let unit_secs = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return None,
    };
    n.checked_mul(unit_secs).map(Duration::from_secs)
}

/// The meta key holding the floor overrides last recorded.
const META_FLOOR_OVERRIDE: &str = "retention_floor_override";

/// Records a `config_change` naming the tiers allowed below their floors, unless the
/// same overrides were recorded last (kept in meta, written with the event).
///
/// # Errors
/// Store and sequencer errors; nothing recorded then.
pub async fn record_floor_override(
    app: &App,
    violations: &[FloorViolation],
) -> Result<bool, RecordError> {
    let overrides: Vec<Value> = violations
        .iter()
        .map(|v| {
            json!({
                "tier": v.tier,
                "key": format!("retention.tiers[{}].{}", v.tier_index, v.part.key()),
                "keeps": format_duration(v.keeps),
                "floor": format_duration(v.floor),
            })
        })
        .collect();
    let text = Value::Array(overrides.clone()).to_string();
    let previous = app
        .store
        .get_meta(META_FLOOR_OVERRIDE)
        .await
        .map_err(|e| RecordError::Submit(e.into()))?;
    if previous.as_deref() == Some(text.as_str()) || (previous.is_none() && overrides.is_empty()) {
        return Ok(false);
    }
    let event = ServerEvent {
        event_type: "config_change",
        trace_id: None,
        parent_event_id: None,
        fields: Map::from_iter([(
            "config_change".to_owned(),
            json!({
                "changed": ["retention.override_floors"],
                "retention_floor_override": overrides,
            }),
        )]),
    };
    let effect = Effect::SetMeta {
        key: META_FLOOR_OVERRIDE.into(),
        value: text,
    };
    crate::record::record(
        app,
        &crate::configuration::server_principal(),
        event,
        vec![effect],
    )
    .await?;
    Ok(true)
}

/// Why a run purged nothing; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("no retention tier is configured ([retention] tiers): nothing would ever expire")]
    NoTiers,
    #[error("writing the archive {path}: {error}")]
    Archive {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The log kept moving under the purge's plan.
    #[error("the log kept changing while the purge was planned; nothing was purged, retry")]
    Contended,
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    /// The run's id (`purge_<ULID>`), named in its event, its archive and every blob
    /// it purged.
    pub run_id: String,
    /// Its `retention_purge` event.
    pub event_id: String,
    pub seq: u64,
    pub traces: u64,
    pub counts: PurgeCounts,
    /// Traces, blobs and texts by the tier that decided each trace's expiry.
    pub by_tier: BTreeMap<String, (u64, u64, u64)>,
    /// Traces that expired but a legal hold kept, with the holds.
    pub held: BTreeMap<String, Vec<String>>,
    pub archive: Option<PathBuf>,
    /// How long the run took to find what expired (the candidate scan and the
    /// recount), and to commit it, in its last attempt.
    pub planned_in: Duration,
    pub committed_in: Duration,
}

/// How long `part` of a trace is kept, and the tier that decided it: the longest of
/// the tiers its events match; `None` (forever) if some event matches none, or a
/// matching tier keeps it forever.
fn trace_keeps(
    policy: &RetentionPolicy,
    trace: &RetentionTrace,
    part: Part,
) -> Option<(Duration, String)> {
    let mut longest: Option<(Duration, String)> = None;
    for (event_type, agent, case) in &trace.kinds {
        let mut matched = false;
        for tier in &policy.tiers {
            if !tier.matches(event_type, agent, case.as_deref()) {
                continue;
            }
            matched = true;
            let keeps = tier.keeps(part)?;
            if longest.as_ref().is_none_or(|(d, _)| keeps > *d) {
                longest = Some((keeps, tier.name.clone()));
            }
        }
        if !matched {
            return None;
        }
    }
    longest
}

/// What one run will purge.
struct Plan {
    traces: Vec<TracePurge>,
    /// The tier that decided each purged trace (by its payload, else its text).
    tier_of: Vec<String>,
    blobs_of: Vec<u64>,
    texts_of: Vec<u64>,
    held: BTreeMap<String, Vec<String>>,
    below_seq: u64,
}

impl Plan {
    /// Keeps only the traces whose newest entry is still the one planned.
    fn keep_unchanged(&mut self, newest: &HashMap<String, u64>) {
        let rows = std::mem::take(&mut self.traces)
            .into_iter()
            .zip(std::mem::take(&mut self.tier_of))
            .zip(std::mem::take(&mut self.blobs_of))
            .zip(std::mem::take(&mut self.texts_of));
        for (((trace, tier), blobs), texts) in rows {
            if newest.get(&trace.trace_id) == Some(&trace.last_seq) {
                self.traces.push(trace);
                self.tier_of.push(tier);
                self.blobs_of.push(blobs);
                self.texts_of.push(texts);
            }
        }
    }
}

async fn plan(app: &App, policy: &RetentionPolicy, now: i64) -> Result<Plan, StoreError> {
    let indexed = app.store.text_indexed_through().await?;
    let mut bounds: HashMap<Duration, u64> = HashMap::new();
    for tier in &policy.tiers {
        for keeps in [tier.payload, tier.search_text].into_iter().flatten() {
            if let std::collections::hash_map::Entry::Vacant(slot) = bounds.entry(keeps) {
                let micros = i64::try_from(keeps.as_micros()).unwrap_or(i64::MAX);
                slot.insert(app.store.size_signed_by(now.saturating_sub(micros)).await?);
            }
        }
    }
    // Each part's candidates are looked for below its own highest bound only.
    let part_bound = |part: Part| {
        policy
            .tiers
            .iter()
            .filter_map(|tier| tier.keeps(part))
            .filter_map(|keeps| bounds.get(&keeps).copied())
            .max()
            .unwrap_or(0)
    };
    let below = evident_store::ExpiryBounds {
        payload: part_bound(Part::Payload),
        text: part_bound(Part::SearchText),
    };
    let below_seq = below.max();
    let mut out = Plan {
        traces: Vec::new(),
        tier_of: Vec::new(),
        blobs_of: Vec::new(),
        texts_of: Vec::new(),
        held: BTreeMap::new(),
        below_seq,
    };
    let mut after: Option<String> = None;
    'pages: loop {
        let page = app
            .store
            .retention_candidates(below, now, after.as_deref(), PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.trace_id.clone());
        for trace in page {
            let expired = |part: Part, has: u64| -> Option<String> {
                let (keeps, tier) = trace_keeps(policy, &trace, part)?;
                let bound = bounds.get(&keeps).copied().unwrap_or(0);
                let text_ok = part == Part::Payload || trace.last_seq < indexed;
                (has > 0 && trace.last_seq < bound && text_ok).then_some(tier)
            };
            let payload = expired(Part::Payload, trace.blobs + trace.default_values);
            let text = expired(Part::SearchText, trace.texts);
            let Some(tier) = payload.clone().or_else(|| text.clone()) else {
                continue;
            };
            if !trace.held_by.is_empty() {
                out.held
                    .insert(trace.trace_id.clone(), trace.held_by.clone());
                continue;
            }
            out.blobs_of
                .push(if payload.is_some() { trace.blobs } else { 0 });
            out.texts_of
                .push(if text.is_some() { trace.texts } else { 0 });
            out.tier_of.push(tier);
            out.traces.push(TracePurge {
                trace_id: trace.trace_id,
                last_seq: trace.last_seq,
                payload: payload.is_some(),
                text: text.is_some(),
            });
            if out.traces.len() >= MAX_TRACES_PER_RUN {
                break 'pages;
            }
        }
    }
    Ok(out)
}

/// Runs the purge once: plans what expired, writes the archive (if configured), and
/// appends one `retention_purge` event with the deletions. A run that finds nothing
/// expired still records its event (an auditor sees that it ran).
///
/// # Errors
/// See [`RetentionError`]; nothing was purged then (an archive written before a
/// failed commit stays, naming a run the log does not have).
pub async fn run(
    app: &App,
    principal: &Principal,
    policy: &RetentionPolicy,
) -> Result<PurgeReport, RetentionError> {
    if policy.tiers.is_empty() {
        return Err(RetentionError::NoTiers);
    }
    let mut planned: Option<Plan> = None;
    for _ in 0..PURGE_ATTEMPTS {
        let started = std::time::Instant::now();
        let now = app.now_micros();
        let plan = match planned.take() {
            // Still expired: time only moved on since.
            Some(plan) => plan,
            None => plan(app, policy, now).await?,
        };
        let counts = app.store.purge_plan(&plan.traces).await?;
        let planned_in = started.elapsed();
        let mut by_tier: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
        for (i, tier) in plan.tier_of.iter().enumerate() {
            let slot = by_tier.entry(tier.clone()).or_default();
            slot.0 += 1;
            slot.1 += plan.blobs_of[i];
            slot.2 += plan.texts_of[i];
        }
        let holds: BTreeSet<&String> = plan.held.values().flatten().collect();
        let last_seqs = plan.traces.iter().map(|t| t.last_seq);
        let run_id = new_run_id();
        let archive = match &policy.archive_dir {
            Some(dir) if !plan.traces.is_empty() => {
                Some(write_archive(app, dir, &run_id, &plan.traces).await?)
            }
            _ => None,
        };
        let event = ServerEvent {
            event_type: "retention_purge",
            trace_id: None,
            parent_event_id: None,
            fields: Map::from_iter([(
                "retention_purge".to_owned(),
                json!({
                    "run_id": run_id,
                    "traces": plan.traces.len(),
                    "blobs": counts.blobs,
                    "values": counts.values,
                    "search_texts": counts.texts,
                    "by_tier": by_tier.iter().map(|(name, (traces, blobs, texts))| {
                        (name.clone(), json!({"traces": traces, "blobs": blobs, "search_texts": texts}))
                    }).collect::<Map<String, Value>>(),
                    "seq_range": {
                        "below": plan.below_seq,
                        "newest_purged": last_seqs.clone().max(),
                    },
                    "held": {"traces": plan.held.len(), "holds": holds},
                    "archive": archive.as_ref().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()),
                }),
            )]),
        };
        let (prepared, _) = crate::record::prepare_at(app, principal, event, now);
        let effect = Effect::PurgeRetention {
            run_id: run_id.clone(),
            now_micros: now,
            traces: plan.traces.clone(),
            expect: counts,
        };
        let committing = std::time::Instant::now();
        match crate::record::record_prepared(app, prepared, vec![effect]).await {
            Ok(appended) => {
                return Ok(PurgeReport {
                    run_id,
                    event_id: appended.event_id,
                    seq: appended.seq,
                    traces: plan.traces.len() as u64,
                    counts,
                    by_tier,
                    held: plan.held,
                    archive,
                    planned_in,
                    committed_in: committing.elapsed(),
                })
            }
            Err(RecordError::Refused {
                error: StoreError::Conflict(why),
                ..
            }) => {
                tracing::info!(%why, "the purge's plan no longer held; dropping changed traces and recounting");
                let ids: Vec<String> = plan.traces.iter().map(|t| t.trace_id.clone()).collect();
                let newest = app.store.newest_in_traces(&ids).await?;
                let mut plan = plan;
                plan.keep_unchanged(&newest);
                planned = Some(plan);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(RetentionError::Contended)
}

/// [`run`], with the attempt noted in the read-access log whatever its outcome (the
/// status it would have over HTTP: 200, 400 without tiers, 503 when the log kept
/// moving, 500 otherwise) and written before this returns. `action` says who started
/// it (`evident retention run`, or the server's schedule).
///
/// # Errors
/// As [`run`].
pub async fn run_and_note(
    app: &App,
    principal: &Principal,
    policy: &RetentionPolicy,
    action: &str,
) -> Result<PurgeReport, RetentionError> {
    let outcome = run(app, principal, policy).await;
    let (status, details) = match &outcome {
        Ok(report) => (
            200,
            json!({"run_id": report.run_id, "seq": report.seq, "traces": report.traces,
                   "blobs": report.counts.blobs, "values": report.counts.values,
                   "search_texts": report.counts.texts}),
        ),
        Err(e) => (
            match e {
                RetentionError::NoTiers => 400,
                RetentionError::Contended => 503,
                _ => 500,
            },
            json!({"error": e.to_string()}),
        ),
    };
    let Value::Object(details) = details else {
        unreachable!("a JSON object literal")
    };
    crate::access_log::note_attempt(app, principal, action, details, status);
    if let Err(e) = crate::access_log::flush(app).await {
        tracing::warn!(error = %e, "access log: the purge's attempt stays noted for the next flush");
    }
    outcome
}

/// A fresh run id, `purge_<ULID>`.
fn new_run_id() -> String {
    let event_id = evident_core::record::new_event_id(&mut rand::thread_rng());
    format!("purge_{}", event_id.trim_start_matches("evt_"))
}

/// Writes what a run purges to `dir/retention-<run id>.ndjson`, fsynced, before the
/// purge commits: one line per purged blob with the entry that commits to it. Blobs
/// stay sealed as stored, under their subject's data key (`sealed` opens to
/// salt ‖ bytes), so a later erasure of the subject reaches the archive too: its key
/// is destroyed in the store, and the archive holds no copy of it. Whoever holds the
/// key can check each blob against its entry's commitment (SHA-256 of salt ‖ bytes).
///
/// # Errors
/// [`RetentionError::Archive`] for I/O errors; store errors.
pub async fn write_archive(
    app: &App,
    dir: &Path,
    run_id: &str,
    traces: &[TracePurge],
) -> Result<PathBuf, RetentionError> {
    let payload: Vec<String> = traces
        .iter()
        .filter(|t| t.payload)
        .map(|t| t.trace_id.clone())
        .collect();
    let blobs = app.store.blobs_of_traces(&payload).await?;
    let mut lines = Vec::with_capacity(blobs.len());
    let mut entries: HashMap<u64, Vec<u8>> = HashMap::new();
    for blob in &blobs {
        let Some(seq) = blob.seq else { continue };
        if let std::collections::hash_map::Entry::Vacant(slot) = entries.entry(seq) {
            let entry = app.store.read_entries(seq, seq + 1).await?;
            slot.insert(
                entry
                    .into_iter()
                    .next()
                    .map(|e| e.entry)
                    .unwrap_or_default(),
            );
        }
        lines.push(json!({
            "run_id": run_id,
            "seq": seq,
            "entry": String::from_utf8_lossy(&entries[&seq]),
            "blob": blob.reference.to_string(),
            "media_type": blob.media_type,
            "size": blob.size,
            "key_id": blob.key_id,
            "sealed": base64::engine::general_purpose::STANDARD.encode(&blob.sealed),
        }));
    }
    let path = dir.join(format!("retention-{run_id}.ndjson"));
    let io = |error| RetentionError::Archive {
        path: path.clone(),
        error,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut file = std::fs::File::create(&path).map_err(io)?;
    for line in &lines {
        writeln!(file, "{line}").map_err(io)?;
    }
    file.sync_all().map_err(io)?;
    Ok(path)
}

/// Runs the purge every `policy.run_every` (first one after one period) while this
/// process leads the log's chores; errors are logged, the next run tries again.
pub fn spawn_background(app: std::sync::Arc<App>, policy: RetentionPolicy) {
    let Some(every) = policy.run_every.filter(|_| !policy.tiers.is_empty()) else {
        return;
    };
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match app.store.try_lead().await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "retention: could not tell whether this server leads");
                    continue;
                }
            }
            let principal = crate::configuration::server_principal();
            match run_and_note(&app, &principal, &policy, "retention run (scheduled)").await {
                Ok(report) => tracing::info!(
                    run_id = %report.run_id, seq = report.seq, traces = report.traces,
                    blobs = report.counts.blobs, "retention purge"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "retention purge failed; retrying next period")
                }
            }
        }
    });
}
