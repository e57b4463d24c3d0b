//! `/api/v1/artifacts`: the artifact registry (CONTRACT section 6). Publishing and
//! moving labels are for admins; reading is for readers.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use evident_store::artifacts::ArtifactSelector;
use serde_json::{json, Value};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{object as object_body, required_string as string};
use super::openapi::{
    ArtifactAnswer, Conflict, LabelMove, NotFound, PublishArtifact, ReadErrors, WriteErrors,
};
use super::params::Params;
use super::path_error;
use crate::artifacts::{ArtifactError, Field, PublishRequest};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(publish))
        .routes(routes!(read))
        .routes(routes!(move_label))
}

/// Publish a version of an artifact (prompt, tool schema, model, retrieval index,
/// workflow, eval dataset); versions are immutable. Admin.
#[utoipa::path(
    post,
    path = "/api/v1/artifacts",
    tag = "artifacts",
    request_body(content = PublishArtifact, content_type = "application/json"),
    responses(
        (status = 200, description = "Published (an `artifact_publish` event), or the same content already was (`created: false`)", body = ArtifactAnswer),
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
        kind: string(&body, "kind")?,
        name: string(&body, "name")?,
        version: string(&body, "version")?,
        content: match body.get("content") {
            None => return Err(ApiError::field("/content", "is required")),
            Some(content) => content.clone(),
        },
        metadata: body.get("metadata").cloned(),
    };
    let published = crate::artifacts::publish(&state.app, &principal, request)
        .await
        .map_err(problem)?;
    let mut answer = crate::artifacts::artifact_json(&published.artifact);
    answer["created"] = Value::Bool(published.created);
    Ok(Json(answer))
}

/// Move a label (e.g. `production`) to a published version (a `label_move` event).
/// Admin.
#[utoipa::path(
    post,
    path = "/api/v1/artifacts/{kind}/{name}/labels",
    tag = "artifacts",
    params(
        ("kind" = String, Path, description = "prompt, tool_schema, model, retrieval_index, workflow or eval_dataset"),
        ("name" = String, Path, description = "The artifact's name"),
    ),
    request_body(content = LabelMove, content_type = "application/json"),
    responses(
        (status = 200, description = "Where the label points now, where it pointed before, and the event that moved it (none if it was already there)", body = super::openapi::Object),
        WriteErrors,
        NotFound,
    ),
    security(("api_key" = []))
)]
async fn move_label(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Admin])?;
    let Path((kind, name)) = path.map_err(|e| path_error(&e))?;
    let body = object_body(body)?;
    let label = string(&body, "label")?;
    let version = string(&body, "version")?;
    let moved =
        crate::artifacts::move_label(&state.app, &principal, &kind, &name, &label, &version)
            .await
            .map_err(problem)?;
    Ok(Json(json!({
        "label": moved.label,
        "from_version": moved.from_version,
        "artifact": crate::artifacts::artifact_json(&moved.artifact),
        "moved": moved.event.is_some(),
        "event_id": moved.event.as_ref().map(|e| e.event_id.clone()),
        "seq": moved.event.as_ref().map(|e| e.seq),
    })))
}

/// One version of an artifact: the latest, `name@version`, the one under `?label=`, or
/// with `?at=` the one that was latest (or under the label) at that time. Readers.
#[utoipa::path(
    get,
    path = "/api/v1/artifacts/{kind}/{name}",
    tag = "artifacts",
    params(
        ("kind" = String, Path, description = "prompt, tool_schema, model, retrieval_index, workflow or eval_dataset"),
        ("name" = String, Path, description = "The artifact's name, or `name@version`"),
        ("label" = Option<String>, Query, description = "The version under this label"),
        ("at" = Option<String>, Query, description = "RFC 3339 time: the answer as it was then"),
    ),
    responses(
        (status = 200, description = "The version with its content, content hash and the log entry that published it", body = ArtifactAnswer),
        ReadErrors,
        NotFound,
    ),
    security(("api_key" = []))
)]
async fn read(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Params,
) -> ApiResult<Json<Value>> {
    principal.require(Role::READERS)?;
    let Path((kind, name)) = path.map_err(|e| path_error(&e))?;
    let (name, version) = match name.split_once('@') {
        Some((name, version)) => (name.to_owned(), Some(version.to_owned())),
        None => (name, None),
    };
    let label = params.0.get("label").cloned();
    let selector = match (version, label) {
        (Some(_), Some(_)) => {
            return Err(ApiError::parameter(
                "label",
                "names a version; do not ask for both @version and a label",
            ))
        }
        (Some(version), None) => ArtifactSelector::Version(version),
        (None, Some(label)) => ArtifactSelector::Label(label),
        (None, None) => ArtifactSelector::Latest,
    };
    let at = match params.0.get("at") {
        None => None,
        // An unescaped `+01:00` arrives as ` 01:00` (form encoding); take it back.
        Some(text) => Some(
            evident_core::time::parse_rfc3339(&text.replace(' ', "+"))
                .map(evident_core::time::unix_micros)
                .map_err(|_| ApiError::parameter("at", "must be an RFC 3339 time with offset"))?,
        ),
    };
    let found = crate::artifacts::get(&state.app, &kind, &name, &selector, at)
        .await
        .map_err(problem)?;
    let mut answer = crate::artifacts::artifact_json(&found);
    if let ArtifactSelector::Label(label) = &selector {
        answer["label"] = Value::String(label.clone());
    }
    if let Some(at) = at {
        answer["at"] = Value::String(crate::clock::format_micros(at));
    }
    Ok(Json(answer))
}

/// A registry error as problem+json.
fn problem(e: ArtifactError) -> ApiError {
    match e {
        ArtifactError::Invalid { field, why } => match field {
            // Path and query parts are named as parameters, body members as pointers.
            Field::At => ApiError::parameter("at", why),
            _ => ApiError::field(format!("/{}", field.as_str()), why),
        },
        ArtifactError::VersionTaken { .. } => ApiError::conflict(e.to_string()),
        ArtifactError::NotFound(what) => ApiError::not_found(what),
        ArtifactError::Contended => ApiError::unavailable(e.to_string()),
        ArtifactError::Record(record) => super::record_problem(record),
        ArtifactError::Store(store) => store.into(),
    }
}
