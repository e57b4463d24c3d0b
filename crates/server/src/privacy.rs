//! The privacy role's powers (CONTRACT section 2 and 4): revealing vault values and
//! erasing subjects. Each use is itself an event of the log, naming who, which tokens
//! and why, never a clear value; an erasure and its event commit together.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use evident_core::pii::is_pii_token;
use evident_core::record::ServerEvent;
use evident_core::token::is_subject_token;
use serde_json::{json, Map, Value};

use evident_store::{Appended, Effect, ErasureReport, SearchQuery, StoreError};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::record::RecordError;
use crate::state::App;

/// Most tokens one reveal may ask for.
pub const MAX_REVEAL_TOKENS: usize = 1_000;

/// Longest `reason`, in bytes.
const MAX_REASON: usize = 2_000;

/// A reason as it may be stored: required, bounded, with personal data tokenized.
fn stored_reason(app: &App, reason: Option<&Value>, pointer: &str) -> ApiResult<String> {
    let reason = reason.and_then(Value::as_str).unwrap_or_default();
    tokenized_reason(app, reason).map_err(|why| ApiError::field(pointer, why))
}

/// [`stored_reason`] of a string; the error says what is wrong with it.
pub(crate) fn tokenized_reason(app: &App, reason: &str) -> Result<String, String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err("a reason is required".into());
    }
    if reason.len() > MAX_REASON {
        return Err(format!("at most {MAX_REASON} bytes"));
    }
    let mut found = Vec::new();
    Ok(app
        .settings
        .detectors
        .tokenize(&app.token_key, reason, &mut found)
        .unwrap_or_else(|| reason.to_owned()))
}

fn object(body: &Value) -> ApiResult<&Map<String, Value>> {
    body.as_object()
        .ok_or_else(|| ApiError::field("", "the body must be a JSON object"))
}

/// `POST /api/v1/vault/reveal {tokens, reason}` → `{values: {token: clear}}`.
///
/// # Errors
/// 400 for a bad body; 404 if no token is known; 410 if every value asked for was
/// erased.
pub async fn reveal(app: &App, principal: &Principal, body: &Value) -> ApiResult<Value> {
    let body = object(body)?;
    let tokens: Vec<String> = match body.get("tokens") {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_REVEAL_TOKENS => items
            .iter()
            .enumerate()
            .map(|(i, t)| {
                t.as_str()
                    .filter(|t| is_pii_token(t) || is_subject_token(t))
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::field(format!("/tokens/{i}"), "not a token"))
            })
            .collect::<ApiResult<_>>()?,
        _ => {
            return Err(ApiError::field(
                "/tokens",
                format!("must be an array of 1 to {MAX_REVEAL_TOKENS} tokens"),
            ))
        }
    };
    let reason = stored_reason(app, body.get("reason"), "/reason")?;
    let unique: BTreeSet<String> = tokens.into_iter().collect();
    let tokens: Vec<String> = unique.into_iter().collect();
    let revealed = app.vault.reveal(&tokens).await?;
    let unknown: Vec<&String> = tokens
        .iter()
        .filter(|t| !revealed.values.contains_key(*t) && !revealed.erased.contains(*t))
        .collect();
    // The access is logged before anything is answered, revealed or not.
    let event = crate::ingest::append_server_event(
        app,
        principal,
        ServerEvent {
            event_type: "vault_access",
            trace_id: None,
            parent_event_id: None,
            fields: Map::from_iter([(
                "access".to_owned(),
                json!({
                    "tokens": tokens,
                    "reason": reason,
                    "revealed": revealed.values.len(),
                    "erased": revealed.erased,
                    "unknown": unknown,
                }),
            )]),
        },
    )
    .await?;
    if revealed.values.is_empty() {
        if !revealed.erased.is_empty() {
            return Err(ApiError::new(
                StatusCode::GONE,
                "Erased",
                "every value asked for belonged to an erased subject",
            ));
        }
        return Err(ApiError::not_found("no value is filed under these tokens"));
    }
    Ok(json!({
        "values": revealed.values,
        "erased": revealed.erased,
        "unknown": unknown,
        "event_id": event.event_id,
    }))
}

/// What the privacy role asks to erase.
#[derive(Debug, Clone)]
pub struct EraseRequest {
    /// A clear identifier or a `subj_` token.
    pub subject: String,
    /// Why; stored in the `subject_erasure` event with its personal data tokenized.
    pub reason: String,
}

/// The receipt of an erasure: what was destroyed, and the event that says so.
#[derive(Debug, Clone)]
pub struct ErasureReceipt {
    pub subject: String,
    pub erased_at_micros: i64,
    pub report: ErasureReport,
    pub event: Appended,
}

