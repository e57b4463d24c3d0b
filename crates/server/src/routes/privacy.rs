//! `/api/v1/vault/reveal` and `/api/v1/subjects/erase`: the privacy role only.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body_error;
use crate::access_log::BodyNote;
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::privacy::{EraseError, EraseRequest};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reveal))
        .routes(routes!(erase))
        .routes(routes!(erasure))
}

/// Adds to a receipt the inclusion proof of entry `seq` and the checkpoint it is
/// checked against, or `pending: true` before a checkpoint covers it.
async fn add_proof(state: &AppState, seq: u64, receipt: &mut Value) -> ApiResult<()> {
    let store = &*state.app.store;
    match store.latest_checkpoint().await? {
        Some(checkpoint) if checkpoint.size > seq => {
            let proof = crate::proofs::inclusion(store, seq, Some(checkpoint.size)).await?;
            receipt["proof"] = serde_json::to_value(&proof).map_err(ApiError::internal)?;
            receipt["checkpoint"] = Value::from(checkpoint.note);
        }
        _ => receipt["pending"] = Value::Bool(true),
    }
    Ok(())
}

/// An erasure's receipt and state: what was destroyed, its `subject_erasure` entry,
/// and, once a checkpoint covers it, the entry's inclusion proof. Privacy or admin.
#[utoipa::path(
    get,
    path = "/api/v1/subjects/erasures/{erasure_id}",
    tag = "privacy",
    params(("erasure_id" = String, Path, description = "The erasure's id (its event's id)")),
    responses(
        (status = 200, description = "The receipt", body = super::openapi::ErasureReceipt),
        super::openapi::ReadErrors,
        super::openapi::NotFound,
    ),
    security(("api_key" = []))
)]
async fn erasure(
    State(state): State<AppState>,
    principal: Principal,
    erasure_id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let Path(erasure_id) = erasure_id.map_err(|e| super::path_error(&e))?;
    principal.require(&[Role::Privacy, Role::Admin])?;
    let not_found = || ApiError::not_found(format!("no erasure {erasure_id:?}"));
    if !evident_core::event::is_valid_id(&erasure_id) {
        return Err(not_found());
    }
    let record = crate::privacy::erasure_record(&state.app, &erasure_id)
        .await?
        .ok_or_else(not_found)?;
    let mut receipt = crate::privacy::erasure_record_json(&record);
    add_proof(&state, record.seq, &mut receipt).await?;
    Ok(Json(receipt))
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
) -> Response {
    let mut note = BodyNote::default();
    let answer = async {
        principal.require(&[Role::Privacy])?;
        let body = json_body(body)?;
        note = reveal_note(&body);
        Ok::<_, ApiError>(Json(
            crate::privacy::reveal(&state.app, &principal, &body).await?,
        ))
    }
    .await;
    note.on(answer)
}

/// What the access log keeps of a reveal: the tokens asked for (a token is no clear
/// value; anything else in the list is left out, the request is refused anyway).
fn reveal_note(body: &Value) -> BodyNote {
    let tokens: Vec<Value> = body
        .get("tokens")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|t| evident_core::pii::is_pii_token(t) || evident_core::token::is_subject_token(t))
        .map(Value::from)
        .collect();
    BodyNote::of("tokens", Value::Array(tokens))
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
) -> Response {
    let mut note = BodyNote::default();
    let answer = erase_noted(&state, &principal, body, &mut note).await;
    note.on(answer)
}

/// The erasure; the subject goes in `note` as its token once read, so an attempt
/// that fails (a subject no event carries: 404; held: 409) is noted with it.
async fn erase_noted(
    state: &AppState,
    principal: &Principal,
    body: Result<Bytes, BytesRejection>,
    note: &mut BodyNote,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Privacy])?;
    let body = json_body(body)?;
    if let Some(subject) = body
        .get("subject")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
    {
        *note = BodyNote::of(
            "subject",
            Value::from(crate::access_log::subject_as_token(&state.app, subject)),
        );
    }
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
    match crate::privacy::erase(&state.app, principal, request).await {
        Ok(receipt) => {
            let mut answer = crate::privacy::receipt_json(&receipt);
            add_proof(state, receipt.event.seq, &mut answer).await?;
            Ok(Json(answer))
        }
        Err(e) => Err(erase_problem(e)),
    }
}

/// An erasure's domain error as problem+json.
pub fn erase_problem(e: EraseError) -> ApiError {
    match e {
        EraseError::InvalidSubject => ApiError::field("/subject", &e),
        EraseError::InvalidReason(why) => ApiError::field("/reason", why),
        EraseError::UnknownSubject => ApiError::not_found(e.to_string()),
        EraseError::Held { .. } => ApiError::conflict(e.to_string()),
        EraseError::Contended => ApiError::unavailable(e.to_string()),
        EraseError::Record(record) => super::record_problem(record),
        EraseError::Store(store) => store.into(),
    }
}
