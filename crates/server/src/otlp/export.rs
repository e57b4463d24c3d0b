//! The OTLP export service, shared by OTLP/HTTP and OTLP/gRPC: map every span
//! ([`super::map`]), check each mapped event on its own
//! (`evident_core::event::validate_client_event`), and submit the valid ones through
//! the same ingest service as `POST /api/v1/events` ([`crate::ingest::ingest`]:
//! privacy, idempotency, durability — the answer comes after the commit).
//!
//! Spans that fail are reported in `partial_success` while the others are stored
//! (CONTRACT section 5). The ingest service stores a request all or nothing, so a
//! span it refuses on its own (an `event_id` already stored with other content, an
//! entry over the size limit) is taken out and the rest submitted again, a bounded
//! number of times; the mapping is deterministic, so the spans are simply mapped
//! again. When no span at all can be stored, the export fails with 400 and nothing
//! is stored.

use std::collections::HashSet;

use evident_core::event::validate_client_event;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::Value;

use super::map::{map_request, Rejected};
use super::response::{ExportSummary, OtlpError};
use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::state::App;

/// Most spans one export may carry: one sequencer group, so a request stays one
/// durable commit. Larger batches are refused with 413 (the exporter must not
/// retry them as they are; collectors split batches by size).
pub const MAX_SPANS_PER_REQUEST: usize = crate::sequencer::MAX_GROUP_EVENTS;

/// How many spans the ingest service may refuse one at a time before the whole
/// export is refused; bounds the work a hostile batch can cause.
const MAX_INDIVIDUAL_REFUSALS: usize = 8;

/// How many rejected spans the `partial_success` message names.
const MAX_LISTED_REJECTIONS: usize = 5;

/// Longest reason given for one rejected span.
const MAX_REASON_CHARS: usize = 300;

/// Exports one request for `principal` (role ingest or admin).
///
/// # Errors
/// [`OtlpError`]: 403 for a key that may not ingest or may not claim a span's
/// agent, 413 for more than [`MAX_SPANS_PER_REQUEST`] spans, 400 when no span can
/// be stored, 503 when the store is unavailable or overloaded. Nothing is stored.
pub async fn export(
    app: &App,
    principal: &Principal,
    request: ExportTraceServiceRequest,
) -> Result<ExportSummary, OtlpError> {
    principal
        .require(Role::WRITERS)
        .map_err(|e| OtlpError::permission_denied(e.detail))?;
    let total: usize = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    if total > MAX_SPANS_PER_REQUEST {
        return Err(OtlpError::too_large(format!(
            "the request carries {total} spans, over the limit of {MAX_SPANS_PER_REQUEST} per request; \
             send smaller batches; nothing was stored"
        )));
    }
    let mut refused: Vec<(usize, Rejected)> = Vec::new();
    loop {
        let excluded: HashSet<usize> = refused.iter().map(|(p, _)| *p).collect();
        let batch = prepare(&request, &excluded);
        check_agents(principal, &batch.events)?;
        let mut rejected = batch.rejected;
        rejected.extend(refused.iter().map(|(_, r)| r.clone()));
        if batch.events.is_empty() {
            return summarize(0, total, rejected);
        }
        match crate::ingest::ingest(app, principal, batch.events).await {
            Ok(results) => return summarize(results.len(), total, rejected),
            Err(e) => {
                let Some(index) = refused_index(&e).filter(|i| *i < batch.positions.len()) else {
                    return Err(e.into());
                };
                if refused.len() >= MAX_INDIVIDUAL_REFUSALS {
                    return Err(OtlpError::bad_data(format!(
                        "more than {MAX_INDIVIDUAL_REFUSALS} spans cannot be stored ({}); nothing was stored",
                        refusal_reason(&e)
                    )));
                }
                let position = batch.positions[index];
                refused.push((
                    position,
                    Rejected {
                        span: batch.labels[index].clone(),
                        reason: refusal_reason(&e),
                    },
                ));
            }
        }
    }
}

/// The events to submit, with where each came from, and the spans already rejected.
struct Batch {
    events: Vec<Value>,
    /// Position of each event's span in the request.
    positions: Vec<usize>,
    labels: Vec<String>,
    rejected: Vec<Rejected>,
}

