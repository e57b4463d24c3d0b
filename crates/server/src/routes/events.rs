//! `/api/v1/events`: ingest and lookup by id.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use evident_core::json::{parse_events_body, BodyFormat};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::Params;
use super::{body_error, media_type};
use crate::access_log::BodyNote;
use crate::answer::{JsonAnswer, ObjectWriter};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::search::SearchParams;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_events, list_events))
        .routes(routes!(search_events))
        .routes(routes!(get_event))
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

/// Ingest one event, an array of events, or NDJSON: all are stored, durably, or none.
#[utoipa::path(
    post,
    path = "/api/v1/events",
    tag = "events",
    request_body(content(
        (super::openapi::EventsBody = "application/json"),
        (String = "application/x-ndjson")
    )),
    responses(
        (status = 200, description = "Stored and durable; one answer per event, in order", body = Vec<super::openapi::Accepted>),
        super::openapi::WriteErrors,
        super::openapi::Conflict,
    ),
    security(("api_key" = []))
)]
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

/// One event by id, with its payloads resolved; optionally its inclusion proof.
#[utoipa::path(
    get,
    path = "/api/v1/events/{event_id}",
    tag = "events",
    params(
        ("event_id" = String, Path, description = "The event's id"),
        ("proof" = Option<bool>, Query, description = "Add the inclusion proof and its checkpoint"),
    ),
    responses(
        (status = 200, description = "The event", body = super::openapi::EventAnswer),
        super::openapi::ReadErrors,
        super::openapi::NotFound,
    ),
    security(("api_key" = []))
)]
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

/// Search the trail, a page at a time in `seq` order.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "search",
    params(
        ("agent" = Option<String>, Query, description = "actor.id"),
        ("type" = Option<String>, Query, description = "event_type"),
        ("trace_id" = Option<String>, Query),
        ("job_id" = Option<String>, Query, description = "context.job_id"),
        ("case_id" = Option<String>, Query, description = "context.case_id"),
        ("subject" = Option<String>, Query, description = "A subj_ token or a clear id (prefer POST for clear ids)"),
        ("from" = Option<String>, Query, description = "RFC 3339, inclusive, exact to the microsecond (at most six fractional digits)"),
        ("to" = Option<String>, Query, description = "RFC 3339, inclusive, exact to the microsecond (at most six fractional digits)"),
        ("q" = Option<String>, Query, description = "Words (all must match), \"exact phrases\", prefix*"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 1000 (default 100); larger is a 400"),
    ),
    responses(
        (status = 200, description = "A page of events", body = super::openapi::SearchAnswer),
        super::openapi::ReadErrors,
    ),
    security(("api_key" = []))
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/events/search",
    tag = "search",
    request_body = super::openapi::SearchBody,
    responses(
        (status = 200, description = "A page of events", body = super::openapi::SearchAnswer),
        super::openapi::ReadErrors,
    ),
    security(("api_key" = []))
)]
async fn search_events(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Bytes, BytesRejection>,
) -> axum::response::Response {
    let mut note = BodyNote::default();
    let answer = search_by_body(&state, &principal, body, &mut note).await;
    note.on(answer)
}

/// `POST /api/v1/events/search`: the filters go in `note` for the access log as they
/// are read, a subject as its token, before anything can refuse the request.
async fn search_by_body(
    state: &AppState,
    principal: &Principal,
    body: Result<Bytes, BytesRejection>,
    note: &mut BodyNote,
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
        let noted = if name == "subject" {
            crate::access_log::subject_as_token(&state.app, &text)
        } else {
            text.clone()
        };
        note.0.insert(name.clone(), Value::from(noted));
        pairs.insert(name, text);
    }
    let params = SearchParams::from_pairs(&pairs)?;
    let query = crate::search::build_query(&state.app, params)?;
    crate::search::search(&state.app, query).await
}
