//! Human approvals bound to the exact payload (CONTRACT sections 4 and 6): requests,
//! resolutions, escalations and expiries.
//!
//! Every change is a server event committed with its state change (see
//! [`crate::record`]): `approval_request` with [`Effect::OpenApproval`],
//! `approval_resolution` with [`Effect::ResolveApproval`]. The events carry the
//! `job_hash` (SHA-256 of the draft's RFC 8785 bytes, [`job_hash_of`]) in the entry, so
//! each approval is bound inside the tamper-evident log to the exact payload it
//! approved; the draft, an edit's final and the RFC 6902 diff between them are
//! governed payload (`input` / `output`, tokenized and sealed under the subject's key,
//! commitments in the entry), so an erasure reaches them and the entries never hold a
//! customer's e-mail.
//!
//! Rules: only an approver (or admin) resolves, never the key that asked; only an open,
//! unexpired request, quoting its `job_hash`; `edited` needs a `final`; `escalated`
//! keeps it open for another approver. A request past its `expires_at` (default
//! [`DEFAULT_EXPIRES_IN`]) is expired by the server ([`expire_due`], run by
//! [`run_expiry`] and on a late resolve attempt): an `approval_resolution` with
//! `resolution: expired`, which means DENY.
//!
//! Who reads: readers see every request; an ingest key sees only the requests it
//! opened (another's is "not found", so a key learns nothing of other agents' jobs),
//! which lets an agent wait on its own request.

mod governed;
mod views;

use std::time::Duration;

use evident_core::governance::{is_job_hash, job_hash_of};
use evident_core::record::ServerEvent;
use evident_store::approvals::{
    Approval, ApprovalFilter, ApprovalResolution, NewApproval, EXPIRED, OPEN, RESOLUTIONS,
};
use evident_store::{Appended, Effect, EventToAppend, StoreError};
use serde_json::{json, Map, Value};

use crate::auth::{Principal, Role};
use crate::record::RecordError;
use crate::state::App;

/// How long a request stays open when it does not say (CONTRACT section 6: 24 h).
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(24 * 3600);

/// Longest `expires_in` accepted: a week. An approval is a decision about one action
/// now; a request nobody looks at for a week should be asked again, not approved late.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(7 * 24 * 3600);

/// Longest `action`, `method` or id, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// Longest `reason` or `comment`, in bytes (they are stored in the entry, scanned).
pub const MAX_TEXT_BYTES: usize = 4096;

/// How often the expiry task looks for requests past their `expires_at` by default
/// (`Settings::approval_expiry_every`): an expired request is DENY either way (a late
/// resolve is refused at once), so the sweep only makes the log say so promptly.
pub const DEFAULT_EXPIRY_EVERY: Duration = Duration::from_secs(5);

/// Most requests expired by one sweep (the next sweep takes the rest).
const EXPIRY_BATCH: usize = 100;

/// Most requests one listing answers.
pub const MAX_LIST: usize = 500;

/// What an agent (or `/decide`) asks to have approved.
#[derive(Debug, Clone)]
pub struct OpenApproval {
    pub job_id: String,
    /// Must equal [`job_hash_of`] `draft`.
    pub job_hash: String,
    /// What the job does (`refund`, `send_email`, ...).
    pub action: String,
    /// Why approval is needed (scanned text).
    pub reason: Option<String>,
    /// The action to be performed, as the approver will see it.
    pub draft: Value,
    /// The trace of the request that caused it; `evident:approval_request` when none.
    pub trace_id: Option<String>,
    /// The event that caused it (the `policy_decision`, when `/decide` opens it).
    pub parent_event_id: Option<String>,
    /// Seconds until it expires (default [`DEFAULT_EXPIRES_IN`]).
    pub expires_in: Option<i64>,
    /// The person the draft is about, in clear or as a `subj_` token: the draft is
    /// sealed under that subject's key.
    pub subject: Option<String>,
}

/// An approver's answer.
#[derive(Debug, Clone)]
pub struct ResolveRequest {
    /// `approved`, `rejected`, `edited` or `escalated`.
    pub resolution: String,
    /// The request's `job_hash`, quoted: proves the approver saw that draft.
    pub job_hash: String,
    pub comment: String,
    /// For `edited`: the action as approved instead of the draft.
    pub final_payload: Option<Value>,
    /// How the approver acted (`console`, `cli`, `api`, `slack`, ...); default `api`.
    pub method: Option<String>,
}

