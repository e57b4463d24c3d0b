//! `/api/v1/policies`, `/api/v1/policy/...` and `/api/v1/decide` (CONTRACT section
//! 6): publishing and rolling back policy sets (admin), reading them and their audit
//! trail (readers), deciding (ingest, admin).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use evident_store::policies::DecisionFilter;
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{object as object_body, optional_string, required_string as string};
use super::openapi::{
    Conflict, DecideAnswer, DecideBody, NotFound, PublishPolicy, ReadErrors, WriteErrors,
};
use super::params::Params;
use super::path_error;
use crate::auth::{Principal, Role};
use crate::decide::{DecideError, DecideRequest};
use crate::error::{ApiError, ApiResult};
use crate::policies::{PolicyServiceError, PublishRequest};
use crate::state::AppState;

/// Most decisions one audit answer lists.
const MAX_AUDIT_LIMIT: u64 = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(publish, list))
        .routes(routes!(rollback))
        .routes(routes!(audit))
        .routes(routes!(replay))
        .routes(routes!(decide))
}

/// Publish the next version of a policy set (a `policy_publish` event); it becomes
/// active. Refused (400, naming the field and line) if the text does not parse, does
/// not validate strictly against the schema, lacks an `@id` on a rule, reuses a rule
/// id of another active set, or fails one of its test cases. Admin.
#[utoipa::path(
    post,
    path = "/api/v1/policies",
    tag = "policies",
    request_body(content = PublishPolicy, content_type = "application/json"),
    responses(
        (status = 200, description = "Published and active: the set, its version, the event, the new policy_snapshot", body = super::openapi::Object),
        WriteErrors,
        Conflict,
    ),
    security(("api_key" = []))
)]
async fn publish(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Admin])?;
    let body = object_body(body)?;
    let request = PublishRequest {
        id: string(&body, "id")?,
        text: string(&body, "text")?,
        schema: string(&body, "schema")?,
        tests: crate::policies::parse_tests(body.get("tests")).map_err(problem)?,
    };
    let changed = crate::policies::publish(&state.app, &principal, request)
        .await
        .map_err(problem)?;
    Ok(Json(changed_json(&changed)))
}

/// Re-activate the version before the active one of a set (a `policy_rollback`
/// event). Admin.
#[utoipa::path(
    post,
    path = "/api/v1/policies/{id}/rollback",
    tag = "policies",
    params(("id" = String, Path, description = "The policy set")),
    responses(
        (status = 200, description = "Rolled back: the version active now, the one before, the event, the new policy_snapshot", body = super::openapi::Object),
        WriteErrors,
        NotFound,
        Conflict,
    ),
    security(("api_key" = []))
)]
async fn rollback(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Admin])?;
    let Path(id) = path.map_err(|e| path_error(&e))?;
    let changed = crate::policies::rollback(&state.app, &principal, &id)
        .await
        .map_err(problem)?;
    Ok(Json(changed_json(&changed)))
}

/// The active policy sets: version, text, schema, rules, and state (`active`, or
/// `failing` with the reason when its tests failed when it was loaded: then every
/// decision is DENY). Readers.
#[utoipa::path(
    get,
    path = "/api/v1/policies",
    tag = "policies",
    responses(
        (status = 200, description = "{policy_snapshot, generation, sets: [...]}", body = super::openapi::Object),
        ReadErrors,
    ),
    security(("api_key" = []))
)]
async fn list(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<Value>> {
    principal.require(Role::READERS)?;
    Ok(Json(crate::policies::list(&state.app).await?))
}

/// Every publish and rollback (`history`), and the decisions matching the filters
/// (`decisions`, from an index: oldest first, at most `limit`). Readers.
#[utoipa::path(
    get,
    path = "/api/v1/policy/audit",
    tag = "policies",
    params(
        ("from" = Option<String>, Query, description = "RFC 3339: decisions at or after"),
        ("to" = Option<String>, Query, description = "RFC 3339: decisions at or before"),
        ("rule_id" = Option<String>, Query, description = "Decisions whose policy_rule_id is this"),
        ("decision" = Option<String>, Query, description = "ALLOW, DENY or REQUIRE_APPROVAL"),
        ("agent" = Option<String>, Query, description = "Decisions for this agent"),
        ("limit" = Option<u64>, Query, description = "At most this many decisions (default and most 1000)"),
    ),
    responses(
        (status = 200, description = "{history: [...], decisions: [...]}", body = super::openapi::Object),
        ReadErrors,
    ),
    security(("api_key" = []))
)]
async fn audit(
    State(state): State<AppState>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    principal.require(Role::READERS)?;
    let time = |name: &str| -> ApiResult<Option<i64>> {
        params
            .0
            .get(name)
            .map(|text| {
                evident_core::time::parse_rfc3339(&text.replace(' ', "+"))
                    .map(evident_core::time::unix_micros)
                    .map_err(|_| ApiError::parameter(name, "must be an RFC 3339 time with offset"))
            })
            .transpose()
    };
    let decision = params.0.get("decision").cloned();
    if let Some(d) = &decision {
        if evident_policy::Outcome::parse(d).is_none() {
            return Err(ApiError::parameter(
                "decision",
                "must be ALLOW, DENY or REQUIRE_APPROVAL",
            ));
        }
    }
    let limit = params.u64("limit")?.unwrap_or(MAX_AUDIT_LIMIT);
    if limit == 0 || limit > MAX_AUDIT_LIMIT {
        return Err(ApiError::parameter(
            "limit",
            format!("must be 1 to {MAX_AUDIT_LIMIT}"),
        ));
    }
    let filter = DecisionFilter {
        from_micros: time("from")?,
        to_micros: time("to")?,
        rule_id: params.0.get("rule_id").cloned(),
        decision,
        agent: params.0.get("agent").cloned(),
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
    };
    Ok(Json(crate::policies::audit(&state.app, &filter).await?))
}

