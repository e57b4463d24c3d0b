//! `GET /api/v1/access-log`: who read what, when, with which key (admin, auditor).

use axum::extract::State;
use axum::Json;
use evident_store::AccessQuery;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{AccessLogAnswer, ReadErrors};
use super::params::Params;
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Largest page.
const MAX_LIMIT: usize = 1_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(access_log))
}

/// The read-access log, in order: each record names the key, its role, the method,
/// path and query (a subject only as its token), the status and when. Accesses of the
/// last second may not be written yet. Admin or auditor.
#[utoipa::path(
    get,
    path = "/api/v1/access-log",
    tag = "log",
    params(
        ("key" = Option<String>, Query, description = "An API key's name"),
        ("from" = Option<String>, Query, description = "RFC 3339, inclusive"),
        ("to" = Option<String>, Query, description = "RFC 3339, inclusive"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("limit" = Option<u64>, Query, description = "1 to 1000, default 100"),
    ),
    responses(
        (status = 200, description = "Access records", body = AccessLogAnswer),
        ReadErrors,
    ),
    security(("api_key" = []))
)]
async fn access_log(
    State(state): State<AppState>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    principal.require(&[Role::Admin, Role::Auditor])?;
    let time = |name: &str| -> ApiResult<Option<i64>> {
        params
            .0
            .get(name)
            .map(|text| {
                evident_core::time::parse_rfc3339(text)
                    .map(evident_core::time::unix_micros)
                    .map_err(|_| {
                        ApiError::parameter(name, "must be an RFC 3339 time with an offset")
                    })
            })
            .transpose()
    };
    let limit = match params.0.get("limit").map(String::as_str) {
        None => 100,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::parameter("limit", format!("must be 1 to {MAX_LIMIT}")))?,
    };
    let after_seq = params
        .0
        .get("cursor")
        .map(|c| {
            c.parse::<u64>()
                .map_err(|_| ApiError::parameter("cursor", "not a cursor"))
        })
        .transpose()?;
    let query = AccessQuery {
        key: params.0.get("key").map(String::as_str).map(str::to_owned),
        from_micros: time("from")?,
        to_micros: time("to")?,
        after_seq,
        limit: limit + 1,
    };
    let mut records = crate::access_log::search(&state.app, &query).await?;
    let more = records.len() > limit;
    records.truncate(limit);
    let next_cursor = more
        .then(|| records.last().and_then(|r| r["seq"].as_u64()))
        .flatten()
        .map(|seq| seq.to_string());
    Ok(Json(
        json!({ "records": records, "next_cursor": next_cursor }),
    ))
}
