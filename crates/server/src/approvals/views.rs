//! Approvals as the API answers them.

use evident_store::approvals::{Approval, ApprovalResolution};
use evident_store::StoreError;
use serde_json::{json, Value};

use super::{approved_job_hash, ApprovalError};
use crate::state::App;

fn resolution_json(r: &ApprovalResolution) -> Value {
    json!({
        "resolution": r.resolution,
        "resolved_by": r.resolved_by,
        "method": r.method,
        "job_hash": r.expected_job_hash,
        "final_job_hash": r.final_job_hash,
        "at": crate::clock::format_micros(r.at_micros),
        "event_id": r.event_id,
    })
}

/// A request as the API answers it: where it stands, who asked and who answered
/// (key names and `method`), the hashes, and the events that record each step.
pub fn approval_json(approval: &Approval) -> Value {
    let request = &approval.request;
    let closed = approval.closed.as_ref();
    json!({
        "approval_id": request.approval_id,
        "job_id": request.job_id,
        "job_hash": request.job_hash,
        "action": request.action,
        "trace_id": request.trace_id,
        "state": approval.state,
        "requested_by": request.requested_by,
        "opened_at": crate::clock::format_micros(request.opened_micros),
        "expires_at": crate::clock::format_micros(request.expires_micros),
        "request_event_id": request.event_id,
        "resolution": closed.map(|c| c.resolution.clone()),
        "resolved_by": closed.map(|c| c.resolved_by.clone()),
        "method": closed.and_then(|c| c.method.clone()),
        "resolved_at": closed.map(|c| crate::clock::format_micros(c.at_micros)),
        "resolution_event_id": closed.map(|c| c.event_id.clone()),
        "final_job_hash": closed.and_then(|c| c.final_job_hash.clone()),
        "approved_job_hash": approved_job_hash(approval),
        "escalations": approval.history.iter().filter(|r| r.resolution == "escalated").count(),
        "history": approval.history.iter().map(resolution_json).collect::<Vec<_>>(),
    })
}

/// [`approval_json`] with the draft and, for an edit, the final and the RFC 6902
/// diff, read back from the events (tokens stay tokens); `*_erased: true` in place of
/// what an erasure made unshowable.
///
/// # Errors
/// Store errors.
pub async fn approval_with_payloads(
    app: &App,
    approval: &Approval,
) -> Result<Value, ApprovalError> {
    let mut answer = approval_json(approval);
    let read = |event_id: String| async move {
        crate::reading::event_by_id(app, &event_id)
            .await
            .map_err(|e| StoreError::Internal(format!("reading event {event_id}: {e:?}")))
    };
    if let Some((record, _)) = read(approval.request.event_id.clone()).await? {
        if record.erased {
            answer["draft_erased"] = Value::Bool(true);
        } else if let Ok(map) = record.to_map() {
            answer["draft"] = map.get("input").cloned().unwrap_or(Value::Null);
        }
    }
    if let Some(closed) = approval
        .closed
        .as_ref()
        .filter(|c| c.resolution == "edited")
    {
        if let Some((record, _)) = read(closed.event_id.clone()).await? {
            if record.erased {
                answer["final_erased"] = Value::Bool(true);
            } else if let Ok(map) = record.to_map() {
                let output = map.get("output").cloned().unwrap_or(Value::Null);
                answer["final"] = output.get("final").cloned().unwrap_or(Value::Null);
                answer["diff"] = output.get("diff").cloned().unwrap_or(Value::Null);
            }
        }
    }
    Ok(answer)
}