/// Which field of a request is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    JobId,
    JobHash,
    Action,
    Reason,
    Draft,
    TraceId,
    ParentEventId,
    ExpiresIn,
    Subject,
    Resolution,
    Comment,
    Final,
    Method,
    Cursor,
    Limit,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JobId => "job_id",
            Self::JobHash => "job_hash",
            Self::Action => "action",
            Self::Reason => "reason",
            Self::Draft => "draft",
            Self::TraceId => "trace_id",
            Self::ParentEventId => "parent_event_id",
            Self::ExpiresIn => "expires_in",
            Self::Subject => "subject",
            Self::Resolution => "resolution",
            Self::Comment => "comment",
            Self::Final => "final",
            Self::Method => "method",
            Self::Cursor => "cursor",
            Self::Limit => "limit",
        }
    }
}

/// Why an approval request was not done; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("{}: {why}", field.as_str())]
    Invalid { field: Field, why: String },
    #[error("approval {0} does not exist")]
    NotFound(String),
    /// The key may not do this to this request (the requester resolving it).
    #[error("{0}")]
    Forbidden(String),
    /// The quoted `job_hash` is not the request's: the approver saw another draft.
    #[error("job_hash {quoted} is not the hash of this request's draft ({expected}); reload the request and approve what it asks")]
    HashMismatch { expected: String, quoted: String },
    /// Resolved already (or expired by the sweep).
    #[error("approval {id} is {state}; only an open request can be resolved")]
    Closed { id: String, state: String },
    /// Past its `expires_at`: it can only expire (which means DENY).
    #[error(
        "approval {id} expired at {expires_at}; an expired request means DENY, open a new one"
    )]
    Expired { id: String, expires_at: String },
    /// The draft is crypto-shredded (its subject was erased): no diff can be made.
    #[error("approval {0}'s draft was erased with its subject; it can only be approved or rejected as it stands")]
    DraftErased(String),
    #[error(transparent)]
    Record(RecordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: Field, why: impl Into<String>) -> ApprovalError {
    ApprovalError::Invalid {
        field,
        why: why.into(),
    }
}

fn check_name(field: Field, value: &str) -> Result<(), ApprovalError> {
    if evident_core::event::is_valid_id(value) && value.len() <= MAX_NAME_BYTES {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("1 to {MAX_NAME_BYTES} bytes of printable ASCII"),
        ))
    }
}

fn check_text(field: Field, value: &str) -> Result<(), ApprovalError> {
    if value.len() <= MAX_TEXT_BYTES {
        Ok(())
    } else {
        Err(invalid(field, format!("at most {MAX_TEXT_BYTES} bytes")))
    }
}

fn check_hash(value: &str) -> Result<(), ApprovalError> {
    if is_job_hash(value) {
        Ok(())
    } else {
        Err(invalid(
            Field::JobHash,
            "must be the lowercase hex SHA-256 (64 characters) of the RFC 8785 bytes of the draft",
        ))
    }
}

/// A fresh request id, `apr_<ULID>`.
fn new_approval_id() -> String {
    let event_id = evident_core::record::new_event_id(&mut rand::thread_rng());
    format!("apr_{}", event_id.trim_start_matches("evt_"))
}

/// A request ready to commit: its `approval_request` event and the effect that opens
/// it. See [`prepare_request`].
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub approval_id: String,
    /// The `approval_request` event's id.
    pub event_id: String,
    pub event: EventToAppend,
    pub effect: Effect,
    pub expires_micros: i64,
}

