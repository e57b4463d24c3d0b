//! Auditors' views of the trail: traces, jobs and workflow-run timelines.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;

use super::params::Params;
use super::path_error;
use crate::answer::JsonAnswer;
use crate::auth::{Principal, Role};
use crate::error::ApiResult;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/traces/{trace_id}", get(trace))
        .route("/api/v1/jobs/{job_id}", get(job))
        .route("/api/v1/jobs/{job_id}/decisions", get(job_decisions))
        .route("/api/v1/workflow-runs/{run_id}/timeline", get(timeline))
}

async fn trace(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<JsonAnswer> {
    principal.require(Role::READERS)?;
    let Path(trace_id) = path.map_err(|e| path_error(&e))?;
    crate::search::trace(&state.app, &trace_id).await
}

async fn job(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<JsonAnswer> {
    principal.require(Role::READERS)?;
    let Path(job_id) = path.map_err(|e| path_error(&e))?;
    crate::search::job(&state.app, &job_id).await
}

async fn job_decisions(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<JsonAnswer> {
    principal.require(Role::READERS)?;
    let Path(job_id) = path.map_err(|e| path_error(&e))?;
    crate::search::job_decisions(&state.app, &job_id).await
}

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
