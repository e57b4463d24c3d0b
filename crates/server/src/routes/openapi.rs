//! The OpenAPI 3.1 description of the HTTP API (CONTRACT section 4), served at
//! `GET /api/v1/openapi.json`.
//!
//! Paths come from the routers themselves: every handler is registered through
//! utoipa-axum's `OpenApiRouter` with its `#[utoipa::path]`, so a route cannot be
//! served undocumented. The types here only describe bodies for the document (the
//! handlers write their answers as bytes, see `answer.rs`); they are never built.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

/// Name of the bearer-key security scheme.
pub const API_KEY: &str = "api_key";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Evident",
        description = "A tamper-evident audit trail for AI agents: ingest events, read them back with proofs, search, and manage personal data.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerKey),
    tags(
        (name = "events", description = "Ingest and read events"),
        (name = "search", description = "Search, traces, jobs and run timelines"),
        (name = "log", description = "The Merkle log: checkpoints, tiles, proofs"),
        (name = "blobs", description = "Large payloads"),
        (name = "privacy", description = "Reveal and erasure (the privacy role)"),
        (name = "otlp", description = "OpenTelemetry traces"),
        (name = "health", description = "Health and metrics"),
        (name = "approvals", description = "Human approvals bound to the exact payload"),
        (name = "policies", description = "Policy sets on Cedar, decisions and their audit"),
    )
)]
pub struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <api key>`; a key has one role: ingest, auditor, approver, privacy or admin",
                    ))
                    .build(),
            ),
        );
    }
}

/// Serves the document, made once when the router is built.
pub fn serve(document: Arc<String>) -> axum::routing::MethodRouter<crate::state::AppState> {
    axum::routing::get(move || {
        let document = document.clone();
        async move {
            (
                [(header::CONTENT_TYPE, "application/json")],
                document.as_str().to_owned(),
            )
                .into_response()
        }
    })
}

/// The document's final form: axum's catch-all segments (`{*path}`) written as
/// OpenAPI path parameters (`{path}`).
pub fn finish(mut openapi: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let paths = std::mem::take(&mut openapi.paths.paths);
    openapi.paths.paths = paths
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    openapi
}

// ---------------------------------------------------------------------------------
// Bodies.

/// Bytes of any media type.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(Vec<u8>);

/// An RFC 9457 problem; `detail` names the field at fault (a JSON pointer or a
/// query parameter).
#[derive(ToSchema)]
pub struct Problem {
    #[schema(example = "about:blank")]
    r#type: String,
    #[schema(example = "Invalid request")]
    title: String,
    #[schema(example = 400)]
    status: u16,
    #[schema(example = "/2/actor/id: must be 1 to 128 printable ASCII characters")]
    detail: String,
    /// JSON pointer to the field at fault, when there is one.
    pointer: Option<String>,
}

/// One event as a client sends it (CONTRACT section 1); unknown top-level fields are
/// kept. The server adds `received_at`, `principal`, `schema`, `trace_prev`,
/// `subject_prev` and `seq`, and refuses them from a client.
#[derive(ToSchema)]
#[schema(example = json!({"event_id": "call-1", "trace_id": "t-42", "timestamp": "2026-11-23T14:22:07.123+01:00", "actor": {"type": "agent", "id": "refund-bot"}, "event_type": "tool_call", "tool": {"name": "issue_refund"}, "outcome": "success"}))]
pub struct Event {
    event_id: Option<String>,
    trace_id: String,
    parent_event_id: Option<String>,
    /// RFC 3339 with an offset.
    timestamp: String,
    actor: Actor,
    /// A client event type: model_call, tool_call, tool_result, retrieval, agent_run,
    /// decision, guardrail, human_review, external_action, error, step.
    event_type: String,
    context: Option<EventContext>,
    #[schema(value_type = Object)]
    snapshot: Option<Value>,
    #[schema(value_type = Object)]
    tool: Option<Value>,
    /// Any JSON, or `{"$blob": "<ref>"}` of an uploaded blob.
    #[schema(value_type = Object)]
    input: Option<Value>,
    #[schema(value_type = Object)]
    output: Option<Value>,
    #[schema(value_type = Object)]
    attributes: Option<Value>,
    #[schema(value_type = Object)]
    decision: Option<Value>,
    #[schema(value_type = Object)]
    metadata: Option<Value>,
    outcome: Option<String>,
    job_hash: Option<String>,
    #[schema(value_type = Object)]
    error: Option<Value>,
}

/// What the event belongs to and whom it is about (CONTRACT sections 1 and 2).
#[derive(ToSchema)]
pub struct EventContext {
    case_id: Option<String>,
    job_id: Option<String>,
    workflow_run_id: Option<String>,
    workflow_step_id: Option<String>,
    /// The person the event is about; stored only as its `subj_` token.
    subject: Option<String>,
    /// What identifies the subject where no pattern can see it: each value (a
    /// string) is replaced by a token typed by its key (`name` → `<NAME_…>`) wherever
    /// it occurs in the event's text, names also as "Last, First" and "F. Last".
    /// Kept only in the vault under the subject's key; never stored in clear.
    /// Remembered for the subject: its later events are tokenized with them too,
    /// until the subject is erased.
    #[schema(example = json!({"name": "Wei Novak", "customer_id": "C-1042"}))]
    subject_identifiers: Option<HashMap<String, String>>,
    idempotency_key: Option<String>,
    correlation_ids: Option<Vec<String>>,
}

#[derive(ToSchema)]
pub struct Actor {
    /// agent, user or system.
    r#type: String,
    id: String,
    run_id: Option<String>,
    version: Option<String>,
    environment: Option<String>,
}

/// One event, an array of them, or NDJSON (`application/x-ndjson`).
#[derive(ToSchema)]
pub enum EventsBody {
    One(Box<Event>),
    Many(Vec<Event>),
}

/// Where an accepted event sits in the log; in the order sent.
#[derive(ToSchema)]
pub struct Accepted {
    event_id: String,
    seq: u64,
    /// Base64 RFC 6962 leaf hash.
    leaf_hash: String,
}

/// A stored record: the event as submitted after privacy (subject and personal data
/// tokenized), payloads resolved, plus the server's fields.
#[derive(ToSchema)]
pub struct Record {
    seq: u64,
    event_id: String,
    trace_id: String,
    received_at: String,
    principal: String,
    schema: String,
    trace_prev: Option<u64>,
    subject_prev: Option<u64>,
    #[schema(inline)]
    rest: Object,
}

/// Any other members of the record.
#[derive(ToSchema)]
#[schema(value_type = Object)]
pub struct Object(Value);

/// `GET /api/v1/events/{event_id}`.
#[derive(ToSchema)]
pub struct EventAnswer {
    seq: u64,
    leaf_hash: String,
    record: Record,
    /// With `?proof=true`, once a checkpoint covers the event.
    proof: Option<InclusionProof>,
    /// The checkpoint the proof is against (signed note text).
    checkpoint: Option<String>,
    /// With `?proof=true`, before a checkpoint covers the event.
    pending: Option<bool>,
}

/// The filters of `POST /api/v1/events/search` (those of `GET /api/v1/events`, as
/// strings or numbers); use it for clear subject ids, which stay out of URLs.
#[derive(ToSchema)]
pub struct SearchBody {
    agent: Option<String>,
    r#type: Option<String>,
    trace_id: Option<String>,
    job_id: Option<String>,
    case_id: Option<String>,
    /// A clear subject id or a `subj_` token.
    subject: Option<String>,
    /// RFC 3339, inclusive, at most six fractional digits.
    from: Option<String>,
    /// RFC 3339, inclusive, at most six fractional digits.
    to: Option<String>,
    /// Words (all must match), "exact phrases", prefix*.
    q: Option<String>,
    cursor: Option<String>,
    /// 1 to 1000, default 100.
    limit: Option<u32>,
}

/// A page of search results, in `seq` order.
#[derive(ToSchema)]
pub struct SearchAnswer {
    events: Vec<Record>,
    /// Null on the last page.
    next_cursor: Option<String>,
    /// The highest `seq` every filter already covers (null while nothing is indexed).
    indexed_through: Option<u64>,
}

/// `GET /api/v1/traces/{trace_id}`.
#[derive(ToSchema)]
pub struct TraceAnswer {
    trace_id: String,
    /// By timestamp, then `seq`.
    events: Vec<Record>,
    tree: Vec<TreeNode>,
    /// More events than one answer holds (10,000).
    truncated: bool,
}

#[derive(ToSchema)]
pub struct TreeNode {
    event_id: String,
    #[schema(no_recursion)]
    children: Vec<TreeNode>,
    /// Its parent is not in the trace.
    orphan: Option<bool>,
    /// Listed at the root: deeper than the tree's nesting limit.
    detached: Option<bool>,
}

/// `GET /api/v1/jobs/{job_id}`: the job's state, derived from its events.
#[derive(ToSchema)]
pub struct JobAnswer {
    job_id: String,
    outcome: Option<String>,
    context_ptr: Pointer,
    result_ptr: Option<Pointer>,
    #[schema(value_type = Object)]
    output_safety: Option<Value>,
    #[schema(value_type = Vec<Object>)]
    approvals: Vec<Value>,
    events: u64,
    truncated: bool,
    first_timestamp: Option<String>,
    last_timestamp: Option<String>,
    /// The job's approval requests with their state, approver, method and hashes.
    approval_requests: Vec<ApprovalAnswer>,
    /// What was approved: the draft's `job_hash`, or an edit's `final_job_hash`.
    approved_job_hash: Option<String>,
    /// The `job_hash` of the job's last `external_action`.
    job_hash: Option<String>,
    /// null when the job needed no approval or nothing was done yet.
    action_matches_approval: Option<bool>,
    /// When an action happened without a matching approval: `{reason, action}`, reason
    /// one of no_approval, pending, rejected, expired, no_job_hash, hash_mismatch.
    #[schema(value_type = Object)]
    approval_violation: Option<Value>,
}

#[derive(ToSchema)]
pub struct Pointer {
    event_id: String,
    seq: u64,
}

/// `GET /api/v1/jobs/{job_id}/decisions`.
#[derive(ToSchema)]
pub struct JobDecisions {
    job_id: String,
    decisions: Vec<Record>,
    truncated: bool,
}

/// `GET /api/v1/workflow-runs/{run_id}/timeline`.
#[derive(ToSchema)]
pub struct Timeline {
    workflow_run_id: String,
    /// By timestamp, then `seq`; at most `limit`.
    events: Vec<Record>,
    /// The run has more events than this answer.
    truncated: bool,
}

/// RFC 6962 inclusion proof; hashes in base64.
#[derive(ToSchema)]
pub struct InclusionProof {
    seq: u64,
    tree_size: u64,
    leaf_hash: String,
    root_hash: String,
    hashes: Vec<String>,
}

/// RFC 6962 consistency proof; hashes in base64.
#[derive(ToSchema)]
pub struct ConsistencyProof {
    from: u64,
    to: u64,
    hashes: Vec<String>,
}

/// `GET /api/v1/log`.
#[derive(ToSchema)]
pub struct LogInfo {
    origin: String,
    /// Signed-note verifier key `<name>+<hex8>+<base64>`.
    verifier_key: String,
    tree_size: u64,
    /// The latest signed checkpoint (signed-note text), null before the first.
    checkpoint: Option<String>,
    /// Entries not yet covered by a checkpoint.
    pending: u64,
    /// Each configured witness's status (empty without witnesses).
    witnesses: Vec<WitnessInfo>,
    /// Whether the latest checkpoint has its quorum; null without witnesses.
    witness_quorum: Option<WitnessQuorum>,
    #[schema(value_type = Object)]
    last_verify: Option<Value>,
}

/// One configured witness in `GET /api/v1/log` (docs/witnessing.md).
#[derive(ToSchema)]
pub struct WitnessInfo {
    /// Its name in the server's configuration (`[[witness]] name`).
    name: String,
    /// Its submission prefix.
    url: String,
    /// Its cosigner verifier key (`<name>+<hex8>+<base64>`, signature type 0x04).
    verifier_key: String,
    /// The tree size it holds for this log, as far as the server knows.
    known_size: Option<u64>,
    /// The size of the last checkpoint it cosigned, and when that cosignature arrived.
    last_cosigned_size: Option<u64>,
    last_cosigned_at: Option<String>,
    /// Why its last attempt failed (unreachable, refused, a cosignature that did not
    /// verify); null once it cosigns again.
    last_error: Option<String>,
    last_error_at: Option<String>,
    /// It cosigned the latest checkpoint.
    cosigned_latest: bool,
}

/// The quorum of the latest checkpoint in `GET /api/v1/log`.
#[derive(ToSchema)]
pub struct WitnessQuorum {
    /// `witness_quorum` of the configuration: how many witnesses must cosign.
    required: u64,
    /// The latest checkpoint's size.
    checkpoint_size: Option<u64>,
    /// How many configured witnesses cosigned it.
    cosigned: u64,
    /// `cosigned >= required`.
    met: bool,
    /// The newest checkpoint that has its quorum: the one `/checkpoint` serves.
    newest_cosigned_size: Option<u64>,
}

/// An uploaded blob's reference, to put in an event's payload as is.
#[derive(ToSchema)]
#[schema(example = json!({"$blob": "sha256:5c0e..."}))]
pub struct BlobRef {
    #[schema(rename = "$blob")]
    blob: String,
}

/// `POST /api/v1/vault/reveal`.
#[derive(ToSchema)]
pub struct RevealRequest {
    /// Typed tokens (`<EMAIL_...>`) or subject tokens.
    tokens: Vec<String>,
    /// Why, recorded in the `vault_access` event.
    reason: String,
}

#[derive(ToSchema)]
pub struct RevealAnswer {
    /// Token → clear value.
    #[schema(value_type = Object)]
    values: Value,
}

/// `POST /api/v1/subjects/erase`.
#[derive(ToSchema)]
pub struct EraseRequest {
    /// A clear subject id or its `subj_` token.
    subject: String,
    reason: String,
}

/// `POST /api/v1/evidence`: exactly one member, the selection.
#[derive(ToSchema)]
pub struct EvidenceRequest {
    trace_id: Option<String>,
    /// A clear subject identifier or its `subj_` token (never recorded in clear).
    subject: Option<String>,
    job_id: Option<String>,
    case_id: Option<String>,
}

/// The receipt of an erasure: its `subject_erasure` event and what was destroyed.
#[derive(ToSchema)]
pub struct ErasureReceipt {
    event_id: String,
    seq: u64,
    #[schema(value_type = Object)]
    counts: Value,
    #[schema(inline)]
    rest: Object,
}

/// `POST /api/v1/legal-holds`: exactly one scope (`subject`, `trace_id`, `job_id`,
/// `case_id`, or `from` with `to`), why, and optionally until when.
#[derive(ToSchema)]
pub struct PlaceLegalHold {
    /// A clear subject id (stored only as its token) or a `subj_` token.
    subject: Option<String>,
    trace_id: Option<String>,
    job_id: Option<String>,
    case_id: Option<String>,
    /// With `to`: events whose `timestamp` is in the range (RFC 3339, inclusive).
    from: Option<String>,
    to: Option<String>,
    /// Why (personal data in it is tokenized).
    reason: String,
    /// When the hold ends by itself (RFC 3339); else until lifted.
    until: Option<String>,
}

/// A legal hold.
#[derive(ToSchema)]
pub struct LegalHoldAnswer {
    /// `hold_<ULID>`.
    hold_id: String,
    /// One of `{subject}` (a token), `{trace_id}`, `{job_id}`, `{case_id}`, `{from, to}`.
    #[schema(value_type = Object)]
    scope: Value,
    reason: String,
    placed_by: String,
    placed_at: String,
    until: Option<String>,
    /// The `legal_hold` event that placed it.
    event_id: String,
    lifted_at: Option<String>,
    lifted_by: Option<String>,
    /// In force now (not lifted, not past `until`).
    active: bool,
}

/// `GET /api/v1/legal-holds`.
#[derive(ToSchema)]
pub struct LegalHoldList {
    holds: Vec<LegalHoldAnswer>,
}

/// `GET /api/v1/access-log`.
#[derive(ToSchema)]
pub struct AccessLogAnswer {
    /// `{seq, at, key, role, method, path, query, status}` each, in `seq` order; a
    /// subject in `query` only as its token.
    records: Vec<Value>,
    /// The cursor of the next page, or null on the last.
    next_cursor: Option<String>,
}

// ---------------------------------------------------------------------------------
// Error answers shared by the endpoints.

/// `POST /api/v1/artifacts` (CONTRACT section 6).
#[derive(ToSchema)]
pub struct PublishArtifact {
    /// prompt, tool_schema, model, retrieval_index, workflow or eval_dataset.
    kind: String,
    name: String,
    version: String,
    /// Any JSON (at most 1 MiB): configuration, not personal data; stored as sent.
    content: Value,
    /// Optional JSON (at most 64 KiB).
    metadata: Option<Value>,
}

/// A published artifact version.
#[derive(ToSchema)]
pub struct ArtifactAnswer {
    kind: String,
    name: String,
    version: String,
    content: Value,
    /// `sha256:<hex>` of the content's RFC 8785 bytes.
    content_hash: String,
    metadata: Option<Value>,
    /// When it was published (RFC 3339).
    published_at: String,
    /// The `artifact_publish` entry that records it.
    event_id: String,
    seq: u64,
    /// On publish: `false` if the same content was already published.
    created: Option<bool>,
}

/// `POST /api/v1/policies` (CONTRACT section 6; docs/policies.md).
#[derive(ToSchema)]
pub struct PublishPolicy {
    /// The set's id: letters, digits, `.`, `_`, `-`.
    id: String,
    /// The policies, in Cedar's policy syntax; every rule has an `@id`.
    text: String,
    /// The Cedar schema (Cedar schema syntax) the text is validated against, strictly.
    schema: String,
    /// Test cases `{request: {agent, action, resource, context}, expect, now?}`; all
    /// must pass.
    tests: Option<Vec<Value>>,
}

/// `POST /api/v1/decide` (CONTRACT section 6).
#[derive(ToSchema)]
pub struct DecideBody {
    agent: String,
    action: String,
    resource: String,
    /// Attributes the policies read as `context`; integers, not floats. `now` is the
    /// server's.
    context: Option<Value>,
    /// The action to be performed; `job_hash` is the SHA-256 of its RFC 8785 bytes.
    payload: Value,
    job_id: String,
    trace_id: Option<String>,
    /// The clear subject id the payload is about (its key seals the payload).
    subject: Option<String>,
}

/// A recorded decision.
#[derive(ToSchema)]
pub struct DecideAnswer {
    /// ALLOW, DENY or REQUIRE_APPROVAL.
    decision: String,
    /// The smallest id among the determining rules; null for a default deny.
    policy_rule_id: Option<String>,
    /// That rule's `@reason`, or the error that made it a DENY.
    policy_reason: Option<String>,
    /// Every rule that decided the outcome: `[{rule_id, reason}]`.
    determining: Vec<Value>,
    /// `sha256:<hex>` naming the active set versions.
    policy_snapshot: String,
    /// The active set versions: `[{id, version, sha256}]`.
    policy_versions: Vec<Value>,
    /// Lowercase hex SHA-256 of the payload's RFC 8785 bytes.
    job_hash: String,
    /// The approval request REQUIRE_APPROVAL opened.
    approval_id: Option<String>,
    /// The `policy_decision` event.
    event_id: String,
    seq: u64,
}

/// `POST /api/v1/artifacts/{kind}/{name}/labels`.
#[derive(ToSchema)]
pub struct LabelMove {
    label: String,
    version: String,
}

/// Errors of an endpoint that reads the trail.
#[derive(IntoResponses)]
pub enum ReadErrors {
    /// A parameter or path segment is invalid; `detail` names it.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// No or an unknown API key.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The key's role may not do this.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// Storage is unavailable or the server overloaded; retry after `Retry-After`.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// Errors of an endpoint that writes.
#[derive(IntoResponses)]
pub enum WriteErrors {
    /// The body or a field is invalid; `detail` names it (a JSON pointer); nothing
    /// was stored.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// No or an unknown API key.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The key's role, or its agent binding, does not allow this.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// The body is over the server's limit; nothing was stored.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is neither of the media types this endpoint takes.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Storage is unavailable or the server overloaded; nothing was stored, retry
    /// after `Retry-After`.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// Not found (problem+json).
#[derive(IntoResponses)]
pub enum NotFound {
    /// No such resource (the detail says which).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// Conflict (problem+json).
#[derive(IntoResponses)]
pub enum Conflict {
    /// The request conflicts with what is stored (the detail says how); nothing was
    /// stored.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}

/// `POST /api/v1/approvals` (CONTRACT sections 4 and 6).
#[derive(ToSchema)]
pub struct OpenApprovalBody {
    job_id: String,
    /// Lowercase hex SHA-256 of the RFC 8785 bytes of `draft`; must match it.
    job_hash: String,
    /// What the job does (`refund`, `send_email`, ...).
    action: String,
    /// Why approval is needed (scanned for personal data).
    reason: Option<String>,
    /// The action to approve: governed payload (tokenized, sealed under the subject's
    /// key; the entry holds a commitment).
    draft: Value,
    trace_id: Option<String>,
    /// The event that caused the request.
    parent_event_id: Option<String>,
    /// Seconds until it expires (default 86400, at most 604800).
    expires_in: Option<i64>,
    /// The person the draft is about (clear id or `subj_` token).
    subject: Option<String>,
}

/// `POST /api/v1/approvals/{approval_id}/resolve` (CONTRACT section 6).
#[derive(ToSchema)]
pub struct ResolveApprovalBody {
    /// approved, rejected, edited or escalated.
    resolution: String,
    /// The request's `job_hash`, quoted (409 if it is not the request's).
    job_hash: String,
    /// Scanned for personal data.
    comment: String,
    /// For `edited` only (and required there): the action as approved.
    #[schema(value_type = Object, rename = "final")]
    final_payload: Option<Value>,
    /// How the approver acted (default `api`).
    method: Option<String>,
}

/// One approval request and where it stands.
#[derive(ToSchema)]
pub struct ApprovalAnswer {
    approval_id: String,
    job_id: String,
    job_hash: String,
    action: String,
    trace_id: String,
    /// open, approved, rejected, edited or expired.
    state: String,
    /// The API key that opened it.
    requested_by: String,
    opened_at: String,
    expires_at: String,
    request_event_id: String,
    resolution: Option<String>,
    /// The approver's key name.
    resolved_by: Option<String>,
    method: Option<String>,
    resolved_at: Option<String>,
    resolution_event_id: Option<String>,
    final_job_hash: Option<String>,
    /// The draft's hash if approved, the final's if edited; else null.
    approved_job_hash: Option<String>,
    escalations: u64,
    #[schema(value_type = Vec<Object>)]
    history: Vec<Value>,
    /// One request only: the draft (tokens stay tokens); `draft_erased: true` instead
    /// once its subject was erased.
    #[schema(value_type = Object)]
    draft: Option<Value>,
    /// One edited request only: the final and the RFC 6902 diff draft → final.
    #[schema(value_type = Object, rename = "final")]
    final_payload: Option<Value>,
    #[schema(value_type = Vec<Object>)]
    diff: Option<Value>,
}

/// `GET /api/v1/approvals`.
#[derive(ToSchema)]
pub struct ApprovalList {
    approvals: Vec<ApprovalAnswer>,
    next_cursor: Option<String>,
}