/// Checks `request` and prepares its `approval_request` event (the draft sealed as
/// governed payload) and its [`Effect::OpenApproval`], without committing anything.
///
/// **For `/decide`:** a REQUIRE_APPROVAL decision opens its request in the same
/// transaction as its `policy_decision`. Prepare the decision's event first, then call
/// this with `parent_event_id` = the decision's `event_id`, `trace_id` and `subject` =
/// the decision's, `job_hash` = the decision's, `draft` = the decided `payload`, and
/// `received_micros` = the instant the decision's event was prepared at; then submit
/// ONE [`evident_store::AppendRequest`] `{events: [decision, prepared.event], effects:
/// [prepared.effect]}` through `app.sequencer` (as [`crate::record::record_prepared`]
/// does for one event). A `Refused` outcome (an approval id taken: practically never)
/// stored neither event. Answer `approval_id` = `prepared.approval_id`.
///
/// # Errors
/// [`ApprovalError::Invalid`] naming the field; store errors while sealing.
pub async fn prepare_request(
    app: &App,
    principal: &Principal,
    request: OpenApproval,
    received_micros: i64,
) -> Result<PreparedRequest, ApprovalError> {
    check_name(Field::JobId, &request.job_id)?;
    check_hash(&request.job_hash)?;
    check_name(Field::Action, &request.action)?;
    if let Some(reason) = &request.reason {
        check_text(Field::Reason, reason)?;
    }
    if let Some(trace_id) = &request.trace_id {
        check_name(Field::TraceId, trace_id)?;
    }
    if let Some(parent) = &request.parent_event_id {
        check_name(Field::ParentEventId, parent)?;
    }
    if let Some(subject) = &request.subject {
        if subject.trim().is_empty() || subject.len() > MAX_NAME_BYTES {
            return Err(invalid(
                Field::Subject,
                format!("1 to {MAX_NAME_BYTES} bytes"),
            ));
        }
    }
    if request.draft.is_null() {
        return Err(invalid(Field::Draft, "is required"));
    }
    let computed = job_hash_of(&request.draft);
    if computed != request.job_hash {
        return Err(invalid(
            Field::JobHash,
            format!("is not the hash of the draft (SHA-256 of its RFC 8785 bytes is {computed})"),
        ));
    }
    let max = i64::try_from(MAX_EXPIRES_IN.as_secs()).unwrap_or(i64::MAX);
    let expires_in = match request.expires_in {
        None => i64::try_from(DEFAULT_EXPIRES_IN.as_secs()).unwrap_or(max),
        Some(seconds) if (1..=max).contains(&seconds) => seconds,
        Some(_) => {
            return Err(invalid(
                Field::ExpiresIn,
                format!("must be a whole number of seconds from 1 to {max}"),
            ))
        }
    };
    let expires_micros = received_micros.saturating_add(expires_in.saturating_mul(1_000_000));
    let approval_id = new_approval_id();
    let trace_id = request
        .trace_id
        .clone()
        .unwrap_or_else(|| "evident:approval_request".to_owned());
    let approval = json!({
        "approval_id": approval_id,
        "job_id": request.job_id,
        "job_hash": request.job_hash,
        "action": request.action,
        "expires_at": crate::clock::format_micros(expires_micros),
    });
    let mut fields = Map::from_iter([
        ("approval".to_owned(), approval),
        ("context".to_owned(), json!({"job_id": request.job_id})),
    ]);
    // `decision.reason` is scanned text at the privacy boundary: why this action
    // needs a human.
    if let Some(reason) = &request.reason {
        fields.insert(
            "decision".to_owned(),
            json!({"action": "REQUIRE_APPROVAL", "reason": reason}),
        );
    }
    let event = ServerEvent {
        event_type: "approval_request",
        trace_id: Some(trace_id.clone()),
        parent_event_id: request.parent_event_id.clone(),
        fields,
    };
    let governed = governed::Governed {
        subject: request.subject.clone(),
        input: Some(request.draft.clone()),
        output: None,
    };
    let (event, event_id, subject_token) =
        governed::prepare_governed(app, principal, event, governed, received_micros)
            .await
            .map_err(ApprovalError::Record)?;
    let effect = Effect::OpenApproval(NewApproval {
        approval_id: approval_id.clone(),
        job_id: request.job_id,
        job_hash: request.job_hash,
        action: request.action,
        requested_by: principal.name.clone(),
        trace_id,
        subject: subject_token,
        event_id: event_id.clone(),
        opened_micros: received_micros,
        expires_micros,
    });
    Ok(PreparedRequest {
        approval_id,
        event_id,
        event,
        effect,
        expires_micros,
    })
}

