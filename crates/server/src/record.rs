//! Server events with the state changes they record, committed together (CONTRACT
//! section 1, "Server events").
//!
//! Every change an auditor may ask about (an erasure, an API key created or revoked,
//! a key rotated, ...) is one [`record`] call: the server event and its
//! [`Effect`]s go to the sequencer as one request and commit in one transaction, or
//! not at all. The services of each area (privacy, keys, ...) build the event and the
//! effects; this module only carries them.

use std::collections::BTreeSet;

use evident_core::event::FieldError;
use evident_core::record::{prepare_governed_event, prepare_server_event, ServerEvent, Submission};
use evident_store::{AppendOutcome, AppendRequest, Appended, Effect, EventToAppend, StoreError};
use serde_json::Value;

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
    /// A governance payload the privacy boundary refused (see
    /// [`prepare_governed_event`]); the error names the field.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The store failed while the event was prepared (its subject's key, its
    /// remembered identifiers).
    #[error(transparent)]
    Store(#[from] StoreError),
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

/// A server event that carries governance data (a decision's payload and context,
/// an approval's draft, final and diff: CONTRACT section 6, "Governance data is
/// payload"), ready to append, received at `received_micros`; also returns its id.
///
/// Put the subject in `context.subject` (its clear id, or its `subj_` token when
/// that is all the server keeps) and the payloads in `input`,
/// `output` or `attributes`; `decision.reason` and `approval.comment` are scanned
/// text. The subject becomes its token everywhere, the payloads are tokenized (the
/// detectors, and the identifiers remembered for the subject) and sealed as blobs
/// under the subject's data key (the log's default key without a subject), with
/// their commitments in the entry; so an erasure of the subject reaches them. Append
/// it with [`record_prepared`] (or several in one request through the sequencer)
/// with the effects it records.
///
/// # Errors
/// [`RecordError::Invalid`] for a payload that is a blob reference;
/// [`RecordError::Store`] when the subject's key or identifiers cannot be read.
pub async fn prepare_governed(
    app: &App,
    principal: &Principal,
    event: ServerEvent,
    received_micros: i64,
) -> Result<(EventToAppend, String), RecordError> {
    prepare_governed_with_text(app, principal, event, received_micros)
        .await
        .map(|(event, event_id, _)| (event, event_id))
}

/// [`prepare_governed`] that also returns the event's searchable text (tokenized, as
/// the text index would read it back from the sealed payloads), for the caller to
/// leave in the indexer's buffer once the event is appended (`App::texts`), so the
/// indexer need not read the event back and open its blobs.
///
/// # Errors
/// Those of [`prepare_governed`].
pub async fn prepare_governed_with_text(
    app: &App,
    principal: &Principal,
    event: ServerEvent,
    received_micros: i64,
) -> Result<(EventToAppend, String, Option<String>), RecordError> {
    let subject = event
        .fields
        .get("context")
        .and_then(|c| c.get("subject"))
        .and_then(Value::as_str)
        .map(str::trim)
        .map(|subject| {
            if evident_core::token::is_subject_token(subject) {
                subject.to_owned()
            } else {
                app.token_key.subject_token(subject)
            }
        });
    let subjects: BTreeSet<String> = subject.iter().cloned().collect();
    let remembered = if subjects.is_empty() {
        Vec::new()
    } else {
        app.vault
            .remembered(&subjects)
            .await?
            .into_values()
            .flat_map(|pairs| pairs.as_ref().clone())
            .collect()
    };
    let received_at = crate::clock::format_micros(received_micros);
    let submission = Submission {
        token_key: &app.token_key,
        detectors: &app.settings.detectors,
        principal: &principal.name,
        received_at: &received_at,
        received_micros,
    };
    let mut prepared =
        prepare_governed_event(event, &submission, &remembered, &mut rand::thread_rng())?;
    let text = prepared.text.take();
    let event_id = prepared
        .record
        .get("event_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let key_subject = subject.unwrap_or_else(|| crate::vault::DEFAULT_SUBJECT.to_owned());
    let keys = app
        .vault
        .active_keys(&BTreeSet::from([key_subject.clone()]))
        .await?;
    let key = keys
        .get(&key_subject)
        .ok_or_else(|| StoreError::Internal("no data key for a subject".into()))?;
    Ok((app.vault.seal_event(prepared, key), event_id, text))
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
