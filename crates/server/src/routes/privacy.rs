//! `/api/v1/vault/reveal` and `/api/v1/subjects/erase`: the privacy role only.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::Json;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body_error;
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::privacy::{EraseError, EraseRequest};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reveal))
        .routes(routes!(erase))
}

/// A JSON body, strictly parsed.
fn json_body(body: Result<Bytes, BytesRejection>) -> ApiResult<Value> {
    let body = body.map_err(|e| body_error(&e))?;
    Ok(evident_core::json::parse_value(&body)?)
}

/// Reveal the clear values of tokens; each call is a `vault_access` event.
#[utoipa::path(
    post,
    path = "/api/v1/vault/reveal",
    tag = "privacy",
    request_body = super::openapi::RevealRequest,
    responses(
        (status = 200, description = "The clear values", body = super::openapi::RevealAnswer),
        (status = 410, description = "Erased", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::WriteErrors,
    ),
    security(("api_key" = []))
)]
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

/// Erase a subject by destroying its keys (crypto-shredding); logged as a
/// `subject_erasure` event; answers a receipt.
#[utoipa::path(
    post,
    path = "/api/v1/subjects/erase",
    tag = "privacy",
    request_body = super::openapi::EraseRequest,
    responses(
        (status = 200, description = "The erasure's receipt", body = super::openapi::ErasureReceipt),
        super::openapi::WriteErrors,
        super::openapi::NotFound,
        super::openapi::Conflict,
    ),
    security(("api_key" = []))
)]
async fn erase(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Privacy])?;
    let body = json_body(body)?;
    let string = |name: &str| -> ApiResult<String> {
        match body.get(name) {
            Some(Value::String(text)) => Ok(text.clone()),
            None | Some(Value::Null) => Ok(String::new()),
            Some(_) => Err(ApiError::field(format!("/{name}"), "must be a string")),
        }
    };
    if !body.is_object() {
        return Err(ApiError::field("", "the body must be a JSON object"));
    }
    let request = EraseRequest {
        subject: string("subject")?,
        reason: string("reason")?,
    };
    match crate::privacy::erase(&state.app, &principal, request).await {
        Ok(receipt) => Ok(Json(crate::privacy::receipt_json(&receipt))),
        Err(e) => Err(erase_problem(e)),
    }
}

/// An erasure's domain error as problem+json.
fn erase_problem(e: EraseError) -> ApiError {
    match e {
        EraseError::InvalidSubject => ApiError::field("/subject", &e),
        EraseError::InvalidReason(why) => ApiError::field("/reason", why),
        EraseError::UnknownSubject => ApiError::not_found(e.to_string()),
        EraseError::Contended => ApiError::unavailable(e.to_string()),
        EraseError::Record(record) => super::record_problem(record),
        EraseError::Store(store) => store.into(),
    }
}