/// Maps and validates every span not in `excluded` (positions in the request).
fn prepare(request: &ExportTraceServiceRequest, excluded: &HashSet<usize>) -> Batch {
    let mapped = map_request(request);
    let mut batch = Batch {
        events: Vec::with_capacity(mapped.spans.len()),
        positions: Vec::with_capacity(mapped.spans.len()),
        labels: Vec::with_capacity(mapped.spans.len()),
        rejected: mapped.rejected,
    };
    for span in mapped.spans {
        if excluded.contains(&span.position) {
            continue;
        }
        match validate_client_event(&span.event) {
            Ok(()) => {
                batch.events.push(span.event);
                batch.positions.push(span.position);
                batch.labels.push(span.span_id);
            }
            Err(e) => batch.rejected.push(Rejected {
                span: span.span_id,
                reason: e.to_string(),
            }),
        }
    }
    batch
}

/// A key bound to agents may only send spans of those agents (CONTRACT section 1);
/// like `POST /api/v1/events`, one span of another agent refuses the request.
fn check_agents(principal: &Principal, events: &[Value]) -> Result<(), OtlpError> {
    let other = events
        .iter()
        .filter_map(|e| e.get("actor")?.get("id")?.as_str())
        .find(|agent| !principal.may_claim(agent));
    match other {
        Some(agent) => Err(OtlpError::permission_denied(format!(
            "{}; nothing was stored",
            principal.claim_refusal(agent)
        ))),
        None => Ok(()),
    }
}

/// The position in the submitted batch of the one event the ingest service refused,
/// when its error names one (`/<index>/...`): a 400 for that event or a 409 for its
/// `event_id`. Other failures concern the whole request.
fn refused_index(e: &ApiError) -> Option<usize> {
    if !matches!(e.status.as_u16(), 400 | 409) {
        return None;
    }
    let text = e.pointer.as_deref().unwrap_or(&e.detail);
    let rest = text.strip_prefix('/')?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Why the ingest service refused one span, relative to the span's event.
fn refusal_reason(e: &ApiError) -> String {
    if e.status.as_u16() == 409 {
        return "the span was already stored with different content; a span may be sent again \
                only unchanged"
            .into();
    }
    let detail = e.detail.strip_prefix('/').unwrap_or(&e.detail);
    let after_index = detail.trim_start_matches(|c: char| c.is_ascii_digit());
    after_index.to_owned()
}

fn summarize(
    accepted: usize,
    total: usize,
    rejected: Vec<Rejected>,
) -> Result<ExportSummary, OtlpError> {
    if rejected.is_empty() {
        return Ok(ExportSummary {
            accepted,
            rejected: 0,
            message: String::new(),
        });
    }
    let mut message = format!(
        "{} of {total} spans rejected, the others were stored: ",
        rejected.len()
    );
    let listed: Vec<String> = rejected
        .iter()
        .take(MAX_LISTED_REJECTIONS)
        .map(|r| {
            let reason: String = r.reason.chars().take(MAX_REASON_CHARS).collect();
            format!("span {}: {reason}", r.span)
        })
        .collect();
    message.push_str(&listed.join("; "));
    if rejected.len() > MAX_LISTED_REJECTIONS {
        message.push_str(&format!(
            "; and {} more",
            rejected.len() - MAX_LISTED_REJECTIONS
        ));
    }
    if accepted == 0 {
        let message = message.replace(", the others were stored", "; nothing was stored");
        return Err(OtlpError::bad_data(message));
    }
    Ok(ExportSummary {
        accepted,
        rejected: rejected.len(),
        message,
    })
}

/// The principal of an `Authorization` header (HTTP) or `authorization` metadata
/// (gRPC): `Bearer <api key>`, the same keys and rules as the HTTP API.
///
/// # Errors
/// 401 for a missing, malformed, unknown or revoked key; 503 when the key store
/// cannot be read.
pub async fn authenticate(app: &App, authorization: Option<&str>) -> Result<Principal, OtlpError> {
    let header = authorization.ok_or_else(|| {
        OtlpError::unauthenticated("an `authorization: Bearer <api key>` header is required")
    })?;
    let secret = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .filter(|key| !key.is_empty())
        .ok_or_else(|| {
            OtlpError::unauthenticated("the authorization header must be `Bearer <api key>`")
        })?;
    app.keys
        .resolve(secret)
        .await
        .map_err(|e| OtlpError::from(ApiError::from(e)))?
        .ok_or_else(|| OtlpError::unauthenticated("unknown or revoked API key"))
}
