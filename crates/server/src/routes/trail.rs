//! Auditors' views of the trail: traces, jobs and workflow-run timelines.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::Params;
use super::path_error;
use crate::answer::JsonAnswer;
use crate::auth::{Principal, Role};
use crate::error::ApiResult;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(trace))
        .routes(routes!(job))
        .routes(routes!(job_decisions))
        .routes(routes!(timeline))
}

/// A trace's events by timestamp then `seq`, and its causal tree.
#[utoipa::path(
    get,
    path = "/api/v1/traces/{trace_id}",
    tag = "search",
    params(("trace_id" = String, Path, description = "The trace id")),
    responses(
        (status = 200, description = "A trace's events by timestamp then `seq`, and its causal tree", body = super::openapi::TraceAnswer),
        super::openapi::ReadErrors,
        super::openapi::NotFound,
    ),
    security(("api_key" = []))
)]
async fn trace(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<JsonAnswer> {
    principal.require(Role::READERS)?;
    let Path(trace_id) = path.map_err(|e| path_error(&e))?;
    crate::search::trace(&state.app, &trace_id).await
}

/// A job's state, derived from its events.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}",
    tag = "search",
    params(("job_id" = String, Path, description = "context.job_id")),
    responses(
        (status = 200, description = "A job's state, derived from its events", body = super::openapi::JobAnswer),
        super::openapi::ReadErrors,
        super::openapi::NotFound,
    ),
    security(("api_key" = []))
)]
async fn job(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<JsonAnswer> {
    principal.require(Role::READERS)?;
    let Path(job_id) = path.map_err(|e| path_error(&e))?;
    crate::search::job(&state.app, &job_id).await
}

/// A job's `policy_decision` events.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{job_id}/decisions",
    tag = "search",
    params(("job_id" = String, Path, description = "context.job_id")),
    responses(
        (status = 200, description = "A job's `policy_decision` events", body = super::openapi::JobDecisions),
        super::openapi::ReadErrors,
        super::openapi::NotFound,
    ),
    security(("api_key" = []))
)]
async fn job_decisions(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<JsonAnswer> {
    principal.require(Role::READERS)?;
    let Path(job_id) = path.map_err(|e| path_error(&e))?;
    crate::search::job_decisions(&state.app, &job_id).await
}

/// A workflow run's first `limit` events in time order.
#[utoipa::path(
    get,
    path = "/api/v1/workflow-runs/{run_id}/timeline",
    tag = "search",
    params(
        ("run_id" = String, Path, description = "context.workflow_run_id"),
        ("limit" = Option<u32>, Query, description = "1 to 1000 (default 1000); larger is a 400"),
    ),
    responses(
        (status = 200, description = "The run's events", body = super::openapi::Timeline),
        super::openapi::ReadErrors,
        super::openapi::NotFound,
    ),
    security(("api_key" = []))
)]
async fn timeline(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> ApiResult<JsonAnswer> {
    principal.require(Role::READERS)?;
    let Path(run_id) = path.map_err(|e| path_error(&e))?;
    let limit = params.u64("limit")?;
    crate::search::timeline(&state.app, &run_id, limit).await
}