/// Opens a request with its `approval_request` event (one transaction).
///
/// # Errors
/// See [`ApprovalError`].
pub async fn open(
    app: &App,
    principal: &Principal,
    request: OpenApproval,
) -> Result<(Approval, Appended), ApprovalError> {
    let prepared = prepare_request(app, principal, request, app.now_micros()).await?;
    let id = prepared.approval_id.clone();
    let appended = crate::record::record_prepared(app, prepared.event, vec![prepared.effect])
        .await
        .map_err(ApprovalError::Record)?;
    let approval =
        app.store.approval(&id).await?.ok_or_else(|| {
            StoreError::Internal(format!("approval {id} committed but not found"))
        })?;
    Ok((approval, appended))
}

/// Whether `principal` may see `approval`: readers all, an ingest key its own.
fn may_read(principal: &Principal, approval: &Approval) -> bool {
    Role::READERS.contains(&principal.role) || approval.request.requested_by == principal.name
}

/// One request, as `principal` may see it.
///
/// # Errors
/// [`ApprovalError::NotFound`] for an unknown id or another key's request (ingest).
pub async fn get(app: &App, principal: &Principal, id: &str) -> Result<Approval, ApprovalError> {
    check_name(Field::JobId, id).map_err(|_| ApprovalError::NotFound(id.to_owned()))?;
    match app.store.approval(id).await? {
        Some(approval) if may_read(principal, &approval) => Ok(approval),
        _ => Err(ApprovalError::NotFound(id.to_owned())),
    }
}

/// A page of the queue: open requests (or all with `include_resolved`) in the order
/// they were opened; an ingest key gets only its own. The cursor is the last
/// request's `(opened_micros, approval_id)` as [`encode_cursor`] writes it.
///
/// # Errors
/// [`ApprovalError::Invalid`] for a bad cursor or limit; store errors.
pub async fn list(
    app: &App,
    principal: &Principal,
    include_resolved: bool,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<(Vec<Approval>, Option<String>), ApprovalError> {
    let limit = match limit {
        None => 100,
        Some(n) if (1..=MAX_LIST).contains(&n) => n,
        Some(_) => {
            return Err(invalid(
                Field::Limit,
                format!("must be from 1 to {MAX_LIST}"),
            ))
        }
    };
    let after = cursor.map(decode_cursor).transpose()?;
    let requested_by = (!Role::READERS.contains(&principal.role)).then(|| principal.name.clone());
    let filter = ApprovalFilter {
        include_resolved,
        requested_by,
        job_id: None,
        after,
        limit: limit + 1,
    };
    let mut page = app.store.approvals(&filter).await?;
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().map(encode_cursor)
    } else {
        None
    };
    Ok((page, next))
}

/// The cursor after `approval`: `<opened µs>.<approval id>`.
pub fn encode_cursor(approval: &Approval) -> String {
    format!(
        "{}.{}",
        approval.request.opened_micros, approval.request.approval_id
    )
}

fn decode_cursor(cursor: &str) -> Result<(i64, String), ApprovalError> {
    cursor
        .split_once('.')
        .and_then(|(micros, id)| Some((micros.parse().ok()?, id.to_owned())))
        .ok_or_else(|| invalid(Field::Cursor, "is not a cursor this server gave"))
}

