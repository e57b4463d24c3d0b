//! The ingest service: from parsed client events to durable log entries.
//!
//! One path for every way events arrive (`POST /api/v1/events`, OTLP, `evident
//! ingest`): prepare every event (validation, tokenization, blobs), check the key's
//! agent binding, then hand the request to the sequencer, which answers once the
//! events are durable. A request with one bad event stores nothing.

use std::collections::HashMap;

use evident_core::record::{prepare_client_event, referenced_uploads, Submission};
use evident_store::{AppendOutcome, AppendRequest, Appended};
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
    let (received_at, received_micros) = evident_core::time::now_utc_micros();
    let submission = Submission {
        token_key: &app.token_key,
        principal: &principal.name,
        received_at: &received_at,
        received_micros,
    };
    let prepared = prepare_all(events, &submission, &uploads, principal)?;
    let outcome = app
        .sequencer
        .submit(AppendRequest { events: prepared })
        .await
        .map_err(|e| match e {
            SubmitError::Overloaded => {
                ApiError::unavailable("the server is overloaded; nothing was stored, retry later")
            }
            SubmitError::Stopped => ApiError::unavailable("the server is shutting down"),
            SubmitError::Store(e) => e.into(),
        })?;
    match outcome {
        AppendOutcome::Appended(results) => Ok(results),
        AppendOutcome::Conflict { index, event_id } => Err(ApiError::conflict(format!(
            "/{index}/event_id: event {event_id:?} was already submitted with different content; nothing was stored"
        ))),
    }
}

/// Prepares every event, or fails naming the first bad one. Synchronous, so the
/// thread-local RNG never lives across an `.await`.
fn prepare_all(
    events: Vec<Value>,
    submission: &Submission<'_>,
    uploads: &HashMap<evident_core::blob::BlobRef, evident_core::record::UploadedBlob>,
    principal: &Principal,
) -> ApiResult<Vec<evident_core::record::PreparedEvent>> {
    let mut rng = rand::thread_rng();
    let mut prepared = Vec::with_capacity(events.len());
    for (index, event) in events.into_iter().enumerate() {
        let event = prepare_client_event(event, submission, uploads, &mut rng)
            .map_err(|e| ApiError::from(e.under(&format!("/{index}"))))?;
        if !principal.may_claim(&event.index.agent) {
            return Err(ApiError::forbidden(format!(
                "/{index}/actor/id: the key {:?} may not submit events for agent {:?}",
                principal.name, event.index.agent
            )));
        }
        prepared.push(event);
    }
    Ok(prepared)
}
