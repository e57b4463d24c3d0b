//! `evident witness`: a C2SP tlog-witness (CONTRACT section 3, "Witnessing").
//!
//! One endpoint, `POST /add-checkpoint` (C2SP tlog-witness, "add-checkpoint"): the
//! witness checks the checkpoint's signature against the log keys it trusts for its
//! origin, the old size against the size it holds, and the consistency proof from
//! there (the checks are `evident_tlog::witness::check_add_checkpoint`); then it
//! records the new tree head durably and answers with its cosignature (C2SP
//! tlog-cosignature, Ed25519). Refusals carry the spec's status codes and plain-text
//! bodies, not problem+json: 400, 403, 404, 409 (`text/x.tlog.size`, the size the
//! witness holds), 422.
//!
//! **State.** The latest cosigned (size, root hash, checkpoint) per origin, in one
//! small JSON file (`<state dir>/witness-state.json`) replaced atomically: written to
//! a temporary file, fsynced, renamed over the old one, the directory fsynced. A
//! witness writes once per accepted checkpoint and reads only at start, so a database
//! would add nothing but a dependency; the rename makes each update all-or-nothing.
//! Checking, recording and answering happen under one lock, so two requests cannot
//! roll the state back (the race the spec describes); the file is written before the
//! cosignature is returned, so a restarted witness never cosigns below what it
//! signed. One witness process per state directory.
//!
//! Out of scope: the monitoring API (the spec's is still to be designed), bastions.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use evident_tlog::witness::{
    check_add_checkpoint, checkpoint_origin, split_note, AddCheckpoint, CosignatureSigner, Refusal,
    WitnessedHead, TLOG_SIZE_MEDIA_TYPE,
};
use evident_tlog::Hash;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// The state file's name inside the state directory.
pub const STATE_FILE: &str = "witness-state.json";

/// Largest `add-checkpoint` body: 63 proof lines and a checkpoint with a few
/// signatures fit in a few KiB; this leaves room for many cosignatures.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a witness cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WitnessSetupError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a witness state file: {reason}", path.display())]
    State { path: PathBuf, reason: String },
    #[error("log key {key:?}: {reason}")]
    LogKey { key: String, reason: String },
}

/// What the witness holds for one log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct LogState {
    size: u64,
    /// Base64 root hash.
    root: String,
    /// The checkpoint as submitted (with the log's signatures), for the operator.
    checkpoint: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    /// By origin.
    logs: BTreeMap<String, LogState>,
}

/// A running witness: its key, the logs it trusts, its state.
pub struct Witness {
    signer: CosignatureSigner,
    /// Verifier keys by origin (= key name); several when a log rotated its key.
    log_keys: BTreeMap<String, Vec<String>>,
    state_file: PathBuf,
    state: Mutex<StateFile>,
    /// Where cosignature timestamps come from (POSIX seconds); the system clock but
    /// in tests.
    now_seconds: fn() -> u64,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("signer", &self.signer)
            .field("logs", &self.log_keys.keys())
            .finish_non_exhaustive()
    }
}