/// Why a subject was not erased; nothing was destroyed.
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    #[error("a subject identifier or token of at most 1024 bytes is required")]
    InvalidSubject,
    #[error("{0}")]
    InvalidReason(String),
    #[error("no event carries this subject")]
    UnknownSubject,
    /// A legal hold in force covers an event about the subject; nothing was erased.
    #[error("the legal hold {hold_id} covers this subject ({reason}); nothing was erased")]
    Held { hold_id: String, reason: String },
    /// Events of the subject kept arriving between the plan and the commit.
    #[error(
        "the subject's data kept changing while the erasure was planned; nothing was erased, retry"
    )]
    Contended,
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// [`erase`] started outside HTTP (`evident erase` on the store), with the attempt
/// noted in the read-access log as a request to `POST /api/v1/subjects/erase` is: the
/// subject as its token, the status the same request gets over HTTP (200, 400, 404
/// for a subject no event carries, 409 held, 503, 500), written before this returns.
///
/// # Errors
/// As [`erase`].
pub async fn erase_and_note(
    app: &App,
    principal: &Principal,
    request: EraseRequest,
) -> Result<ErasureReceipt, EraseError> {
    let mut details = Map::new();
    if !request.subject.trim().is_empty() {
        details.insert(
            "subject".into(),
            Value::from(crate::access_log::subject_as_token(app, &request.subject)),
        );
    }
    let outcome = erase(app, principal, request).await;
    let status = match &outcome {
        Ok(receipt) => {
            details.insert(
                "erasure".into(),
                Value::from(receipt.event.event_id.clone()),
            );
            200
        }
        Err(EraseError::InvalidSubject | EraseError::InvalidReason(_)) => 400,
        Err(EraseError::UnknownSubject) => 404,
        Err(EraseError::Held { .. }) => 409,
        Err(EraseError::Contended) => 503,
        Err(EraseError::Record(_) | EraseError::Store(_)) => 500,
    };
    crate::access_log::note_attempt(app, principal, "evident erase", details, status);
    if let Err(e) = crate::access_log::flush(app).await {
        tracing::warn!(error = %e, "access log: the erasure's attempt stays noted for the next flush");
    }
    outcome
}

/// Times an erasure is planned again when new data of the subject arrived between its
/// plan and its commit.
const ERASE_ATTEMPTS: usize = 3;

