//! The log as C2SP tlog-tiles (`/checkpoint`, `/tile/...`), its description
//! (`/api/v1/log`) and proofs (`/api/v1/proofs/...`).
//!
//! Checkpoints and hash tiles are public, so any tlog-tiles client can audit the tree;
//! entry bundles hold records and need a reading role.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use evident_tlog::{parse_tile_path, TileId, HASH_SIZE, TILE_WIDTH};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::Params;
use super::path_error;
use crate::auth::{MaybePrincipal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(checkpoint))
        .routes(routes!(tile))
        .routes(routes!(log_info))
        .routes(routes!(inclusion))
        .routes(routes!(consistency))
}

/// The latest signed checkpoint (C2SP tlog-checkpoint, a signed note) with its witness
/// cosignatures; with witnesses configured, the newest one that reached the quorum
/// (see `cosigning::served_checkpoint`); public.
#[utoipa::path(
    get,
    path = "/checkpoint",
    tag = "log",
    responses(
        (status = 200, description = "The signed note", body = String, content_type = "text/plain"),
        crate::routes::openapi::NotFound,
    )
)]
async fn checkpoint(State(state): State<AppState>) -> ApiResult<Response> {
    let note = crate::cosigning::served_checkpoint(&state.app)
        .await?
        .ok_or_else(|| ApiError::not_found("no checkpoint has been signed yet"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        note,
    )
        .into_response())
}

/// C2SP tlog-tiles: hash tiles `tile/<L>/<N>[.p/<W>]` (public) and entry bundles
/// `tile/entries/<N>[.p/<W>]` (a reading role).
#[utoipa::path(
    get,
    path = "/tile/{*path}",
    tag = "log",
    params(("path" = String, Path, description = "The tile path after /tile/, e.g. 0/x001/234.p/17 or entries/000")),
    responses(
        (status = 200, description = "The tile's bytes", body = crate::routes::openapi::Binary, content_type = "application/octet-stream"),
        crate::routes::openapi::ReadErrors,
        crate::routes::openapi::NotFound,
    ),
    security((), ("api_key" = []))
)]
async fn tile(
    State(state): State<AppState>,
    MaybePrincipal(principal): MaybePrincipal,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let Path(path) = path.map_err(|e| path_error(&e))?;
    let tile =
        parse_tile_path(&path).map_err(|e| ApiError::not_found(format!("tile/{path}: {e}")))?;
    let store = &*state.app.store;
    let width = u64::from(tile.width);
    let data = match tile.level {
        None => {
            principal
                .ok_or_else(|| {
                    ApiError::unauthorized("entry bundles need an API key with a reading role")
                })?
                .require(Role::READERS)?;
            let start = tile
                .index
                .checked_mul(u64::from(TILE_WIDTH))
                .filter(|start| start.checked_add(width).is_some())
                .ok_or_else(|| ApiError::not_found(format!("tile/{path} does not exist")))?;
            let entries = store.read_entries(start, start + width).await?;
            if entries.len() as u64 != width {
                return Err(ApiError::not_found(format!(
                    "tile/{path} does not exist yet"
                )));
            }
            let bytes: Vec<&[u8]> = entries.iter().map(|e| e.entry.as_slice()).collect();
            evident_tlog::encode_entry_bundle(&bytes).map_err(ApiError::internal)?
        }
        Some(level) => {
            let id = TileId {
                level,
                index: tile.index,
            };
            let mut tiles = store.read_tiles(&[id]).await?;
            let data = tiles.remove(&id).unwrap_or_default();
            let wanted = usize::from(tile.width) * HASH_SIZE;
            if data.len() < wanted {
                return Err(ApiError::not_found(format!(
                    "tile/{path} does not exist yet"
                )));
            }
            data[..wanted].to_vec()
        }
    };
    // A full tile never changes; a partial one at a given width never changes either.
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        data,
    )
        .into_response())
}