/// Resolves (or escalates) a request with its `approval_resolution` event (one
/// transaction). A request past its `expires_at` is expired on the way (if the sweep
/// has not yet) and the answer is [`ApprovalError::Expired`].
///
/// # Errors
/// See [`ApprovalError`]: 400-like `Invalid`, `NotFound`, `Forbidden` for the key that
/// asked, `Closed`, `Expired`, `HashMismatch`.
pub async fn resolve(
    app: &App,
    principal: &Principal,
    id: &str,
    request: ResolveRequest,
) -> Result<(Approval, Appended), ApprovalError> {
    if !RESOLUTIONS.contains(&request.resolution.as_str()) {
        return Err(invalid(
            Field::Resolution,
            format!("must be one of {}", RESOLUTIONS.join(", ")),
        ));
    }
    check_hash(&request.job_hash)?;
    check_text(Field::Comment, &request.comment)?;
    let method = request.method.clone().unwrap_or_else(|| "api".to_owned());
    check_name(Field::Method, &method)?;
    let edited = request.resolution == "edited";
    match (&request.final_payload, edited) {
        (None, true) => return Err(invalid(Field::Final, "is required for `edited`")),
        (Some(_), false) => {
            return Err(invalid(
                Field::Final,
                "is only for `edited` (an approval approves the draft as it is)",
            ))
        }
        _ => {}
    }
    let approval = get(app, principal, id).await?;
    if approval.request.requested_by == principal.name {
        return Err(ApprovalError::Forbidden(format!(
            "key {:?} opened approval {id}; another key must resolve it",
            principal.name
        )));
    }
    let now = app.now_micros();
    check_open(app, &approval, now).await?;
    if request.job_hash != approval.request.job_hash {
        return Err(ApprovalError::HashMismatch {
            expected: approval.request.job_hash.clone(),
            quoted: request.job_hash,
        });
    }
    let output = match &request.final_payload {
        Some(final_payload) => {
            // Both sides as the boundary leaves them (the stored draft is tokenized),
            // so the diff shows what the approver changed, not the tokenization.
            let draft = draft_of(app, &approval).await?;
            let final_tokenized = governed::tokenized(
                app,
                principal,
                approval.request.subject.as_deref(),
                final_payload,
            )
            .await
            .map_err(ApprovalError::Record)?;
            let diff = json_patch::diff(&draft, &final_tokenized);
            let diff = serde_json::to_value(&diff)
                .map_err(|e| StoreError::Internal(format!("an RFC 6902 patch: {e}")))?;
            Some(json!({"final": final_payload, "diff": diff}))
        }
        None => None,
    };
    let final_job_hash = request.final_payload.as_ref().map(job_hash_of);
    let resolution = ApprovalResolution {
        approval_id: id.to_owned(),
        expected_job_hash: request.job_hash.clone(),
        resolution: request.resolution.clone(),
        resolved_by: principal.name.clone(),
        method: Some(method.clone()),
        final_job_hash: final_job_hash.clone(),
        event_id: String::new(),
        at_micros: now,
    };
    let mut fields = json!({
        "approval_id": id,
        "resolution": request.resolution,
        "job_hash": request.job_hash,
        "comment": request.comment,
        "method": method,
        "resolved_by": principal.name,
    });
    if let Some(hash) = &final_job_hash {
        fields["final_job_hash"] = Value::String(hash.clone());
    }
    let appended = record_resolution(app, principal, &approval, resolution, fields, output).await;
    match appended {
        Ok(appended) => Ok((reread(app, id).await?, appended)),
        // Another approver (or the sweep) got there first: say what happened.
        Err(ApprovalError::Record(RecordError::Refused {
            error: StoreError::Conflict(_),
            ..
        })) => {
            let now_state = reread(app, id).await?;
            check_open(app, &now_state, now).await?;
            Err(ApprovalError::Closed {
                id: id.to_owned(),
                state: now_state.state,
            })
        }
        Err(e) => Err(e),
    }
}

/// `Ok` if `approval` is open and unexpired at `now`; a request past its deadline is
/// expired now if the sweep has not done it yet.
async fn check_open(app: &App, approval: &Approval, now: i64) -> Result<(), ApprovalError> {
    let id = &approval.request.approval_id;
    if approval.state != OPEN {
        return Err(ApprovalError::Closed {
            id: id.clone(),
            state: approval.state.clone(),
        });
    }
    if now >= approval.request.expires_micros {
        // Racing the sweep or another server is harmless: one expiry commits.
        if let Err(e) = expire(app, approval, now).await {
            tracing::warn!(approval_id = %id, error = %e, "expiring a late-resolved request");
        }
        return Err(ApprovalError::Expired {
            id: id.clone(),
            expires_at: crate::clock::format_micros(approval.request.expires_micros),
        });
    }
    Ok(())
}

async fn reread(app: &App, id: &str) -> Result<Approval, ApprovalError> {
    app.store
        .approval(id)
        .await?
        .ok_or_else(|| ApprovalError::NotFound(id.to_owned()))
}

/// The request's draft, read back from its event (payload resolved, tokens kept).
async fn draft_of(app: &App, approval: &Approval) -> Result<Value, ApprovalError> {
    let id = &approval.request.approval_id;
    let record = crate::reading::event_by_id(app, &approval.request.event_id)
        .await
        .map_err(|e| StoreError::Internal(format!("reading approval {id}'s request: {e:?}")))?
        .ok_or_else(|| StoreError::Internal(format!("approval {id}'s request is not in the log")))?
        .0;
    if record.erased {
        return Err(ApprovalError::DraftErased(id.clone()));
    }
    let map = record
        .to_map()
        .map_err(|e| StoreError::Internal(format!("approval {id}'s request: {e:?}")))?;
    Ok(map.get("input").cloned().unwrap_or(Value::Null))
}