fn system_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Witness {
    /// Opens the witness: checks the log keys and reads the state in `state_dir`
    /// (created if missing).
    ///
    /// # Errors
    /// A log key that is not an Ed25519 verifier key, a state directory or file that
    /// cannot be read, or a state file that is not one.
    pub fn open(
        signer: CosignatureSigner,
        log_keys: &[String],
        state_dir: &Path,
    ) -> Result<Self, WitnessSetupError> {
        let mut by_origin: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for key in log_keys {
            let name =
                evident_tlog::verifier_key_name(key).map_err(|e| WitnessSetupError::LogKey {
                    key: key.clone(),
                    reason: e.to_string(),
                })?;
            by_origin
                .entry(name)
                .or_default()
                .push(key.trim().to_owned());
        }
        std::fs::create_dir_all(state_dir).map_err(|source| WitnessSetupError::Io {
            path: state_dir.to_owned(),
            source,
        })?;
        let state_file = state_dir.join(STATE_FILE);
        let state = match std::fs::read(&state_file) {
            Ok(bytes) => serde_json::from_slice::<StateFile>(&bytes).map_err(|e| {
                WitnessSetupError::State {
                    path: state_file.clone(),
                    reason: e.to_string(),
                }
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StateFile::default(),
            Err(source) => {
                return Err(WitnessSetupError::Io {
                    path: state_file,
                    source,
                })
            }
        };
        for (origin, log) in &state.logs {
            Hash::from_base64(&log.root).map_err(|_| WitnessSetupError::State {
                path: state_file.clone(),
                reason: format!("the root of {origin:?} is not a base64 hash"),
            })?;
        }
        Ok(Self {
            signer,
            log_keys: by_origin,
            state_file,
            state: Mutex::new(state),
            now_seconds: system_seconds,
        })
    }

    /// The witness's cosigner verifier key.
    pub fn verifier_key(&self) -> String {
        self.signer.verifier_key()
    }

    /// Handles one `add-checkpoint` body: the cosignature line(s) to answer with.
    ///
    /// # Errors
    /// The refusal to answer with, or an I/O error writing the state (500: nothing
    /// cosigned).
    pub async fn add_checkpoint(&self, body: &[u8]) -> Result<String, AddError> {
        let request = AddCheckpoint::parse(body)
            .map_err(|_| AddError::Refused(Refusal::BadRequest("malformed request body")))?;
        let origin = checkpoint_origin(&request.checkpoint).map_err(AddError::Refused)?;
        let keys = self.log_keys.get(&origin).map_or(&[][..], Vec::as_slice);
        // Held until the answer is ready: check, record and cosign are one step.
        let mut state = self.state.lock().await;
        let known = state.logs.get(&origin).map(|log| WitnessedHead {
            size: log.size,
            // Checked at open and on every write.
            root: Hash::from_base64(&log.root).unwrap_or(evident_tlog::EMPTY_ROOT),
        });
        let checkpoint = match check_add_checkpoint(&request, keys, known) {
            Ok(checkpoint) => checkpoint,
            Err(refusal) => {
                if matches!(
                    refusal,
                    Refusal::InconsistentProof | Refusal::Conflict { .. }
                ) && request.old_size == known.map_or(0, |k| k.size)
                {
                    // Signed by the log and inconsistent with what it showed us before:
                    // possible evidence of a fork; the operator should keep it.
                    tracing::warn!(%origin, checkpoint = %request.checkpoint, "refused an inconsistent checkpoint");
                }
                return Err(AddError::Refused(refusal));
            }
        };
        let (text, _) = split_note(&request.checkpoint)
            .map_err(|_| AddError::Refused(Refusal::BadRequest("malformed checkpoint")))?;
        let line = self
            .signer
            .cosign(text, (self.now_seconds)())
            .map_err(|e| AddError::Io(std::io::Error::other(e.to_string())))?;
        let previous = state.logs.insert(
            origin.clone(),
            LogState {
                size: checkpoint.size,
                root: checkpoint.root.to_base64(),
                checkpoint: request.checkpoint.clone(),
            },
        );
        if let Err(e) = write_state(&self.state_file, &state) {
            // Not recorded, so not cosigned: put the old state back.
            match previous {
                Some(old) => state.logs.insert(origin, old),
                None => state.logs.remove(&origin),
            };
            return Err(AddError::Io(e));
        }
        tracing::info!(%origin, tree_size = checkpoint.size, "cosigned");
        Ok(line)
    }
}

/// Why an `add-checkpoint` got no cosignature.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error(transparent)]
    Refused(Refusal),
    #[error("recording the checkpoint failed: {0}")]
    Io(std::io::Error),
}

/// Replaces the state file atomically and durably.
fn write_state(path: &Path, state: &StateFile) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    let temp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    std::fs::rename(&temp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The witness's HTTP interface: `POST /add-checkpoint`.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(witness)
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    let text = |status: StatusCode, body: String| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    };
    match witness.add_checkpoint(&body).await {
        Ok(lines) => text(StatusCode::OK, lines),
        Err(AddError::Refused(Refusal::Conflict { known_size })) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, TLOG_SIZE_MEDIA_TYPE)],
            format!("{known_size}\n"),
        )
            .into_response(),
        Err(AddError::Refused(refusal)) => text(
            StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST),
            format!("{refusal}\n"),
        ),
        Err(AddError::Io(e)) => {
            tracing::error!(error = %e, "writing the witness state failed");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the witness could not record the checkpoint\n".into(),
            )
        }
    }
}

/// Serves the witness on `listener` until Ctrl-C or SIGTERM.
///
/// # Errors
/// The listener fails.
pub async fn serve(witness: Arc<Witness>, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "witness serving");
    axum::serve(listener, router(witness))
        .with_graceful_shutdown(crate::serve::shutdown_signal())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clock is injectable for the cosignature timestamp.
    #[tokio::test]
    async fn cosignature_timestamp_comes_from_the_witness_clock() {
        let dir = tempfile::tempdir().unwrap();
        let (private, vkey) = CosignatureSigner::generate("w.example").unwrap();
        let (log_private, log_vkey) = evident_tlog::LogSigner::generate("log.example").unwrap();
        let log = evident_tlog::LogSigner::new(&log_private).unwrap();
        let mut witness = Witness::open(
            CosignatureSigner::new(&private).unwrap(),
            std::slice::from_ref(&log_vkey),
            dir.path(),
        )
        .unwrap();
        witness.now_seconds = || 1_234;
        let note = log
            .sign_checkpoint(&evident_tlog::Checkpoint {
                origin: "log.example".into(),
                size: 0,
                root: evident_tlog::EMPTY_ROOT,
            })
            .unwrap();
        let body = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: note.clone(),
        }
        .to_body();
        let line = witness.add_checkpoint(body.as_bytes()).await.unwrap();
        let verifier = evident_tlog::witness::CosignatureVerifier::new(&vkey).unwrap();
        let (text, _) = split_note(&note).unwrap();
        assert_eq!(verifier.verify_line(text.as_bytes(), &line), Some(1_234));
    }
}
