//! HTTP routers, one per resource area; handlers are thin: extract, call one service,
//! map the result.

pub mod artifacts;
pub mod blobs;
pub mod events;
pub mod health;
pub mod log;
pub mod params;
pub mod privacy;
pub mod trail;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    let limit = state.app.settings.max_body_bytes;
    Router::new()
        .merge(events::router())
        .merge(blobs::router())
        .merge(log::router())
        .merge(trail::router())
        .merge(privacy::router())
        .merge(artifacts::router())
        .merge(health::router())
        .merge(crate::otlp::router())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                "this endpoint does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Maps a failure to read the body (too large, broken connection) to problem+json.
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
