//! Collecting witness cosignatures (CONTRACT section 3, "Witnessing"; C2SP
//! tlog-witness as the client, C2SP tlog-cosignature).
//!
//! After the checkpointer stores a checkpoint (and every [`RETRY_EVERY`] while one
//! lacks a witness's cosignature), this task sends the latest checkpoint to each
//! configured witness that has not cosigned it: `POST <url>/add-checkpoint` with
//! `old <size the witness holds>`, a consistency proof from that size (built from the
//! stored tiles and verified before it is sent), and the signed note. The size a
//! witness holds is what it last cosigned or told us in a 409 (`text/x.tlog.size`);
//! after a 409 naming another size the request is sent once more from that size.
//! Each answer's cosignature is checked against the witness's configured key before it
//! is stored beside the checkpoint ([`evident_store::WitnessStore`]); a failure is
//! recorded as the witness's last error.
//!
//! **A witness never blocks the log.** This task runs beside the sequencer and the
//! checkpointer and shares nothing with them but the store: ingest answers and
//! checkpoints are signed whatever the witnesses do; a checkpoint just waits for its
//! quorum, and `GET /api/v1/log` says so.
//!
//! **What `/checkpoint` serves** ([`served_checkpoint`]): with witnesses configured,
//! the newest checkpoint whose cosignatures from the configured witnesses reach the
//! quorum, with them appended; until one has, the latest checkpoint with whatever
//! cosignatures it has. Without witnesses, the latest checkpoint.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use evident_store::{Store, StoredCheckpoint, StoredCosignature, WitnessStatus};
use evident_tlog::witness::{parse_decimal, split_note, AddCheckpoint, CosignatureVerifier};
use tokio::sync::Notify;

use crate::state::App;

/// How often checkpoints still lacking a witness's cosignature are sent again when no
/// new checkpoint wakes the task.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);

/// After a failure, a witness is left alone this long (µs) before the next attempt,
/// so a witness that is down costs one refused connection per period.
pub const BACKOFF_MICROS: i64 = 2_000_000;

/// How long one `add-checkpoint` may take before the witness counts as down.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One configured witness.
#[derive(Debug, Clone)]
pub struct WitnessEndpoint {
    /// Its name in the configuration (what `/api/v1/log` and the store call it).
    pub name: String,
    /// Its submission prefix; `add-checkpoint` is appended.
    pub url: String,
    /// Its cosigner verifier key.
    pub verifier: CosignatureVerifier,
    /// The verifier key as configured, for `/api/v1/log`.
    pub verifier_key: String,
}

/// The witnesses a server sends its checkpoints to, and how many must cosign.
#[derive(Debug, Clone, Default)]
pub struct Witnessing {
    pub witnesses: Vec<WitnessEndpoint>,
    /// How many of `witnesses` must cosign a checkpoint (1..=witnesses.len()).
    pub quorum: usize,
}

impl Witnessing {
    fn names(&self) -> Vec<String> {
        self.witnesses.iter().map(|w| w.name.clone()).collect()
    }
}

/// Runs until the process ends.
pub async fn run(app: Arc<App>, checkpointed: Arc<Notify>) {
    let client = match reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client: witnesses get no checkpoints");
            return;
        }
    };
    loop {
        if let Err(e) = send_latest(&app, &client).await {
            tracing::warn!(error = %e, "sending the checkpoint to witnesses failed; retrying");
        }
        let _ = tokio::time::timeout(RETRY_EVERY, checkpointed.notified()).await;
    }
}

/// Sends the latest checkpoint to every configured witness that has not cosigned it
/// (and is not backing off after a failure), all at once; returns when each has
/// answered or failed.
///
/// # Errors
/// The store failed.
pub async fn send_latest(app: &Arc<App>, client: &reqwest::Client) -> anyhow::Result<()> {
    let witnessing = &app.settings.witnessing;
    if witnessing.witnesses.is_empty() || !app.store.try_lead().await? {
        return Ok(());
    }
    let Some(latest) = app.store.latest_checkpoint().await? else {
        return Ok(());
    };
    let cosigned: BTreeSet<String> = app
        .store
        .cosignatures(latest.size)
        .await?
        .into_iter()
        .map(|c| c.witness)
        .collect();
    let mut statuses: BTreeMap<String, WitnessStatus> = app
        .store
        .witness_statuses()
        .await?
        .into_iter()
        .map(|s| (s.witness.clone(), s))
        .collect();
    let now = app.now_micros();
    let mut sends = tokio::task::JoinSet::new();
    for witness in &witnessing.witnesses {
        if cosigned.contains(&witness.name) {
            continue;
        }
        let status = statuses
            .remove(&witness.name)
            .unwrap_or_else(|| WitnessStatus {
                witness: witness.name.clone(),
                ..WitnessStatus::default()
            });
        if status
            .error_micros
            .is_some_and(|at| now.saturating_sub(at) < BACKOFF_MICROS)
        {
            continue;
        }
        let (app, client, witness, latest) =
            (app.clone(), client.clone(), witness.clone(), latest.clone());
        sends.spawn(async move { send_to(&app, &client, &witness, &latest, status).await });
    }
    while let Some(done) = sends.join_next().await {
        done??;
    }
    Ok(())
}

