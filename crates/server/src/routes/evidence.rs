//! `GET /api/v1/evidence?trace_id=|subject=|job_id=|case_id=` and
//! `POST /api/v1/evidence` (CONTRACT section 8): an evidence bundle, as a POSIX ustar
//! archive (`crate::evidence`). A subject travels in a URL only as its `subj_` token;
//! a clear identifier is posted, and becomes its token at once. Any reading role.
//!
//! The archive is built whole (in a temporary file, so memory stays bounded) before the
//! answer starts: an error is a problem+json answer, never a truncated archive.

use std::io::{Seek, Write};

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use evident_core::bundle::{Selection, SelectionKind};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::Params;
use crate::access_log::BodyNote;
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::evidence::EvidenceError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(evidence_get, evidence_post))
}

/// The selections, by the name of their parameter (or body member).
const SELECTORS: &[(&str, SelectionKind)] = &[
    ("trace_id", SelectionKind::Trace),
    ("subject", SelectionKind::Subject),
    ("job_id", SelectionKind::Job),
    ("case_id", SelectionKind::Case),
];

/// Exactly one selector among `given` (name → value), or a 400 naming the field.
fn one_selector<'a>(
    given: impl Iterator<Item = (&'a str, &'a str)>,
    name_of: impl Fn(&str) -> String,
) -> ApiResult<(SelectionKind, &'a str)> {
    let mut found = None;
    for (name, value) in given {
        let Some((_, kind)) = SELECTORS.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        if found.is_some() {
            return Err(field_error(
                &name_of(name),
                "give one of trace_id, subject, job_id, case_id, not several",
            ));
        }
        found = Some((*kind, value));
    }
    found.ok_or_else(|| {
        field_error(
            &name_of("trace_id"),
            "one of trace_id, subject, job_id, case_id is required",
        )
    })
}

/// A query parameter's error names it; a body member's, its JSON pointer.
fn field_error(name: &str, why: &str) -> ApiError {
    match name.strip_prefix('/') {
        Some(_) => ApiError::field(name, why),
        None => ApiError::parameter(name, why),
    }
}

fn api_error(error: EvidenceError, name_of: impl Fn(&str) -> String) -> ApiError {
    match error {
        EvidenceError::Invalid { field, why } => field_error(&name_of(field), &why),
        EvidenceError::NoCheckpoint => ApiError::conflict(error.to_string()),
        EvidenceError::NothingSelected { .. } => ApiError::not_found(error.to_string()),
        EvidenceError::Store(e) => e.into(),
        EvidenceError::Io(e) => ApiError::internal(format!("writing an evidence bundle: {e}")),
    }
}

/// Builds the bundle into a temporary file and answers it.
async fn answer(
    state: &AppState,
    selection: Selection,
    name_of: impl Fn(&str) -> String,
) -> ApiResult<Response> {
    let file = tempfile::tempfile()
        .map_err(|e| ApiError::internal(format!("a temporary file for a bundle: {e}")))?;
    let mut out = std::io::BufWriter::new(file);
    let summary = crate::evidence::export(&state.app, &selection, &mut out, &mut |_| {})
        .await
        .map_err(|e| api_error(e, &name_of))?;
    let io =
        |e: std::io::Error| ApiError::internal(format!("reading an evidence bundle back: {e}"));
    out.flush().map_err(io)?;
    let mut file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.rewind().map_err(io)?;
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    let filename = format!(
        "attachment; filename=\"evidence-{}.tar\"",
        selection.kind.as_str()
    );
    if let Ok(value) = HeaderValue::from_str(&filename) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert("evident-entries", HeaderValue::from(summary.entries));
    headers.insert(
        "evident-checkpoint-size",
        HeaderValue::from(summary.checkpoint_size),
    );
    // The read-access log records which subject was exported, as its token.
    if selection.kind == SelectionKind::Subject {
        response.extensions_mut().insert(BodyNote::of(
            "subject",
            serde_json::Value::String(selection.id.clone()),
        ));
    }
    Ok(response)
}

/// An evidence bundle of one trace, subject (as its `subj_` token), job or case: the
/// entries the latest checkpoint covers, with their tlog-proofs, payloads and salts,
/// the artifact and policy versions they name, the verifier key, a manifest and a
/// README (docs/evidence.md). Any reading role.
#[utoipa::path(
    get,
    path = "/api/v1/evidence",
    tag = "log",
    params(
        ("trace_id" = Option<String>, Query, description = "Every entry of this trace"),
        ("subject" = Option<String>, Query, description = "Every entry about this subject: its `subj_` token only (post a clear identifier)"),
        ("job_id" = Option<String>, Query, description = "Every entry of this job"),
        ("case_id" = Option<String>, Query, description = "Every entry of this case"),
    ),
    responses(
        (status = 200, description = "The bundle (POSIX ustar)", content_type = "application/x-tar"),
        (status = 404, description = "Nothing the latest checkpoint covers belongs to the selection", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No checkpoint signed yet", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::ReadErrors,
    ),
    security(("api_key" = []))
)]
async fn evidence_get(
    State(state): State<AppState>,
    principal: Principal,
    params: Params,
) -> ApiResult<Response> {
    principal.require(Role::READERS)?;
    let name_of = |name: &str| name.to_owned();
    let (kind, id) = one_selector(
        params.0.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        name_of,
    )?;
    let selection = crate::evidence::selection(kind, id).map_err(|e| api_error(e, name_of))?;
    answer(&state, selection, name_of).await
}

/// An evidence bundle, the selection in the body: `{"subject": "<clear identifier or
/// subj_ token>"}` (or `trace_id`, `job_id`, `case_id`). A clear identifier becomes its
/// token here, like everywhere else, and is never recorded.
#[utoipa::path(
    post,
    path = "/api/v1/evidence",
    tag = "log",
    request_body = super::openapi::EvidenceRequest,
    responses(
        (status = 200, description = "The bundle (POSIX ustar)", content_type = "application/x-tar"),
        (status = 404, description = "Nothing the latest checkpoint covers belongs to the selection", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No checkpoint signed yet", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::ReadErrors,
    ),
    security(("api_key" = []))
)]
async fn evidence_post(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    principal.require(Role::READERS)?;
    let body = super::body::object(body)?;
    let name_of = |name: &str| format!("/{name}");
    for (name, value) in &body {
        if !SELECTORS.iter().any(|(n, _)| n == name) {
            return Err(ApiError::field(
                format!("/{name}"),
                "unknown member: give one of trace_id, subject, job_id, case_id",
            ));
        }
        if !value.is_string() {
            return Err(ApiError::field(format!("/{name}"), "must be a string"));
        }
    }
    let (kind, id) = one_selector(
        body.iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?))),
        name_of,
    )?;
    let id = match kind {
        SelectionKind::Subject => crate::search::subject_filter(&state.app, id)
            .map_err(|_| ApiError::field("/subject", "must be a non-empty identifier"))?,
        _ => id.to_owned(),
    };
    let selection = crate::evidence::selection(kind, &id).map_err(|e| api_error(e, name_of))?;
    answer(&state, selection, name_of).await
}
