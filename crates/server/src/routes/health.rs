//! `/healthz` (the process answers), `/readyz` (the store answers), `/metrics`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiResult;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "ok", body = String)))]
async fn healthz() -> &'static str {
    "ok\n"
}

/// The store answers.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "ready", body = String),
        (status = 503, description = "The store does not answer", body = crate::routes::openapi::Problem, content_type = "application/problem+json"),
    )
)]
async fn readyz(State(state): State<AppState>) -> ApiResult<&'static str> {
    state.app.store.tree_head().await?;
    Ok("ready\n")
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "The metrics", body = String, content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let head = state.app.store.tree_head().await?;
    let checkpoint = state.app.store.latest_checkpoint().await?;
    let body = state
        .app
        .metrics
        .render(head.size, checkpoint.map_or(0, |c| c.size));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body))
}