/// Crypto-shreds a subject (CONTRACT section 2, "Erasure"): its data keys are
/// destroyed in the transaction that appends the `subject_erasure` event, so the log
/// says so exactly when it happened. The event states what was destroyed; the store
/// checks, inside that transaction, that this is what it destroys (see
/// `evident_store::effect`), and a plan overtaken by new data is made again.
///
/// # Errors
/// See [`EraseError`].
pub async fn erase(
    app: &App,
    principal: &Principal,
    request: EraseRequest,
) -> Result<ErasureReceipt, EraseError> {
    let subject = request.subject.trim();
    if subject.is_empty() || subject.len() > 1024 {
        return Err(EraseError::InvalidSubject);
    }
    let token = if is_subject_token(subject) {
        subject.to_owned()
    } else {
        app.token_key.subject_token(subject)
    };
    let reason = tokenized_reason(app, &request.reason).map_err(EraseError::InvalidReason)?;
    let carried = app
        .store
        .search(&SearchQuery {
            subject: Some(token.clone()),
            limit: 1,
            ..SearchQuery::default()
        })
        .await?;
    if carried.is_empty() {
        return Err(EraseError::UnknownSubject);
    }
    refuse_if_held(app, &token).await?;
    for _ in 0..ERASE_ATTEMPTS {
        let report = app.store.erasure_plan(&token).await?;
        let now = app.now_micros();
        let event = ServerEvent {
            event_type: "subject_erasure",
            trace_id: None,
            parent_event_id: None,
            fields: Map::from_iter([
                ("context".to_owned(), json!({"subject": token})),
                (
                    "erasure".to_owned(),
                    json!({
                        "reason": reason,
                        "keys_destroyed": report.keys,
                        "blobs": report.blobs,
                        "values": report.values,
                        "search_texts": report.texts,
                    }),
                ),
            ]),
        };
        // The hold check again, inside the erasure's transaction: a hold committed
        // since the look above (by this server or another) is not skipped.
        let effects = vec![
            Effect::RefuseIfHeld {
                subject: token.clone(),
                now_micros: now,
            },
            Effect::EraseSubject {
                subject: token.clone(),
                now_micros: now,
                expect: report,
            },
        ];
        let recorded = crate::record::record(app, principal, event, effects).await;
        // Whatever the answer: an error may hide a commit that reached the disk
        // ("failed but persisted"), and cached keys must not outlive their erasure.
        app.vault.forget_all();
        match recorded {
            Ok(event) => {
                return Ok(ErasureReceipt {
                    subject: token,
                    erased_at_micros: now,
                    report,
                    event,
                });
            }
            Err(RecordError::Refused {
                index: 0,
                error: StoreError::Conflict(why),
            }) => {
                refuse_if_held(app, &token).await?;
                // Lifted or expired in between: the store's refusal still stands, and
                // its message names the hold.
                let hold_id = why
                    .split_whitespace()
                    .find(|word| word.starts_with("hold_"))
                    .unwrap_or("(unknown)")
                    .to_owned();
                return Err(EraseError::Held {
                    hold_id,
                    reason: "lifted since".to_owned(),
                });
            }
            Err(RecordError::Refused {
                error: StoreError::Conflict(_),
                ..
            }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(EraseError::Contended)
}

/// [`EraseError::Held`] naming the oldest hold in force that covers `token`.
async fn refuse_if_held(app: &App, token: &str) -> Result<(), EraseError> {
    let holds = app
        .store
        .holds_covering_subject(token, app.now_micros())
        .await?;
    match holds.into_iter().next() {
        Some(hold) => Err(EraseError::Held {
            hold_id: hold.hold_id,
            reason: hold.reason,
        }),
        None => Ok(()),
    }
}

/// The receipt as the API answers it; an erasure's id is its event's id.
pub fn receipt_json(receipt: &ErasureReceipt) -> Value {
    json!({
        "erasure_id": receipt.event.event_id,
        "state": "done",
        "leaf_hash": receipt.event.leaf_hash.to_base64(),
        "subject": receipt.subject,
        "erased_at": evident_core::time::format_utc_micros(time_from_micros(receipt.erased_at_micros)),
        "keys_destroyed": receipt.report.keys,
        "blobs": receipt.report.blobs,
        "values": receipt.report.values,
        "search_texts": receipt.report.texts,
        "event_id": receipt.event.event_id,
        "seq": receipt.event.seq,
    })
}

/// A recorded erasure, read back from its `subject_erasure` entry: what a deletion
/// receipt shows (CONTRACT section 4, `GET /api/v1/subjects/erasures/{id}`).
#[derive(Debug, Clone)]
pub struct ErasureRecord {
    pub seq: u64,
    /// The entry's bytes (RFC 8785): whoever holds them and an inclusion proof can
    /// check the receipt against the log.
    pub entry: Vec<u8>,
    pub record: Map<String, Value>,
}

/// The erasure whose id (its event's id) is `erasure_id`; `None` if no
/// `subject_erasure` event has it.
///
/// # Errors
/// Store errors; an entry that is not JSON is [`StoreError::Corrupt`].
pub async fn erasure_record(
    app: &App,
    erasure_id: &str,
) -> Result<Option<ErasureRecord>, StoreError> {
    let Some(stored) = app.store.entry_by_event_id(erasure_id).await? else {
        return Ok(None);
    };
    let record: Map<String, Value> = serde_json::from_slice(&stored.entry)
        .map_err(|e| StoreError::Corrupt(format!("entry {} is not JSON: {e}", stored.seq)))?;
    if record.get("event_type").and_then(Value::as_str) != Some("subject_erasure") {
        return Ok(None);
    }
    Ok(Some(ErasureRecord {
        seq: stored.seq,
        entry: stored.entry,
        record,
    }))
}

/// A recorded erasure as the API answers it (without its proof, which the route adds).
pub fn erasure_record_json(erasure: &ErasureRecord) -> Value {
    let field = |name: &str| erasure.record.get(name).cloned().unwrap_or(Value::Null);
    let erasure_part = field("erasure");
    let count = |name: &str| erasure_part.get(name).cloned().unwrap_or(Value::Null);
    json!({
        "erasure_id": field("event_id"),
        "state": "done",
        "subject": erasure.record.get("context").and_then(|c| c.get("subject")).cloned().unwrap_or(Value::Null),
        "erased_at": field("received_at"),
        "keys_destroyed": count("keys_destroyed"),
        "blobs": count("blobs"),
        "values": count("values"),
        "search_texts": count("search_texts"),
        "reason": count("reason"),
        "event_id": field("event_id"),
        "principal": field("principal"),
        "seq": erasure.seq,
        "leaf_hash": evident_tlog::leaf_hash(&erasure.entry).to_base64(),
        "entry": String::from_utf8_lossy(&erasure.entry),
    })
}

fn time_from_micros(micros: i64) -> ::time::OffsetDateTime {
    ::time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(::time::OffsetDateTime::UNIX_EPOCH)
}
