//! HTTP routers, one per resource area; handlers are thin: extract, call one service,
//! map the result.

pub mod access;
pub mod approvals;
pub mod artifacts;
pub mod blobs;
mod body;
pub mod console;
pub mod events;
pub mod evidence;
pub mod health;
pub mod holds;
pub mod log;
pub mod openapi;
pub mod params;
pub mod policies;
pub mod privacy;
pub mod stats;
pub mod trail;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::Router;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::AppState;

/// Every documented route, and the OpenAPI document their annotations make.
fn documented() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, openapi) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(events::router())
        .merge(blobs::router())
        .merge(log::router())
        .merge(trail::router())
        .merge(privacy::router())
        .merge(artifacts::router())
        .merge(approvals::router())
        .merge(policies::router())
        .merge(holds::router())
        .merge(access::router())
        .merge(stats::router())
        .merge(evidence::router())
        .merge(health::router())
        .merge(crate::otlp::router())
        .split_for_parts();
    let mut document = openapi::finish(openapi);
    // Served beside the routes it describes, from the document itself.
    document.paths.add_path_operation(
        OPENAPI_PATH,
        vec![utoipa::openapi::HttpMethod::Get],
        utoipa::openapi::path::OperationBuilder::new()
            .tag("health")
            .summary(Some("This document (OpenAPI 3.1); public"))
            .response(
                "200",
                utoipa::openapi::Response::new("The OpenAPI document"),
            )
            .build(),
    );
    (routes, document)
}

/// The OpenAPI 3.1 description of the API, as served at `GET /api/v1/openapi.json`
/// (pretty-printed).
pub fn openapi_json() -> String {
    documented().1.to_pretty_json().unwrap_or_default()
}

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    let limit = state.app.settings.max_body_bytes;
    let (routes, document) = documented();
    let document = Arc::new(document.to_pretty_json().unwrap_or_default());
    routes
        .route(OPENAPI_PATH, openapi::serve(document))
        .merge(console::router())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                "this endpoint does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::access_log::record_access,
        ))
        .with_state(state)
}

/// Where the OpenAPI document is served (anyone may read it).
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// Maps a failure to read the body (too large, broken connection) to problem+json.
/// A change that was not recorded (nothing was stored) as problem+json: a refused
/// effect is a conflict with the state, a refused payload names its field, an
/// overloaded or stopped sequencer is 503.
pub fn record_problem(e: crate::record::RecordError) -> ApiError {
    use crate::record::RecordError;
    use crate::sequencer::SubmitError;
    match e {
        RecordError::Refused { error, .. } => ApiError::conflict(error.to_string()),
        RecordError::Submit(SubmitError::Overloaded) => {
            ApiError::unavailable("the server is overloaded; nothing was stored, retry later")
        }
        RecordError::Submit(SubmitError::Stopped) => {
            ApiError::unavailable("the server is shutting down")
        }
        RecordError::Submit(SubmitError::Store(e)) | RecordError::Store(e) => e.into(),
        RecordError::Invalid(field) => field.into(),
    }
}

pub fn body_error(rejection: &axum::extract::rejection::BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload too large",
            "the request body is over the server's limit; nothing was stored",
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Unreadable body",
            "the request body could not be read",
        )
    }
}

/// The media type of a request, lowercased, without parameters.
pub fn media_type(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    Some(value.split(';').next()?.trim().to_ascii_lowercase())
}

/// Maps an undecodable path segment (e.g. percent-encoded invalid UTF-8) to a 400.
pub fn path_error(rejection: &axum::extract::rejection::PathRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "Invalid path",
        format!("the path could not be decoded: {}", rejection.body_text()),
    )
}