/// Commits an `approval_resolution` event (a child of the request's event, in its
/// trace and job) with its [`Effect::ResolveApproval`].
async fn record_resolution(
    app: &App,
    principal: &Principal,
    approval: &Approval,
    mut resolution: ApprovalResolution,
    fields: Value,
    output: Option<Value>,
) -> Result<Appended, ApprovalError> {
    let request = &approval.request;
    let event = ServerEvent {
        event_type: "approval_resolution",
        trace_id: Some(request.trace_id.clone()),
        parent_event_id: Some(request.event_id.clone()),
        fields: Map::from_iter([
            ("approval".to_owned(), fields),
            ("context".to_owned(), json!({"job_id": request.job_id})),
        ]),
    };
    let governed = governed::Governed {
        subject: request.subject.clone(),
        input: None,
        output,
    };
    let (event, event_id, _) =
        governed::prepare_governed(app, principal, event, governed, resolution.at_micros)
            .await
            .map_err(ApprovalError::Record)?;
    resolution.event_id = event_id;
    crate::record::record_prepared(app, event, vec![Effect::ResolveApproval(resolution)])
        .await
        .map_err(ApprovalError::Record)
}

/// Writes the expiry of `approval` (an `approval_resolution` with `resolution:
/// expired`, by the server's principal) at `now`, which must be at or after its
/// `expires_at`.
async fn expire(app: &App, approval: &Approval, now: i64) -> Result<Appended, ApprovalError> {
    let principal = crate::configuration::server_principal();
    let request = &approval.request;
    let resolution = ApprovalResolution {
        approval_id: request.approval_id.clone(),
        expected_job_hash: request.job_hash.clone(),
        resolution: EXPIRED.to_owned(),
        resolved_by: principal.name.clone(),
        method: None,
        final_job_hash: None,
        event_id: String::new(),
        at_micros: now,
    };
    let fields = json!({
        "approval_id": request.approval_id,
        "resolution": EXPIRED,
        "job_hash": request.job_hash,
        "expires_at": crate::clock::format_micros(request.expires_micros),
        "decision": "DENY",
    });
    record_resolution(app, &principal, approval, resolution, fields, None).await
}

/// One sweep: expires every open request whose `expires_at` has passed (by the app's
/// clock), at most [`EXPIRY_BATCH`]; returns how many this sweep expired. A request
/// another server expired or resolved meanwhile is skipped.
///
/// # Errors
/// Store errors; a failed commit (the next sweep tries again).
pub async fn expire_due(app: &App) -> Result<usize, ApprovalError> {
    let now = app.now_micros();
    let mut expired = 0;
    for id in app.store.approvals_due(now, EXPIRY_BATCH).await? {
        let Some(approval) = app.store.approval(&id).await? else {
            continue;
        };
        match expire(app, &approval, now).await {
            Ok(_) => expired += 1,
            Err(ApprovalError::Record(RecordError::Refused { .. })) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(expired)
}

/// The expiry task: a sweep every few seconds, for as long as the app runs.
pub async fn run_expiry(app: std::sync::Arc<App>) {
    let mut tick = tokio::time::interval(app.settings.approval_expiry_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match expire_due(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired approval requests"),
            Err(ApprovalError::Record(RecordError::Submit(
                crate::sequencer::SubmitError::Stopped,
            ))) => return,
            Err(e) => tracing::warn!(error = %e, "approval expiry sweep failed"),
        }
    }
}

/// The hash an approval approved: the draft's for `approved`, the final's for
/// `edited`; `None` while open, or when rejected or expired.
pub fn approved_job_hash(approval: &Approval) -> Option<&str> {
    match approval.state.as_str() {
        "approved" => Some(approval.request.job_hash.as_str()),
        "edited" => approval
            .closed
            .as_ref()
            .and_then(|c| c.final_job_hash.as_deref()),
        _ => None,
    }
}

pub use views::{approval_json, approval_with_payloads};
