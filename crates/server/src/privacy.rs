//! The privacy role's powers (CONTRACT section 2 and 4): revealing vault values and
//! erasing subjects. Each use is itself an event of the log, naming who, which tokens
//! and why, never a clear value.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use evident_core::pii::is_pii_token;
use evident_core::record::ServerEvent;
use evident_core::token::is_subject_token;
use serde_json::{json, Map, Value};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::state::App;

/// Most tokens one reveal may ask for.
pub const MAX_REVEAL_TOKENS: usize = 1_000;

/// Longest `reason`, in bytes.
const MAX_REASON: usize = 2_000;

/// A reason as it may be stored: required, bounded, with personal data tokenized.
fn stored_reason(app: &App, reason: Option<&Value>, pointer: &str) -> ApiResult<String> {
    let reason = reason
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::field(pointer, "a reason is required"))?;
    if reason.len() > MAX_REASON {
        return Err(ApiError::field(
            pointer,
            format!("at most {MAX_REASON} bytes"),
        ));
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

/// `POST /api/v1/subjects/erase {subject, reason}`: crypto-shredding.
///
/// # Errors
/// 400 for a bad body; store errors.
pub async fn erase(app: &App, principal: &Principal, body: &Value) -> ApiResult<Value> {
    let body = object(body)?;
    let subject = body
        .get("subject")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 1024)
        .ok_or_else(|| ApiError::field("/subject", "a subject identifier or token is required"))?;
    let token = crate::search::subject_filter(app, subject)?;
    let reason = stored_reason(app, body.get("reason"), "/reason")?;
    let now = evident_core::time::now_utc_micros().1;
    let report = app.store.erase_subject(&token, now).await?;
    app.vault.forget_all();
    let event = crate::ingest::append_server_event(
        app,
        principal,
        ServerEvent {
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
        },
    )
    .await?;
    Ok(json!({
        "subject": token,
        "erased_at": evident_core::time::format_utc_micros(
            time_from_micros(now)
        ),
        "keys_destroyed": report.keys,
        "blobs": report.blobs,
        "values": report.values,
        "search_texts": report.texts,
        "event_id": event.event_id,
        "seq": event.seq,
    }))
}

fn time_from_micros(micros: i64) -> ::time::OffsetDateTime {
    ::time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .unwrap_or(::time::OffsetDateTime::UNIX_EPOCH)
}
