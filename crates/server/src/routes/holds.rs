//! `/api/v1/legal-holds`: place, list and lift legal holds (admin, privacy).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use evident_store::HoldScope;
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{object, object_or_empty, optional_string as string};
use super::openapi::{
    Conflict, LegalHoldAnswer, LegalHoldList, NotFound, PlaceLegalHold, ReadErrors, WriteErrors,
};
use super::params::Params;
use super::path_error;
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::holds::{HoldError, PlaceHold};
use crate::state::AppState;

const HOLDERS: &[Role] = &[Role::Admin, Role::Privacy];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(place, list))
        .routes(routes!(lift))
}

/// An optional RFC 3339 time member, µs since the epoch.
fn time(body: &Map<String, Value>, name: &str) -> ApiResult<Option<i64>> {
    let Some(text) = string(body, name)? else {
        return Ok(None);
    };
    evident_core::time::parse_rfc3339(&text)
        .map(|t| Some(evident_core::time::unix_micros(t)))
        .map_err(|_| {
            ApiError::field(
                format!("/{name}"),
                "must be an RFC 3339 time with an offset",
            )
        })
}

/// The one scope the body names.
fn scope(body: &Map<String, Value>) -> ApiResult<HoldScope> {
    let mut scopes = Vec::new();
    if let Some(subject) = string(body, "subject")? {
        scopes.push(HoldScope::Subject(subject));
    }
    if let Some(id) = string(body, "trace_id")? {
        scopes.push(HoldScope::Trace(id));
    }
    if let Some(id) = string(body, "job_id")? {
        scopes.push(HoldScope::Job(id));
    }
    if let Some(id) = string(body, "case_id")? {
        scopes.push(HoldScope::Case(id));
    }
    match (time(body, "from")?, time(body, "to")?) {
        (Some(from_micros), Some(to_micros)) => scopes.push(HoldScope::Time {
            from_micros,
            to_micros,
        }),
        (None, None) => {}
        (Some(_), None) => return Err(ApiError::field("/to", "is required with `from`")),
        (None, Some(_)) => return Err(ApiError::field("/from", "is required with `to`")),
    }
    let mut scopes = scopes.into_iter();
    match (scopes.next(), scopes.next()) {
        (Some(scope), None) => Ok(scope),
        _ => Err(ApiError::field(
            "",
            "exactly one of subject, trace_id, job_id, case_id or from and to is required",
        )),
    }
}

/// Place a legal hold on a subject, trace, job, case or time range (a `legal_hold`
/// event); retention and erasure skip what it covers. Admin or privacy.
#[utoipa::path(
    post,
    path = "/api/v1/legal-holds",
    tag = "privacy",
    request_body(content = PlaceLegalHold, content_type = "application/json"),
    responses(
        (status = 200, description = "Placed", body = LegalHoldAnswer),
        WriteErrors,
    ),
    security(("api_key" = []))
)]
async fn place(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(HOLDERS)?;
    let body = object(body)?;
    let request = PlaceHold {
        scope: scope(&body)?,
        reason: string(&body, "reason")?.unwrap_or_default(),
        until_micros: time(&body, "until")?,
    };
    let hold = crate::holds::place(&state.app, &principal, request)
        .await
        .map_err(hold_problem)?;
    Ok(Json(crate::holds::hold_json(&hold, state.app.now_micros())))
}

/// Every legal hold, oldest first; `?active=true` only those in force. Admin or
/// privacy.
#[utoipa::path(
    get,
    path = "/api/v1/legal-holds",
    tag = "privacy",
    params(("active" = Option<bool>, Query, description = "Only holds in force")),
    responses(
        (status = 200, description = "The holds", body = LegalHoldList),
        ReadErrors,
    ),
    security(("api_key" = []))
)]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    principal.require(HOLDERS)?;
    let active_only = params.bool("active")?;
    let now = state.app.now_micros();
    let holds: Vec<Value> = state
        .app
        .store
        .legal_holds()
        .await?
        .iter()
        .filter(|h| !active_only || h.active_at(now))
        .map(|h| crate::holds::hold_json(h, now))
        .collect();
    Ok(Json(json!({ "holds": holds })))
}

/// Lift a legal hold (a `legal_hold` event); an optional JSON body `{reason}`. Admin
/// or privacy.
#[utoipa::path(
    delete,
    path = "/api/v1/legal-holds/{hold_id}",
    tag = "privacy",
    params(("hold_id" = String, Path, description = "hold_<ULID>")),
    responses(
        (status = 200, description = "Lifted", body = LegalHoldAnswer),
        WriteErrors,
        NotFound,
        Conflict,
    ),
    security(("api_key" = []))
)]
async fn lift(
    State(state): State<AppState>,
    principal: Principal,
    hold_id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let Path(hold_id) = hold_id.map_err(|e| path_error(&e))?;
    principal.require(HOLDERS)?;
    // No hold has an id outside this shape; don't ask the store (PostgreSQL refuses
    // some such text, e.g. NUL, with an error).
    if !evident_core::event::is_valid_id(&hold_id) {
        return Err(ApiError::not_found(format!("no legal hold {hold_id:?}")));
    }
    let body = object_or_empty(body)?;
    let reason = string(&body, "reason")?;
    let hold = crate::holds::lift(&state.app, &principal, &hold_id, reason.as_deref())
        .await
        .map_err(hold_problem)?;
    Ok(Json(crate::holds::hold_json(&hold, state.app.now_micros())))
}

/// A hold's domain error as problem+json.
fn hold_problem(e: HoldError) -> ApiError {
    match e {
        HoldError::Invalid { pointer, why } => ApiError::field(pointer, why),
        HoldError::NotFound(_) => ApiError::not_found(e.to_string()),
        HoldError::Lifted(_) => ApiError::conflict(e.to_string()),
        HoldError::Record(e) => super::record_problem(e),
        HoldError::Store(e) => e.into(),
    }
}