/// One witness, one checkpoint: at most two requests (the second after a 409 that
/// named another size). Records the outcome in the witness's status.
async fn send_to(
    app: &App,
    client: &reqwest::Client,
    witness: &WitnessEndpoint,
    checkpoint: &StoredCheckpoint,
    mut status: WitnessStatus,
) -> anyhow::Result<()> {
    let mut old_size = status.known_size.unwrap_or(0);
    let mut attempts = 0;
    let outcome = loop {
        attempts += 1;
        match add_checkpoint(app, client, witness, checkpoint, old_size).await {
            Answer::Cosigned(line, timestamp) => break Ok((line, timestamp)),
            Answer::Holds(size) if size != old_size && size <= checkpoint.size && attempts < 3 => {
                // The witness holds another size than we thought (another server of
                // this log, or an earlier round, moved it): prove from there.
                status.known_size = Some(size);
                old_size = size;
            }
            Answer::Holds(size) if size == checkpoint.size => {
                status.known_size = Some(size);
                break Err(format!(
                    "the witness holds size {size} with another root hash: a fork, or another log under this origin"
                ));
            }
            Answer::Holds(size) => {
                status.known_size = Some(size);
                break Err(format!(
                    "the witness holds size {size}, which this checkpoint of size {} cannot extend",
                    checkpoint.size
                ));
            }
            Answer::Failed(why) => break Err(why),
        }
    };
    let now = app.now_micros();
    match outcome {
        Ok((line, timestamp)) => {
            app.store
                .put_cosignature(StoredCosignature {
                    size: checkpoint.size,
                    witness: witness.name.clone(),
                    line,
                    timestamp,
                    received_micros: now,
                })
                .await?;
            status.known_size = Some(checkpoint.size);
            status.cosigned_size = Some(checkpoint.size);
            status.cosigned_micros = Some(now);
            status.error = None;
            status.error_micros = None;
            tracing::debug!(witness = %witness.name, tree_size = checkpoint.size, "cosigned");
        }
        Err(why) => {
            // Once per new error, not on every retry of a witness that stays down.
            if status.error.as_deref() == Some(why.as_str()) {
                tracing::debug!(witness = %witness.name, tree_size = checkpoint.size, error = %why, "witness still did not cosign");
            } else {
                tracing::warn!(witness = %witness.name, tree_size = checkpoint.size, error = %why, "witness did not cosign");
            }
            status.error = Some(why);
            status.error_micros = Some(now);
        }
    }
    app.store.put_witness_status(status).await?;
    Ok(())
}

enum Answer {
    /// A valid cosignature line (without its newline) and its timestamp.
    Cosigned(String, u64),
    /// 409: the size the witness holds.
    Holds(u64),
    Failed(String),
}

async fn add_checkpoint(
    app: &App,
    client: &reqwest::Client,
    witness: &WitnessEndpoint,
    checkpoint: &StoredCheckpoint,
    old_size: u64,
) -> Answer {
    let proof = match consistency_proof(&*app.store, old_size, checkpoint).await {
        Ok(proof) => proof,
        Err(e) => return Answer::Failed(format!("no consistency proof from size {old_size}: {e}")),
    };
    let body = AddCheckpoint {
        old_size,
        proof,
        checkpoint: checkpoint.note.clone(),
    }
    .to_body();
    let url = format!("{}/add-checkpoint", witness.url.trim_end_matches('/'));
    let response = match client.post(&url).body(body).send().await {
        Ok(response) => response,
        Err(e) => return Answer::Failed(format!("unreachable: {}", without_url(&e))),
    };
    let status = response.status();
    let text = match response.text().await {
        Ok(text) => text,
        Err(e) => return Answer::Failed(format!("reading the answer: {}", without_url(&e))),
    };
    match status.as_u16() {
        200 => {
            let Ok((note_text, _)) = split_note(&checkpoint.note) else {
                return Answer::Failed("the stored checkpoint is not a signed note".into());
            };
            text.lines()
                .find_map(|line| {
                    witness
                        .verifier
                        .verify_line(note_text.as_bytes(), line)
                        .map(|timestamp| Answer::Cosigned(line.to_owned(), timestamp))
                })
                .unwrap_or_else(|| {
                    Answer::Failed(
                        "answered 200 without a valid cosignature by its configured key".into(),
                    )
                })
        }
        409 => match text.strip_suffix('\n').and_then(parse_decimal) {
            Some(size) => Answer::Holds(size),
            None => Answer::Failed("answered 409 without its tree size".into()),
        },
        code => {
            let first_line: String = text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            Answer::Failed(format!("refused with HTTP {code}: {first_line}"))
        }
    }
}

