//! `/api/v1/approvals`: human approvals (CONTRACT sections 4 and 6). Opening is for
//! ingest and admin keys, resolving for approvers and admins; readers see the queue,
//! an ingest key only its own requests (so an agent can wait on one).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{object as object_body, optional_string, required_string as string};
use super::openapi::{
    ApprovalAnswer, ApprovalList, Conflict, NotFound, OpenApprovalBody, ReadErrors,
    ResolveApprovalBody, WriteErrors,
};
use super::params::Params;
use super::path_error;
use crate::approvals::{ApprovalError, Field, OpenApproval, ResolveRequest};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::record::RecordError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open, list))
        .routes(routes!(get_one))
        .routes(routes!(resolve))
}

/// Open an approval request for a draft action; `job_hash` must be the hash of
/// `draft`. Ingest, admin.
#[utoipa::path(
    post,
    path = "/api/v1/approvals",
    tag = "approvals",
    request_body(content = OpenApprovalBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Opened (an `approval_request` event)", body = ApprovalAnswer),
        WriteErrors,
    ),
    security(("api_key" = []))
)]
async fn open(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::WRITERS)?;
    let body = object_body(body)?;
    let expires_in =
        match body.get("expires_in") {
            None | Some(Value::Null) => None,
            Some(value) => Some(value.as_i64().ok_or_else(|| {
                ApiError::field("/expires_in", "must be a whole number of seconds")
            })?),
        };
    let request = OpenApproval {
        job_id: string(&body, "job_id")?,
        job_hash: string(&body, "job_hash")?,
        action: string(&body, "action")?,
        reason: optional_string(&body, "reason")?,
        draft: match body.get("draft") {
            None | Some(Value::Null) => return Err(ApiError::field("/draft", "is required")),
            Some(draft) => draft.clone(),
        },
        trace_id: optional_string(&body, "trace_id")?,
        parent_event_id: optional_string(&body, "parent_event_id")?,
        expires_in,
        subject: optional_string(&body, "subject")?,
    };
    let (approval, appended) = crate::approvals::open(&state.app, &principal, request)
        .await
        .map_err(problem)?;
    let mut answer = crate::approvals::approval_json(&approval);
    answer["seq"] = json!(appended.seq);
    Ok(Json(answer))
}

/// The queue: open requests (`include_resolved=true`: all) in the order they were
/// opened, `limit` (default 100, at most 500) at a time. Readers; an ingest key sees
/// only its own requests.
#[utoipa::path(
    get,
    path = "/api/v1/approvals",
    tag = "approvals",
    params(
        ("include_resolved" = Option<bool>, Query, description = "Resolved and expired requests too"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("limit" = Option<u64>, Query, description = "1 to 500 (default 100)"),
    ),
    responses(
        (status = 200, description = "A page of requests", body = ApprovalList),
        ReadErrors,
    ),
    security(("api_key" = []))
)]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    require_reader_or_ingest(&principal)?;
    let include_resolved = match params.0.get("include_resolved").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::parameter(
                "include_resolved",
                "must be true or false",
            ))
        }
    };
    let limit = params
        .u64("limit")?
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let cursor = params.0.get("cursor").map(String::as_str);
    let (page, next) =
        crate::approvals::list(&state.app, &principal, include_resolved, cursor, limit)
            .await
            .map_err(problem)?;
    Ok(Json(json!({
        "approvals": page.iter().map(crate::approvals::approval_json).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

/// One request with its state, history, draft and (edited) final and diff. Readers;
/// an ingest key only its own requests (another's is 404).
#[utoipa::path(
    get,
    path = "/api/v1/approvals/{approval_id}",
    tag = "approvals",
    params(("approval_id" = String, Path, description = "`apr_…`")),
    responses(
        (status = 200, description = "The request", body = ApprovalAnswer),
        ReadErrors,
        NotFound,
    ),
    security(("api_key" = []))
)]
async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    require_reader_or_ingest(&principal)?;
    let Path(id) = path.map_err(|e| path_error(&e))?;
    let approval = crate::approvals::get(&state.app, &principal, &id)
        .await
        .map_err(problem)?;
    let answer = crate::approvals::approval_with_payloads(&state.app, &approval)
        .await
        .map_err(problem)?;
    Ok(Json(answer))
}

/// Resolve a request: approve, reject, edit (with `final`) or escalate, quoting its
/// `job_hash`. Approver, admin; never the key that opened it.
#[utoipa::path(
    post,
    path = "/api/v1/approvals/{approval_id}/resolve",
    tag = "approvals",
    params(("approval_id" = String, Path, description = "`apr_…`")),
    request_body(content = ResolveApprovalBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Resolved or escalated (an `approval_resolution` event)", body = ApprovalAnswer),
        WriteErrors,
        NotFound,
        Conflict,
    ),
    security(("api_key" = []))
)]
async fn resolve(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Approver, Role::Admin])?;
    let Path(id) = path.map_err(|e| path_error(&e))?;
    let body = object_body(body)?;
    let request = ResolveRequest {
        resolution: string(&body, "resolution")?,
        job_hash: string(&body, "job_hash")?,
        comment: string(&body, "comment")?,
        final_payload: body.get("final").filter(|v| !v.is_null()).cloned(),
        method: optional_string(&body, "method")?,
    };
    let (approval, appended) = crate::approvals::resolve(&state.app, &principal, &id, request)
        .await
        .map_err(problem)?;
    let mut answer = crate::approvals::approval_json(&approval);
    answer["event_id"] = json!(appended.event_id);
    answer["seq"] = json!(appended.seq);
    Ok(Json(answer))
}

fn require_reader_or_ingest(principal: &Principal) -> ApiResult<()> {
    if principal.role == Role::Ingest {
        return Ok(());
    }
    principal.require(Role::READERS)
}

/// An approvals error as problem+json.
fn problem(e: ApprovalError) -> ApiError {
    match e {
        ApprovalError::Invalid { field, why } => match field {
            Field::Cursor | Field::Limit => ApiError::parameter(field.as_str(), why),
            _ => ApiError::field(format!("/{}", field.as_str()), why),
        },
        ApprovalError::NotFound(_) => ApiError::not_found(e.to_string()),
        ApprovalError::Forbidden(why) => ApiError::forbidden(why),
        ApprovalError::HashMismatch { .. }
        | ApprovalError::Closed { .. }
        | ApprovalError::Expired { .. }
        | ApprovalError::DraftErased(_) => ApiError::conflict(e.to_string()),
        ApprovalError::Record(RecordError::Refused {
            error: evident_store::StoreError::NotFound(what),
            ..
        }) => ApiError::not_found(what),
        ApprovalError::Record(record) => super::record_problem(record),
        ApprovalError::Store(store) => store.into(),
    }
}
