//! `GET /api/v1/whoami` and the dashboard's aggregates, `GET /api/v1/stats/activity`
//! and `GET /api/v1/stats/approvals` (readers): what the web console needs to choose
//! its pages and draw its charts, served from indexes (`crate::stats`).

use axum::extract::State;
use axum::Json;
use evident_store::AgentBinding;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{ActivityAnswer, ReadErrors, WaitingAnswer, WhoAmI};
use super::params::Params;
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::stats::{StatsError, Window, AGE_BANDS_SECS};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(whoami))
        .routes(routes!(activity))
        .routes(routes!(waiting))
}

/// The calling key's name and role (any valid key): what the console shows and which
/// pages it offers. The key itself is never echoed.
#[utoipa::path(
    get,
    path = "/api/v1/whoami",
    tag = "console",
    responses(
        (status = 200, description = "The key's name, role and the agents it may claim (null: any)", body = WhoAmI),
        ReadErrors,
    ),
    security(("api_key" = []))
)]
async fn whoami(principal: Principal) -> ApiResult<Json<Value>> {
    Ok(Json(json!({
        "name": principal.name,
        "role": principal.role.as_str(),
        "agents": match &principal.agents {
            AgentBinding::Any => Value::Null,
            AgentBinding::Only(agents) => json!(agents),
            AgentBinding::Unreadable(_) => json!([]),
        },
    })))
}

fn time_param(params: &Params, name: &str) -> ApiResult<Option<i64>> {
    params
        .0
        .get(name)
        .map(|text| {
            evident_core::time::parse_rfc3339(text)
                .map(evident_core::time::unix_micros)
                .map_err(|_| ApiError::parameter(name, "must be an RFC 3339 time with an offset"))
        })
        .transpose()
}

fn utc(micros: i64) -> String {
    crate::clock::format_micros(micros)
}

fn problem(e: StatsError) -> ApiError {
    match e {
        StatsError::EmptyWindow => ApiError::parameter("to", "must be after `from`"),
        StatsError::WindowTooLong => ApiError::parameter(
            "from",
            format!(
                "the window from `from` to `to` covers at most {} hours",
                crate::stats::MAX_HOURS
            ),
        ),
        StatsError::Store(e) => e.into(),
    }
}

/// Events per hour (of the events' own timestamps) over a window of whole hours: per
/// agent (the busiest eight, the rest summed), all client events, `error` events and
/// escalations (`approval_request` events). Served from an hourly rollup that follows
/// the text index, never by reading the log. Readers.
#[utoipa::path(
    get,
    path = "/api/v1/stats/activity",
    tag = "console",
    params(
        ("from" = Option<String>, Query, description = "RFC 3339; its hour is the first (default: 23 hours before `to`'s)"),
        ("to" = Option<String>, Query, description = "RFC 3339; its hour is the last (default: now)"),
    ),
    responses(
        (status = 200, description = "Series, one number per hour", body = ActivityAnswer),
        ReadErrors,
    ),
    security(("api_key" = []))
)]
async fn activity(
    State(state): State<AppState>,
    principal: Principal,
    params: Params,
) -> ApiResult<Json<Value>> {
    principal.require(Role::READERS)?;
    let window = Window::of(
        time_param(&params, "from")?,
        time_param(&params, "to")?,
        state.app.now_micros(),
    )
    .map_err(problem)?;
    let found = crate::stats::activity(&state.app, window)
        .await
        .map_err(problem)?;
    Ok(Json(json!({
        "from": utc(found.window.from_micros),
        "to": utc(found.window.to_micros),
        "hours": found.hours.iter().map(|&h| utc(h)).collect::<Vec<_>>(),
        "agents": found.agents.iter().map(|(agent, events)| json!({"agent": agent, "events": events})).collect::<Vec<_>>(),
        "events": found.events,
        "errors": found.errors,
        "escalations": found.escalations,
        "indexed_through": found.indexed_through,
    })))
}

/// The approvals waiting: how many, the oldest, and how many in each age band
/// (`< 1 h`, `1-4 h`, `4-24 h`, `> 24 h`). From the approvals' state index. Readers.
#[utoipa::path(
    get,
    path = "/api/v1/stats/approvals",
    tag = "console",
    responses(
        (status = 200, description = "The open approvals and their ages", body = WaitingAnswer),
        ReadErrors,
    ),
    security(("api_key" = []))
)]
async fn waiting(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<Value>> {
    principal.require(Role::READERS)?;
    let now = state.app.now_micros();
    let found = crate::stats::waiting(&state.app, now)
        .await
        .map_err(problem)?;
    let labels = ["< 1 h", "1-4 h", "4-24 h", "> 24 h"];
    let mut lower = 0;
    let bands: Vec<Value> = labels
        .iter()
        .zip(found.bands)
        .enumerate()
        .map(|(i, (label, count))| {
            let band = json!({"label": label, "older_than_seconds": lower, "count": count});
            lower = AGE_BANDS_SECS.get(i).copied().unwrap_or(lower);
            band
        })
        .collect();
    Ok(Json(json!({
        "waiting": found.count,
        "oldest_opened_at": found.oldest_opened_micros.map(utc),
        "oldest_age_seconds": found.oldest_opened_micros.map(|t| (now - t).max(0) / 1_000_000),
        "bands": bands,
    })))
}
