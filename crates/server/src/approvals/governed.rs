//! Approval events through the privacy boundary (CONTRACT section 6, "Governance
//! data is payload"): the draft, final and diff sealed under the request's subject's
//! key, and a payload as the boundary stores it (for diffs).

use evident_core::record::ServerEvent;
use evident_store::{EventToAppend, StoreError};
use serde_json::{Map, Value};

use crate::auth::Principal;
use crate::record::RecordError;
use crate::state::App;

/// The governed payloads of an approval event (CONTRACT section 6, "Governance data
/// is payload") and the subject they are about.
#[derive(Debug, Clone)]
pub(super) struct Governed {
    /// A clear id, or a `subj_` token (a resolution seals under its request's
    /// subject, of which only the token is kept); `None`: the log's default key.
    pub(super) subject: Option<String>,
    pub(super) input: Option<Value>,
    pub(super) output: Option<Value>,
}

/// Prepares an approval event with its governed payloads through the privacy boundary
/// ([`crate::record::prepare_governed`]): the subject tokenized, the payloads and the
/// scanned texts tokenized, the payloads sealed as blobs under the subject's key with
/// commitments in the entry. Returns the event, its id and the subject token.
pub(super) async fn prepare_governed(
    app: &App,
    principal: &Principal,
    mut event: ServerEvent,
    governed: Governed,
    received_micros: i64,
) -> Result<(EventToAppend, String, Option<String>), RecordError> {
    for (field, payload) in [("input", governed.input), ("output", governed.output)] {
        if let Some(payload) = payload {
            event.fields.insert(field.to_owned(), payload);
        }
    }
    let subject = governed.subject.map(|s| s.trim().to_owned());
    let token = subject.as_ref().map(|subject| {
        if evident_core::token::is_subject_token(subject) {
            subject.clone()
        } else {
            app.token_key.subject_token(subject)
        }
    });
    if let (Some(subject), Some(Value::Object(context))) =
        (subject, event.fields.get_mut("context"))
    {
        context.insert("subject".to_owned(), Value::String(subject));
    }
    let (prepared, event_id) =
        crate::record::prepare_governed(app, principal, event, received_micros).await?;
    Ok((prepared, event_id, token))
}

/// `value` as the privacy boundary would store it for the subject `token`: the
/// detectors' and the subject's remembered identifiers' tokens in place of clear
/// values (deterministic, so equal values get equal tokens on both sides of a diff).
pub(super) async fn tokenized(
    app: &App,
    principal: &Principal,
    token: Option<&str>,
    value: &Value,
) -> Result<Value, RecordError> {
    let remembered: Vec<(String, String)> = match token {
        None => Vec::new(),
        Some(token) => app
            .vault
            .remembered(&std::collections::BTreeSet::from([token.to_owned()]))
            .await?
            .into_values()
            .flat_map(|pairs| pairs.as_ref().clone())
            .collect(),
    };
    let received_micros = app.now_micros();
    let received_at = crate::clock::format_micros(received_micros);
    let submission = evident_core::record::Submission {
        token_key: &app.token_key,
        detectors: &app.settings.detectors,
        principal: &principal.name,
        received_at: &received_at,
        received_micros,
    };
    let probe = ServerEvent {
        event_type: "approval_resolution",
        trace_id: None,
        parent_event_id: None,
        fields: Map::from_iter([("input".to_owned(), value.clone())]),
    };
    let prepared = evident_core::record::prepare_governed_event(
        probe,
        &submission,
        &remembered,
        &mut rand::thread_rng(),
    )?;
    let bytes = prepared
        .blobs
        .first()
        .map(|blob| blob.bytes.as_slice())
        .ok_or_else(|| StoreError::Internal("a payload left no blob".into()))?;
    serde_json::from_slice(bytes)
        .map_err(|e| RecordError::Store(StoreError::Internal(format!("a tokenized payload: {e}"))))
}
