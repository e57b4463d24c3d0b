//! The ingest service: from parsed client events to durable log entries.
//!
//! One path for every way events arrive (`POST /api/v1/events`, OTLP, `evident
//! ingest`): prepare every event (validation, tokenization, blobs), check the key's
//! agent binding, then hand the request to the sequencer, which answers once the
//! events are durable. A request with one bad event stores nothing.

use std::collections::HashMap;

use evident_core::pii::Matchers;
use evident_core::record::{
    prepare_client_event_matching, referenced_uploads, subject_token_of, Submission,
};
use std::collections::BTreeSet;

use evident_core::blob::BlobRef;
use evident_core::record::PreparedEvent;
use evident_store::{AppendOutcome, AppendRequest, Appended, Effect, EventToAppend, StoreError};

use crate::vault::{Remembered, SealedHere, DEFAULT_SUBJECT};
use serde_json::Value;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::sequencer::SubmitError;
use crate::state::App;

/// Appends `events` (already strictly parsed) for `principal`.
///
/// # Errors
/// 400 naming `/<index>/<field>` for an invalid event, 403 for an agent the key may
/// not claim, 409 for an `event_id` reused with other content, 503 when the store is
/// unavailable or overloaded.
pub async fn ingest(
    app: &App,
    principal: &Principal,
    events: Vec<Value>,
) -> ApiResult<Vec<Appended>> {
    let refs: Vec<_> = events.iter().flat_map(referenced_uploads).collect();
    let uploads = if refs.is_empty() {
        HashMap::new()
    } else {
        app.store.uploads(&refs).await?
    };
    let (received_at, received_micros) = app.now();
    let submission = Submission {
        token_key: &app.token_key,
        detectors: &app.settings.detectors,
        principal: &principal.name,
        received_at: &received_at,
        received_micros,
    };
    let subjects: BTreeSet<String> = events
        .iter()
        .filter_map(|e| subject_token_of(e, &app.token_key))
        .collect();
    let remembered = if subjects.is_empty() {
        HashMap::new()
    } else {
        app.vault.remembered(&subjects).await?
    };
    let mut prepared = prepare_all(events, &submission, &uploads, &remembered, principal)?;
    let texts: Vec<Option<String>> = prepared.iter_mut().map(|e| e.text.take()).collect();
    let declared: Vec<(String, Vec<(String, String)>)> = prepared
        .iter()
        .filter_map(|e| {
            let subject = e.index.subject.clone()?;
            (!e.identifiers.is_empty()).then(|| (subject, identifier_pairs(e)))
        })
        .collect();
    let (events, effects) = seal_all(app, prepared).await?;
    let outcome = submit(app, AppendRequest { events, effects }).await?;
    match outcome {
        AppendOutcome::Appended(results) => {
            for (subject, pairs) in &declared {
                app.vault.remembered_now(subject, pairs);
            }
            buffer_texts(app, &results, texts);
            Ok(results)
        }
        AppendOutcome::Conflict { index, event_id } => Err(ApiError::conflict(format!(
            "/{index}/event_id: event {event_id:?} was already submitted with different content; nothing was stored"
        ))),
        AppendOutcome::Refused { error, .. } => Err(error.into()),
    }
}

/// Leaves the texts of newly appended events for the text indexer.
fn buffer_texts(app: &App, results: &[Appended], texts: Vec<Option<String>>) {
    for (result, text) in results.iter().zip(texts) {
        if let (false, Some(text)) = (result.is_dup, text) {
            app.texts.put(result.seq, text);
        }
    }
}

/// Seals every event's payloads and personal data under its subject's key (the
/// default key without a subject), re-sealing the uploads it claims with the values
/// found in them; returns the events and the effects their commit must carry (the
/// claimed uploads' own keys destroyed).
///
/// # Errors
/// 409 naming the field for an upload another subject's event claimed; store errors
/// (creating keys, reading uploads).
pub async fn seal_all(
    app: &App,
    prepared: Vec<PreparedEvent>,
) -> ApiResult<(Vec<EventToAppend>, Vec<Effect>)> {
    let subject_of = |e: &PreparedEvent| {
        e.index
            .subject
            .clone()
            .unwrap_or_else(|| DEFAULT_SUBJECT.to_owned())
    };
    let subjects: BTreeSet<String> = prepared.iter().map(subject_of).collect();
    let keys = app.vault.active_keys(&subjects).await?;
    let mut sealed = Vec::with_capacity(prepared.len());
    let mut effects = Vec::new();
    // Uploads claimed earlier in this request, and under which key.
    let mut claimed: HashMap<BlobRef, String> = HashMap::new();
    let mut sealed_here = SealedHere::default();
    for (index, event) in prepared.into_iter().enumerate() {
        let key = keys
            .get(&subject_of(&event))
            .ok_or_else(|| ApiError::internal("no data key for a subject"))?;
        let uploads = event.uploads.clone();
        let fields: Vec<(BlobRef, &'static str)> = uploads
            .iter()
            .map(|r| (*r, upload_field(&event, r)))
            .collect();
        let mut to_append = app.vault.seal_event_sharing(event, key, &mut sealed_here);
        for (reference, field) in fields {
            let other_subject = || {
                ApiError::conflict(format!(
                    "/{index}/{field}: upload {reference} belongs to an event of another subject \
                     (or of none); an upload is readable under one subject's key only, so that \
                     erasing that subject erases it: upload it again for this event"
                ))
            };
            match claimed.get(&reference) {
                Some(key_id) if *key_id == key.key_id => continue,
                Some(_) => return Err(other_subject()),
                None => {}
            }
            match app.vault.claim_upload(&reference, key).await {
                Ok(Some(claim)) => {
                    to_append.claimed_uploads.push(claim.blob);
                    to_append.vault.extend(claim.values);
                    effects.extend(claim.destroy);
                }
                Ok(None) => {}
                Err(StoreError::Conflict(_)) => return Err(other_subject()),
                Err(e) => return Err(e.into()),
            }
            claimed.insert(reference, key.key_id.clone());
        }
        sealed.push(to_append);
    }
    Ok((sealed, effects))
}

/// The payload field (`input`, `output`, `attributes`) holding `{"$blob": reference}`.
fn upload_field(event: &PreparedEvent, reference: &BlobRef) -> &'static str {
    let wanted = reference.to_ref_string();
    ["input", "output", "attributes"]
        .into_iter()
        .find(|field| {
            event
                .record
                .get(*field)
                .and_then(|v| v.get("$blob"))
                .and_then(Value::as_str)
                == Some(wanted.as_str())
        })
        .unwrap_or("input")
}

