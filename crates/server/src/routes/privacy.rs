//! `/api/v1/vault/reveal` and `/api/v1/subjects/erase`: the privacy role only.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

use super::body_error;
use crate::auth::{Principal, Role};
use crate::error::ApiResult;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/vault/reveal", post(reveal))
        .route("/api/v1/subjects/erase", post(erase))
}

/// A JSON body, strictly parsed.
fn json_body(body: Result<Bytes, BytesRejection>) -> ApiResult<Value> {
    let body = body.map_err(|e| body_error(&e))?;
    Ok(evident_core::json::parse_value(&body)?)
}

async fn reveal(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Privacy])?;
    let body = json_body(body)?;
    Ok(Json(
        crate::privacy::reveal(&state.app, &principal, &body).await?,
    ))
}

async fn erase(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Privacy])?;
    let body = json_body(body)?;
    Ok(Json(
        crate::privacy::erase(&state.app, &principal, &body).await?,
    ))
}
