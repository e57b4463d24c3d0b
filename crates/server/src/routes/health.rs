//! `/healthz` (the process answers), `/readyz` (the store answers), `/metrics`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::error::ApiResult;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn readyz(State(state): State<AppState>) -> ApiResult<&'static str> {
    state.app.store.tree_head().await?;
    Ok("ready\n")
}

async fn metrics(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let head = state.app.store.tree_head().await?;
    let checkpoint = state.app.store.latest_checkpoint().await?;
    let body = state
        .app
        .metrics
        .render(head.size, checkpoint.map_or(0, |c| c.size));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body))
}
