//! Server events with the state changes they record, committed together (CONTRACT
//! section 1, "Server events").
//!
//! Every change an auditor may ask about (an erasure, an API key created or revoked,
//! a key rotated, ...) is one [`record`] call: the server event and its
//! [`Effect`]s go to the sequencer as one request and commit in one transaction, or
//! not at all. The services of each area (privacy, keys, ...) build the event and the
//! effects; this module only carries them.

use evident_core::record::{prepare_server_event, ServerEvent, Submission};
use evident_store::{AppendOutcome, AppendRequest, Appended, Effect, EventToAppend, StoreError};

use crate::auth::Principal;
use crate::sequencer::SubmitError;
use crate::state::App;

/// Why a change was not recorded; nothing of it was stored.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The store refused effect `index` for a reason of the domain (`Conflict`: a name
    /// taken, a plan that no longer holds; `NotFound`: nothing to change).
    #[error("refused: {error}")]
    Refused { index: usize, error: StoreError },
    /// Overloaded, stopped, or the store failed (see [`SubmitError`]).
    #[error(transparent)]
    Submit(#[from] SubmitError),
}

/// A server event ready to append, received now (by the app's clock). Server events
/// carry no payload blobs and no clear personal data (their fields are stored inline),
/// so nothing needs sealing.
pub fn prepare(app: &App, principal: &Principal, event: ServerEvent) -> EventToAppend {
    prepare_at(app, principal, event, app.now_micros()).0
}

/// [`prepare`] with `received_at` = `received_micros`, for a service whose effects
/// record the same instant as their event (an artifact's `published_at`); also returns
/// the event's id, which effects may name.
pub fn prepare_at(
    app: &App,
    principal: &Principal,
    event: ServerEvent,
    received_micros: i64,
) -> (EventToAppend, String) {
    let received_at = crate::clock::format_micros(received_micros);
    let submission = Submission {
        token_key: &app.token_key,
        detectors: &app.settings.detectors,
        principal: &principal.name,
        received_at: &received_at,
        received_micros,
    };
    let prepared = prepare_server_event(event, &submission, &mut rand::thread_rng());
    let event_id = prepared
        .record
        .get("event_id")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let event = EventToAppend {
        event: prepared.into(),
        blobs: Vec::new(),
        vault: Vec::new(),
        claimed_uploads: Vec::new(),
        remember: Vec::new(),
    };
    (event, event_id)
}

/// Appends `event` and applies `effects` in one transaction, through the sequencer;
/// returns where the event sits once both are durable.
///
/// # Errors
/// [`RecordError::Refused`] if the store refused an effect; [`RecordError::Submit`]
/// when overloaded or the store failed. Either way nothing was stored (a store error
/// may hide a commit that reached the disk: the caller's retry sees the state as it
/// is, as with ingest).
pub async fn record(
    app: &App,
    principal: &Principal,
    event: ServerEvent,
    effects: Vec<Effect>,
) -> Result<Appended, RecordError> {
    record_prepared(app, prepare(app, principal, event), effects).await
}

/// [`record`] for an event already [`prepare`]d: for effects that name the event
/// (its `event_id` is fixed by then, its `seq` not yet).
///
/// # Errors
/// Those of [`record`].
pub async fn record_prepared(
    app: &App,
    event: EventToAppend,
    effects: Vec<Effect>,
) -> Result<Appended, RecordError> {
    let request = AppendRequest {
        events: vec![event],
        effects,
    };
    match app.sequencer.submit(request).await? {
        AppendOutcome::Appended(mut results) if results.len() == 1 => Ok(results.remove(0)),
        AppendOutcome::Refused { index, error } => Err(RecordError::Refused { index, error }),
        other => Err(RecordError::Submit(SubmitError::Store(
            StoreError::Internal(format!("a server event was not appended: {other:?}")),
        ))),
    }
}