/// The `(kind, value)` pairs of the identifiers an event declares.
fn identifier_pairs(event: &PreparedEvent) -> Vec<(String, String)> {
    event
        .identifiers
        .iter()
        .map(|f| (f.kind.clone(), f.value.clone()))
        .collect()
}

/// Prepares every event, or fails naming the first bad one. Synchronous, so the
/// thread-local RNG never lives across an `.await`.
///
/// Each event's text is also tokenized with the identifiers remembered for its
/// subject (`remembered`, by subject token) and those declared by the events before
/// it in this request (CONTRACT section 2). Events that declare and remember the same
/// identifiers share one matcher, built once per request.
fn prepare_all(
    events: Vec<Value>,
    submission: &Submission<'_>,
    uploads: &HashMap<evident_core::blob::BlobRef, evident_core::record::UploadedBlob>,
    remembered: &HashMap<String, Remembered>,
    principal: &Principal,
) -> ApiResult<Vec<PreparedEvent>> {
    let mut rng = rand::thread_rng();
    let mut prepared = Vec::with_capacity(events.len());
    // Declared earlier in this request, by subject token.
    let mut declared_here: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut matchers = Matchers::default();
    for (index, event) in events.into_iter().enumerate() {
        let subject = subject_token_of(&event, submission.token_key);
        let known: Vec<(String, String)> = subject
            .as_ref()
            .map(|s| {
                let stored = remembered.get(s).map(|r| r.as_slice()).unwrap_or(&[]);
                let here = declared_here.get(s).map(Vec::as_slice).unwrap_or(&[]);
                stored.iter().chain(here).cloned().collect()
            })
            .unwrap_or_default();
        let event = prepare_client_event_matching(
            event,
            submission,
            uploads,
            &known,
            &mut matchers,
            &mut rng,
        )
        .map_err(|e| ApiError::from(e.under(&format!("/{index}"))))?;
        if let (Some(subject), false) = (subject, event.identifiers.is_empty()) {
            // Each pair once: a subject's events mostly declare the same ones.
            let here = declared_here.entry(subject).or_default();
            for pair in identifier_pairs(&event) {
                if !here.contains(&pair) {
                    here.push(pair);
                }
            }
        }
        if !principal.may_claim(&event.index.agent) {
            return Err(ApiError::forbidden(format!(
                "/{index}/actor/id: {}",
                principal.claim_refusal(&event.index.agent)
            )));
        }
        prepared.push(event);
    }
    Ok(prepared)
}

/// Appends an event the server writes itself (`vault_access`, `subject_erasure`, ...),
/// durably, through the same sequencer as client events.
///
/// # Errors
/// 503 when the store is unavailable or overloaded.
pub async fn append_server_event(
    app: &App,
    principal: &Principal,
    event: evident_core::record::ServerEvent,
) -> ApiResult<Appended> {
    let (received_at, received_micros) = app.now();
    let submission = Submission {
        token_key: &app.token_key,
        detectors: &app.settings.detectors,
        principal: &principal.name,
        received_at: &received_at,
        received_micros,
    };
    let mut prepared = {
        let mut rng = rand::thread_rng();
        evident_core::record::prepare_server_event(event, &submission, &mut rng)
    };
    let texts = vec![prepared.text.take()];
    let (events, effects) = seal_all(app, vec![prepared]).await?;
    match submit(app, AppendRequest { events, effects }).await? {
        AppendOutcome::Appended(mut results) if !results.is_empty() => {
            buffer_texts(app, &results, texts);
            Ok(results.remove(0))
        }
        _ => Err(ApiError::internal("a server event was not appended")),
    }
}

/// Hands sealed events to the sequencer and waits until they are durable.
async fn submit(app: &App, request: AppendRequest) -> ApiResult<AppendOutcome> {
    app.sequencer.submit(request).await.map_err(|e| match e {
        SubmitError::Overloaded => {
            ApiError::unavailable("the server is overloaded; nothing was stored, retry later")
        }
        SubmitError::Stopped => ApiError::unavailable("the server is shutting down"),
        SubmitError::Store(e) => e.into(),
    })
}
