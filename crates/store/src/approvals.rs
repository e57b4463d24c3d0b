//! Human approvals' storage (CONTRACT sections 4 and 6): requests, their resolutions,
//! escalations and expiries.
//!
//! Rows are written only as [`crate::Effect`]s ([`crate::Effect::OpenApproval`],
//! [`crate::Effect::ResolveApproval`]) in the transaction that appends the
//! `approval_request` / `approval_resolution` event, so the table never holds a state
//! the log does not state. A resolution is one conditional change (the request still
//! open, unexpired at the resolution's instant, with the quoted `job_hash`): of two
//! resolutions racing on two servers sharing one database, exactly one commits and the
//! other is refused with `Conflict`.
//!
//! What was approved (the draft, the final, the diff) is not here: it is payload of
//! the events, sealed under the subject's key, so an erasure reaches it. Rows hold
//! hashes, names and instants only.

use async_trait::async_trait;

use crate::StoreResult;

/// States of a request. `open` until resolved or expired; escalation keeps it open.
pub const OPEN: &str = "open";
/// Resolutions an approver may give (`escalated` keeps the request open).
pub const RESOLUTIONS: &[&str] = &["approved", "rejected", "edited", "escalated"];
/// The resolution the server writes when a request passes its `expires_at` (DENY).
pub const EXPIRED: &str = "expired";

/// A request as opened, with its `approval_request` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApproval {
    pub approval_id: String,
    pub job_id: String,
    /// Lowercase hex SHA-256 of the draft's RFC 8785 bytes.
    pub job_hash: String,
    pub action: String,
    /// The API key that asked (it may read the request, never resolve it).
    pub requested_by: String,
    pub trace_id: String,
    /// The subject token the draft is sealed under, if any.
    pub subject: Option<String>,
    /// The `approval_request` event.
    pub event_id: String,
    /// Its `received_at`, µs.
    pub opened_micros: i64,
    /// From this instant on the request can only expire.
    pub expires_micros: i64,
}

/// A resolution (or escalation, or expiry) of an open request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalResolution {
    pub approval_id: String,
    /// The request's `job_hash` as the approver quoted it: refused unless equal.
    pub expected_job_hash: String,
    /// One of [`RESOLUTIONS`] or [`EXPIRED`].
    pub resolution: String,
    /// The approver's key name (the server's principal for an expiry).
    pub resolved_by: String,
    pub method: Option<String>,
    /// For `edited`: the hash of the final.
    pub final_job_hash: Option<String>,
    /// The `approval_resolution` event.
    pub event_id: String,
    /// Its `received_at`, µs. Approvers act only before `expires_at`; an expiry only
    /// at or after it.
    pub at_micros: i64,
}

/// One request and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub request: NewApproval,
    /// [`OPEN`], or the final resolution (`approved`, `rejected`, `edited`, `expired`).
    pub state: String,
    /// The resolution that closed it (`None` while open).
    pub closed: Option<ApprovalResolution>,
    /// Every resolution in commit order: escalations, then the closing one.
    pub history: Vec<ApprovalResolution>,
}

/// Which requests a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalFilter {
    /// Resolved and expired ones too (default: open only).
    pub include_resolved: bool,
    /// Only those this key asked for (an ingest key reads its own).
    pub requested_by: Option<String>,
    /// Only those of this job.
    pub job_id: Option<String>,
    /// Paging: requests opened after this `(opened_micros, approval_id)`.
    pub after: Option<(i64, String)>,
    pub limit: usize,
}

/// Reads of approvals. Writes are effects (module docs).
#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// One request with its history.
    async fn approval(&self, approval_id: &str) -> StoreResult<Option<Approval>>;

    /// Requests in `(opened_micros, approval_id)` order, with their history.
    async fn approvals(&self, filter: &ApprovalFilter) -> StoreResult<Vec<Approval>>;

    /// Ids of open requests whose `expires_at` is at or before `now_micros`, oldest
    /// deadline first, at most `limit`.
    async fn approvals_due(&self, now_micros: i64, limit: usize) -> StoreResult<Vec<String>>;
}

/// An [`Approval`] from its row and its resolutions in commit order (shared by the
/// backends): the closing resolution is the one that is not an escalation.
pub(crate) fn assemble(
    request: NewApproval,
    state: String,
    history: Vec<ApprovalResolution>,
) -> Approval {
    let closed = history
        .iter()
        .rev()
        .find(|r| r.resolution != "escalated")
        .cloned();
    Approval {
        request,
        state,
        closed,
        history,
    }
}

/// Why a resolution was refused, from the row as it stands (shared by the backends).
pub(crate) fn refusal(r: &ApprovalResolution, state: &str, job_hash: &str, expires: i64) -> String {
    if state != OPEN {
        format!("approval {} is {state}", r.approval_id)
    } else if job_hash != r.expected_job_hash {
        format!(
            "approval {} is for job_hash {job_hash}, not {}",
            r.approval_id, r.expected_job_hash
        )
    } else if r.resolution == EXPIRED {
        format!(
            "approval {} does not expire before {expires}",
            r.approval_id
        )
    } else {
        format!("approval {} expired", r.approval_id)
    }
}
