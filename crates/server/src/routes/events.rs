//! `/api/v1/events`: ingest and lookup by id.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use evident_core::json::{parse_events_body, BodyFormat};
use serde_json::{json, Value};

use super::params::Params;
use super::{body_error, media_type};
use crate::answer::{JsonAnswer, ObjectWriter};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::search::SearchParams;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/events", post(post_events).get(list_events))
        .route("/api/v1/events/search", post(search_events))
        .route("/api/v1/events/{event_id}", get(get_event))
}

/// The body format a content type names.
///
/// # Errors
/// 415 for anything but JSON and NDJSON.
pub fn events_body_format(headers: &HeaderMap) -> ApiResult<BodyFormat> {
    match media_type(headers).as_deref() {
        Some("application/json") => Ok(BodyFormat::Json),
        Some("application/x-ndjson" | "application/ndjson" | "application/jsonl") => {
            Ok(BodyFormat::Ndjson)
        }
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            format!(
                "Content-Type {:?} is not accepted; send application/json or application/x-ndjson",
                other.unwrap_or("(none)")
            ),
        )),
    }
}

async fn post_events(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::WRITERS)?;
    let format = events_body_format(&headers)?;
    let body = body.map_err(|e| body_error(&e))?;
    let events = parse_events_body(&body, format)?;
    let results = crate::ingest::ingest(&state.app, &principal, events).await?;
    Ok(Json(Value::Array(
        results
            .into_iter()
            .map(|r| json!({"event_id": r.event_id, "seq": r.seq, "leaf_hash": r.leaf_hash.to_base64()}))
            .collect(),
    )))
}

async fn get_event(
    State(state): State<AppState>,
    principal: Principal,
    event_id: Result<Path<String>, PathRejection>,
    params: Params,
) -> ApiResult<JsonAnswer> {
    let Path(event_id) = event_id.map_err(|e| super::path_error(&e))?;
    principal.require(Role::READERS)?;
    let with_proof = params.bool("proof")?;
    // No stored event has an id outside the contract's shape; don't ask the store
    // (PostgreSQL refuses some such text, e.g. NUL, with an error).
    if !evident_core::event::is_valid_id(&event_id) {
        return Err(ApiError::not_found(format!("no event {event_id:?}")));
    }
    let (record, leaf_hash) = crate::reading::event_by_id(&state.app, &event_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no event {event_id:?}")))?;
    let mut answer = ObjectWriter::with_capacity(record.json.len() + 128);
    answer.member("seq", &record.seq)?;
    answer.member("leaf_hash", &leaf_hash.to_base64())?;
    answer.record("record", &record)?;
    // The registry entries its snapshot names (CONTRACT section 1, `snapshot`).
    let links = crate::artifacts::snapshot_links_of(&state.app, std::slice::from_ref(&record))
        .await?
        .pop()
        .unwrap_or_default();
    if !links.is_empty() {
        answer.member("artifacts", &links)?;
    }
    if with_proof {
        let store = &*state.app.store;
        match store.latest_checkpoint().await? {
            Some(checkpoint) if checkpoint.size > record.seq => {
                let proof =
                    crate::proofs::inclusion(store, record.seq, Some(checkpoint.size)).await?;
                answer.member("proof", &proof)?;
                answer.member("checkpoint", &checkpoint.note)?;
            }
            _ => answer.member("pending", &true)?,
        }
    }
    Ok(answer.finish())
}

async fn list_events(
    State(state): State<AppState>,
    principal: Principal,
    params: Params,
) -> ApiResult<JsonAnswer> {
    principal.require(Role::READERS)?;
    let params = SearchParams::from_pairs(&params.0)?;
    let query = crate::search::build_query(&state.app, params)?;
    crate::search::search(&state.app, query).await
}

/// The same filters as `GET /api/v1/events`, in a JSON body, so clear subject
/// identifiers stay out of URLs and logs.
async fn search_events(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<JsonAnswer> {
    principal.require(Role::READERS)?;
    let body = body.map_err(|e| body_error(&e))?;
    let value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        evident_core::json::parse_value(&body)?
    };
    let Value::Object(members) = value else {
        return Err(ApiError::field(
            "",
            "the body must be a JSON object of filters",
        ));
    };
    let mut pairs = std::collections::HashMap::new();
    for (name, value) in members {
        let text = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Null => continue,
            _ => {
                return Err(ApiError::field(
                    format!("/{}", evident_core::event::escape_pointer(&name)),
                    "must be a string",
                ))
            }
        };
        pairs.insert(name, text);
    }
    let params = SearchParams::from_pairs(&pairs)?;
    let query = crate::search::build_query(&state.app, params)?;
    crate::search::search(&state.app, query).await
}