/// A reqwest error without the URL (kept short for the status; the URL is configured).
fn without_url(error: &reqwest::Error) -> String {
    let mut shown = error.to_string();
    if let Some(url) = error.url() {
        shown = shown
            .replace(&format!(" for url ({url})"), "")
            .replace(url.as_str(), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        shown.push_str(": ");
        shown.push_str(&cause.to_string());
        source = cause.source();
    }
    shown
}

/// A consistency proof from `old_size` to the checkpoint, built from the stored tiles
/// and verified against both roots before it is sent.
async fn consistency_proof(
    store: &dyn Store,
    old_size: u64,
    checkpoint: &StoredCheckpoint,
) -> anyhow::Result<Vec<evident_tlog::Hash>> {
    if old_size == 0 || old_size == checkpoint.size {
        return Ok(Vec::new());
    }
    anyhow::ensure!(
        old_size < checkpoint.size,
        "size {old_size} is beyond the checkpoint"
    );
    let mut wanted = evident_tlog::tiles_for_consistency(old_size, checkpoint.size);
    wanted.extend(evident_tlog::tiles_for_root(old_size));
    let tiles = store.read_tiles(&wanted).await?;
    let old_root = evident_tlog::tree_root(old_size, &tiles)?;
    let proof = evident_tlog::prove_consistency(old_size, checkpoint.size, &tiles)?;
    evident_tlog::verify_consistency(old_size, checkpoint.size, old_root, checkpoint.root, &proof)?;
    Ok(proof)
}

/// A checkpoint's signed note with the cosignatures stored for it appended (C2SP
/// signed-note: more signature lines after the log's).
///
/// # Errors
/// The store failed.
pub async fn cosigned_note(
    store: &dyn Store,
    checkpoint: &StoredCheckpoint,
) -> evident_store::StoreResult<String> {
    let mut note = checkpoint.note.clone();
    for cosignature in store.cosignatures(checkpoint.size).await? {
        note.push_str(&cosignature.line);
        note.push('\n');
    }
    Ok(note)
}

/// The checkpoint `/checkpoint` serves, with its cosignatures (module docs); `None`
/// before the first checkpoint.
///
/// # Errors
/// The store failed.
pub async fn served_checkpoint(app: &App) -> evident_store::StoreResult<Option<String>> {
    let witnessing = &app.settings.witnessing;
    let newest = if witnessing.witnesses.is_empty() {
        None
    } else {
        app.store
            .newest_cosigned_size(&witnessing.names(), witnessing.quorum.max(1))
            .await?
    };
    let chosen = match newest {
        Some(size) => app
            .store
            .checkpoints(size, 1)
            .await?
            .into_iter()
            .find(|c| c.size == size),
        _ => None,
    };
    let chosen = match chosen {
        Some(checkpoint) => Some(checkpoint),
        None => app.store.latest_checkpoint().await?,
    };
    match chosen {
        Some(checkpoint) => cosigned_note(&*app.store, &checkpoint).await.map(Some),
        None => Ok(None),
    }
}

/// The witnesses' status for `GET /api/v1/log`, and whether the latest checkpoint
/// has its quorum.
///
/// # Errors
/// The store failed.
pub async fn status(
    app: &App,
    latest: Option<&StoredCheckpoint>,
) -> evident_store::StoreResult<(Vec<serde_json::Value>, serde_json::Value)> {
    let witnessing = &app.settings.witnessing;
    if witnessing.witnesses.is_empty() {
        return Ok((Vec::new(), serde_json::Value::Null));
    }
    let statuses: BTreeMap<String, WitnessStatus> = app
        .store
        .witness_statuses()
        .await?
        .into_iter()
        .map(|s| (s.witness.clone(), s))
        .collect();
    let cosigned_latest: BTreeSet<String> = match latest {
        Some(checkpoint) => app
            .store
            .cosignatures(checkpoint.size)
            .await?
            .into_iter()
            .map(|c| c.witness)
            .collect(),
        None => BTreeSet::new(),
    };
    let time = |micros: Option<i64>| micros.map(crate::clock::format_micros);
    let witnesses = witnessing
        .witnesses
        .iter()
        .map(|witness| {
            let status = statuses.get(&witness.name).cloned().unwrap_or_default();
            serde_json::json!({
                "name": witness.name,
                "url": witness.url,
                "verifier_key": witness.verifier_key,
                "known_size": status.known_size,
                "last_cosigned_size": status.cosigned_size,
                "last_cosigned_at": time(status.cosigned_micros),
                "last_error": status.error,
                "last_error_at": time(status.error_micros),
                "cosigned_latest": cosigned_latest.contains(&witness.name),
            })
        })
        .collect();
    let count = witnessing
        .witnesses
        .iter()
        .filter(|w| cosigned_latest.contains(&w.name))
        .count();
    let newest = app
        .store
        .newest_cosigned_size(&witnessing.names(), witnessing.quorum.max(1))
        .await?;
    let quorum = serde_json::json!({
        "required": witnessing.quorum,
        "checkpoint_size": latest.map(|c| c.size),
        "cosigned": count,
        "met": latest.is_some() && count >= witnessing.quorum,
        "newest_cosigned_size": newest,
    });
    Ok((witnesses, quorum))
}