/// A logged `policy_decision` evaluated again against the policy versions it names:
/// `same`, and `notes` saying what changed or what an erasure made unshowable.
/// Readers.
#[utoipa::path(
    get,
    path = "/api/v1/policy/replay/{event_id}",
    tag = "policies",
    params(("event_id" = String, Path, description = "A policy_decision event")),
    responses(
        (status = 200, description = "{logged, replayed, same, notes, current_policy_snapshot}", body = super::openapi::Object),
        ReadErrors,
        NotFound,
    ),
    security(("api_key" = []))
)]
async fn replay(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::READERS)?;
    let Path(event_id) = path.map_err(|e| path_error(&e))?;
    match crate::decide::replay(&state.app, &event_id)
        .await
        .map_err(decide_problem)?
    {
        Some(replayed) => Ok(Json(crate::decide::replayed_json(&replayed))),
        None => Err(ApiError::not_found(format!("no event {event_id:?}"))),
    }
}

/// Decide a request against every active policy set (CONTRACT section 6). The
/// answer comes once the `policy_decision` event is durable. Ingest, admin; a key
/// bound to agents may decide only for them.
#[utoipa::path(
    post,
    path = "/api/v1/decide",
    tag = "policies",
    request_body(content = DecideBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The decision, recorded", body = DecideAnswer),
        WriteErrors,
    ),
    security(("api_key" = []))
)]
async fn decide(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Ingest, Role::Admin])?;
    let body = object_body(body)?;
    let context = match body.get("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(ApiError::field("/context", "must be an object")),
    };
    let request = DecideRequest {
        agent: string(&body, "agent")?,
        action: string(&body, "action")?,
        resource: string(&body, "resource")?,
        context,
        payload: match body.get("payload") {
            None => return Err(ApiError::field("/payload", "is required")),
            Some(payload) => payload.clone(),
        },
        job_id: string(&body, "job_id")?,
        trace_id: optional_string(&body, "trace_id")?,
        subject: optional_string(&body, "subject")?,
    };
    let decided = crate::decide::decide(&state.app, &principal, request)
        .await
        .map_err(decide_problem)?;
    Ok(Json(crate::decide::decided_json(&decided)))
}

fn changed_json(c: &crate::policies::Changed) -> Value {
    serde_json::json!({
        "id": c.set_id,
        "version": c.version,
        "from_version": c.from_version,
        "sha256": c.text_sha256,
        "policy_snapshot": c.snapshot,
        "event_id": c.event_id,
        "seq": c.seq,
    })
}

fn problem(e: PolicyServiceError) -> ApiError {
    match e {
        PolicyServiceError::Invalid(error) => ApiError::field(format!("/{}", error.field()), error),
        PolicyServiceError::Field { field, why } => ApiError::field(format!("/{field}"), why),
        PolicyServiceError::NotFound(what) => ApiError::not_found(what),
        PolicyServiceError::Conflict(what) => ApiError::conflict(what),
        PolicyServiceError::Record(record) => super::record_problem(record),
        PolicyServiceError::Store(store) => store.into(),
    }
}

fn decide_problem(e: DecideError) -> ApiError {
    match e {
        DecideError::Invalid { field, why } => {
            ApiError::field(format!("/{}", field.replace('.', "/")), why)
        }
        DecideError::Forbidden(why) => ApiError::forbidden(why),
        DecideError::Contended => ApiError::unavailable(e.to_string()),
        DecideError::Record(record) => super::record_problem(record),
        DecideError::Store(store) => store.into(),
    }
}
