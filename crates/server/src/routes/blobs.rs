//! `/api/v1/blobs`: upload a large payload, fetch a blob's (tokenized) bytes.
//!
//! An upload belongs to the subject of the first event that references it (its bytes
//! and the personal data found in it move under that subject's key, see
//! `crate::uploads`); an event of another subject referencing it is 409 naming the
//! field.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use evident_core::blob::parse_blob_ref;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{body_error, media_type};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::vault::BlobContent;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_blob))
        .routes(routes!(get_blob))
}

/// Upload a large payload (any media type) to reference from an event's payload; one
/// no event references within 24 h is dropped.
#[utoipa::path(
    post,
    path = "/api/v1/blobs",
    tag = "blobs",
    request_body(content = super::openapi::Binary, content_type = "*/*"),
    responses(
        (status = 200, description = "Stored; put the reference in a payload as is", body = super::openapi::BlobRef),
        super::openapi::WriteErrors,
    ),
    security(("api_key" = []))
)]
async fn post_blob(
    State(state): State<AppState>,
    principal: Principal,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(Role::WRITERS)?;
    let body = body.map_err(|e| body_error(&e))?;
    let media_type = media_type(&headers).unwrap_or_else(|| "application/octet-stream".into());
    if media_type.len() > 255 || !media_type.contains('/') {
        return Err(ApiError::field("/Content-Type", "not a media type"));
    }
    let reference = crate::uploads::upload(&state.app, body.to_vec(), &media_type).await?;
    Ok(Json(json!({"$blob": reference.to_ref_string()})))
}

/// A blob's (tokenized) bytes, in its media type.
#[utoipa::path(
    get,
    path = "/api/v1/blobs/{reference}",
    tag = "blobs",
    params(("reference" = String, Path, description = "sha256:<64 lowercase hex>")),
    responses(
        (status = 200, description = "The blob's bytes", body = super::openapi::Binary, content_type = "application/octet-stream"),
        (status = 410, description = "Erased (its subject's key was destroyed) or purged by retention (the detail names the run and when)", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::ReadErrors,
        super::openapi::NotFound,
    ),
    security(("api_key" = []))
)]
async fn get_blob(
    State(state): State<AppState>,
    principal: Principal,
    reference: Result<Path<String>, PathRejection>,
) -> ApiResult<impl IntoResponse> {
    let Path(reference) = reference.map_err(|e| super::path_error(&e))?;
    principal.require(Role::READERS)?;
    let parsed = parse_blob_ref(&reference)
        .ok_or_else(|| ApiError::parameter("reference", "must be sha256:<64 lowercase hex>"))?;
    let Some(blob) = state.app.store.blob(&parsed).await? else {
        // Purged by retention: gone on purpose, said so with when and by which run.
        let purged = state.app.store.purged_blobs(&[parsed]).await?;
        return Err(match purged.get(&parsed) {
            Some(p) => ApiError::new(
                axum::http::StatusCode::GONE,
                "Purged",
                format!(
                    "blob {reference} was purged by retention run {} at {}",
                    p.run_id,
                    crate::clock::format_micros(p.purged_micros)
                ),
            ),
            None => ApiError::not_found(format!("no blob {reference}")),
        });
    };
    match state.app.vault.open_blob(&blob).await? {
        BlobContent::Readable { bytes, .. } => {
            Ok(([(header::CONTENT_TYPE, blob.media_type)], bytes))
        }
        BlobContent::Erased => Err(ApiError::new(
            axum::http::StatusCode::GONE,
            "Erased",
            format!("blob {reference} was erased: its subject's key was destroyed"),
        )),
    }
}