/// The log's origin, verifier key, size and latest checkpoint; public.
#[utoipa::path(
    get,
    path = "/api/v1/log",
    tag = "log",
    responses((status = 200, description = "The log", body = crate::routes::openapi::LogInfo))
)]
async fn log_info(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let app = &state.app;
    let head = app.store.tree_head().await?;
    let checkpoint = app.store.latest_checkpoint().await?;
    let checkpoint_size = checkpoint.as_ref().map_or(0, |c| c.size);
    let (witnesses, witness_quorum) = crate::cosigning::status(app, checkpoint.as_ref()).await?;
    let history = crate::signing::history(&*app.store)
        .await
        .map_err(|e| match e {
            crate::signing::HistoryError::Store(e) => ApiError::from(e),
            other => ApiError::internal(other),
        })?;
    // Each later key with the old key's last checkpoint, which covers its
    // announcement: a client that trusts any one key can follow the chain.
    let mut verifier_keys = Vec::with_capacity(history.len());
    for key in &history {
        let handover = match key.from_size.checked_sub(1) {
            Some(last_of_old) if key.from_size > 0 => app
                .store
                .checkpoints(last_of_old, 1)
                .await?
                .into_iter()
                .find(|c| c.size == last_of_old)
                .map(|c| c.note),
            _ => None,
        };
        verifier_keys.push(json!({
            "verifier_key": key.verifier_key, "from_size": key.from_size,
            "announced_at": key.announced_at, "handover_checkpoint": handover,
        }));
    }
    Ok(Json(json!({
        "origin": app.identity.origin,
        // The key that signs checkpoints from now on.
        "verifier_key": history.last().map(|k| &k.verifier_key),
        "verifier_keys": verifier_keys,
        "tree_size": head.size,
        "checkpoint": checkpoint.map(|c| c.note),
        "pending": head.size - checkpoint_size.min(head.size),
        "witnesses": witnesses,
        "witness_quorum": witness_quorum,
        // No server task verifies the log yet. One that does should run
        // `verifier::Depth::Full`: off the request path, the database's own check is
        // worth its cost there.
        "last_verify": null,
    })))
}

/// RFC 6962 inclusion proof of entry `seq` in the tree of `tree_size` (default: the
/// latest checkpoint's); a `seq` it does not cover is 409.
#[utoipa::path(
    get,
    path = "/api/v1/proofs/inclusion",
    tag = "log",
    params(
        ("seq" = u64, Query, description = "The entry"),
        ("tree_size" = Option<u64>, Query, description = "Default: the latest checkpoint's size"),
    ),
    responses(
        (status = 200, description = "The proof", body = crate::routes::openapi::InclusionProof),
        crate::routes::openapi::ReadErrors,
        crate::routes::openapi::Conflict,
    )
)]
async fn inclusion(State(state): State<AppState>, params: Params) -> ApiResult<Json<Value>> {
    let seq = params
        .u64("seq")?
        .ok_or_else(|| ApiError::parameter("seq", "is required"))?;
    let proof = crate::proofs::inclusion(&*state.app.store, seq, params.u64("tree_size")?).await?;
    Ok(Json(json!(proof)))
}

/// RFC 6962 consistency proof between two tree sizes.
#[utoipa::path(
    get,
    path = "/api/v1/proofs/consistency",
    tag = "log",
    params(
        ("from" = u64, Query, description = "The earlier tree size"),
        ("to" = Option<u64>, Query, description = "Default: the latest checkpoint's size"),
    ),
    responses(
        (status = 200, description = "The proof", body = crate::routes::openapi::ConsistencyProof),
        crate::routes::openapi::ReadErrors,
        crate::routes::openapi::Conflict,
    )
)]
async fn consistency(State(state): State<AppState>, params: Params) -> ApiResult<Json<Value>> {
    let from = params
        .u64("from")?
        .ok_or_else(|| ApiError::parameter("from", "is required"))?;
    let proof = crate::proofs::consistency(&*state.app.store, from, params.u64("to")?).await?;
    Ok(Json(json!(proof)))
}
