//! `POST /api/v1/decide` (CONTRACT section 6): a request evaluated against every
//! active policy set, answered only once its `policy_decision` event is durable, and
//! `evident policy replay` (the same request evaluated again against the versions
//! the decision names).
//!
//! The decision's commit carries the policy generation it was made under
//! ([`evident_store::Effect::RequirePolicyGeneration`]): if a publish or rollback
//! committed in between (on any server sharing the store), the store refuses it,
//! the active sets are reloaded and the request is decided again, a bounded number
//! of times. Decisions are never dropped: an answer means the event is stored.
//!
//! The evaluated request (agent, action, resource, context) and the payload are the
//! event's `input`, a governance payload: tokenized and sealed under the subject's
//! key (CONTRACT section 6, "Governance data is payload"), so an erasure reaches
//! them; the entry keeps the decision, the rule ids, the versions, `job_hash`.

use evident_core::record::ServerEvent;
use evident_policy::{Decision, Outcome, PolicyRequest, SetVersion};
use evident_store::policies::PolicyDecisionRow;
use evident_store::{AppendOutcome, AppendRequest, Effect, EventToAppend, StoreError};
use serde_json::{json, Map, Value};

use crate::auth::Principal;
use crate::policies::Loaded;
use crate::record::RecordError;
use crate::sequencer::SubmitError;
use crate::state::App;

/// Longest agent, action, resource, job or trace id, in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// Times a decision is made again when a publish or rollback committed between
/// reading the active sets and the decision's commit.
const ATTEMPTS: usize = 4;

/// A request to decide.
#[derive(Debug, Clone)]
pub struct DecideRequest {
    pub agent: String,
    pub action: String,
    pub resource: String,
    /// A JSON object; `now` is the server's.
    pub context: Map<String, Value>,
    pub payload: Value,
    pub job_id: String,
    pub trace_id: Option<String>,
    /// The clear subject id the payload is about.
    pub subject: Option<String>,
}

/// A decision once durable.
#[derive(Debug, Clone)]
pub struct Decided {
    pub decision: Decision,
    pub policy_snapshot: String,
    pub policy_versions: Vec<SetVersion>,
    pub job_hash: String,
    /// The approval request REQUIRE_APPROVAL opened.
    pub approval_id: Option<String>,
    pub event_id: String,
    pub seq: u64,
}

/// Why no decision was recorded; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("{field}: {why}")]
    Invalid { field: &'static str, why: String },
    /// The key is bound to other agents.
    #[error("{0}")]
    Forbidden(String),
    /// Policies kept changing under the request.
    #[error(
        "the policy sets kept changing while this decision was made; nothing was stored, retry"
    )]
    Contended,
    #[error(transparent)]
    Record(RecordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &'static str, why: impl Into<String>) -> DecideError {
    DecideError::Invalid {
        field,
        why: why.into(),
    }
}

fn check_id(field: &'static str, value: &str) -> Result<(), DecideError> {
    if value.is_empty() || value.len() > MAX_ID_BYTES || value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("1 to {MAX_ID_BYTES} bytes, no control characters"),
        ));
    }
    Ok(())
}

/// Decides `request` and records it as a `policy_decision` event (with the approval
/// request REQUIRE_APPROVAL opens, in the same commit).
///
/// # Errors
/// See [`DecideError`].
pub async fn decide(
    app: &App,
    principal: &Principal,
    request: DecideRequest,
) -> Result<Decided, DecideError> {
    check_id("agent", &request.agent)?;
    check_id("action", &request.action)?;
    check_id("resource", &request.resource)?;
    check_id("job_id", &request.job_id)?;
    if let Some(trace_id) = &request.trace_id {
        check_id("trace_id", trace_id)?;
    }
    if let Some(subject) = &request.subject {
        check_id("subject", subject)?;
    }
    if request.context.contains_key("now") {
        return Err(invalid(
            "context.now",
            "is set by the server (the hour, weekday and date in its time zone)",
        ));
    }
    if !principal.may_claim(&request.agent) {
        return Err(DecideError::Forbidden(
            principal.claim_refusal(&request.agent),
        ));
    }
    // Agent suspension (CONTRACT section 4) belongs here: a suspended agent's
    // decisions are DENY, recorded like any other, before policies are evaluated.

    let job_hash = evident_core::governance::job_hash_of(&request.payload);
    let policy_request = PolicyRequest {
        agent: request.agent.clone(),
        action: request.action.clone(),
        resource: request.resource.clone(),
        context: Value::Object(request.context.clone()),
    };
    let mut loaded = crate::policies::cached(app).await?;
    for _ in 0..ATTEMPTS {
        let received = app.now_micros();
        let now = crate::policies::now_at(received, &app.settings.policy_time_zone);
        let decision = match loaded.failure() {
            Some(why) => Decision::deny_error(why),
            None => loaded.active.decide(&policy_request, &now),
        };
        if decision.errored {
            tracing::warn!(agent = %request.agent, action = %request.action, reason = ?decision.reason, "policy evaluation failed; DENY");
        }
        let (event, event_id, text) = decision_event(
            app,
            principal,
            &request,
            &policy_request,
            &decision,
            &loaded,
            &job_hash,
            received,
        )
        .await?;
        let mut events = vec![event];
        let mut effects = vec![
            Effect::RequirePolicyGeneration(loaded.generation),
            Effect::IndexPolicyDecision(PolicyDecisionRow {
                event_id: event_id.clone(),
                decided_micros: received,
                decision: decision.outcome.as_str().to_owned(),
                rule_id: decision.policy_rule_id.clone(),
                agent: request.agent.clone(),
            }),
        ];
        let mut approval_id = None;
        if decision.outcome == Outcome::RequireApproval {
            let approval = approval_for(
                app, principal, &request, &decision, &job_hash, &event_id, received,
            )
            .await?;
            events.push(approval.event);
            effects.extend(approval.effects);
            approval_id = Some(approval.approval_id);
        }
        let outcome = app
            .sequencer
            .submit(AppendRequest { events, effects })
            .await
            .map_err(|e| DecideError::Record(RecordError::Submit(e)))?;
        match outcome {
            AppendOutcome::Appended(results) if !results.is_empty() => {
                if let (false, Some(text)) = (results[0].is_dup, text) {
                    app.texts.put(results[0].seq, text);
                }
                return Ok(Decided {
                    policy_snapshot: loaded.snapshot.clone(),
                    policy_versions: loaded.versions(),
                    decision,
                    job_hash,
                    approval_id,
                    event_id,
                    seq: results[0].seq,
                });
            }
            AppendOutcome::Refused {
                index: 0,
                error: StoreError::Conflict(_),
            } => {
                loaded = crate::policies::reload(app, Some(loaded.generation)).await?;
            }
            AppendOutcome::Refused { index, error } => {
                return Err(DecideError::Record(RecordError::Refused { index, error }))
            }
            other => {
                return Err(DecideError::Record(RecordError::Submit(
                    SubmitError::Store(StoreError::Internal(format!(
                        "a decision was not appended: {other:?}"
                    ))),
                )))
            }
        }
    }
    Err(DecideError::Contended)
}

/// The `policy_decision` event (prepared: the payloads sealed), its id and its
/// searchable text (for the text indexer's buffer once appended).
#[allow(clippy::too_many_arguments)]
async fn decision_event(
    app: &App,
    principal: &Principal,
    request: &DecideRequest,
    policy_request: &PolicyRequest,
    decision: &Decision,
    loaded: &Loaded,
    job_hash: &str,
    received: i64,
) -> Result<(EventToAppend, String, Option<String>), DecideError> {
    let mut context = Map::from_iter([("job_id".to_owned(), json!(request.job_id))]);
    if let Some(subject) = &request.subject {
        context.insert("subject".into(), json!(subject));
    }
    let event = ServerEvent {
        event_type: "policy_decision",
        trace_id: request.trace_id.clone(),
        parent_event_id: None,
        fields: Map::from_iter([
            (
                "decision".to_owned(),
                decision_json(decision, &request.agent, &loaded.versions()),
            ),
            (
                "snapshot".to_owned(),
                json!({ "policy_snapshot": loaded.snapshot }),
            ),
            ("job_hash".to_owned(), json!(job_hash)),
            ("context".to_owned(), Value::Object(context)),
            (
                "input".to_owned(),
                json!({ "request": policy_request, "payload": request.payload }),
            ),
        ]),
    };
    crate::record::prepare_governed_with_text(app, principal, event, received)
        .await
        .map_err(|e| match e {
            RecordError::Invalid(field) => invalid("payload", field.to_string()),
            other => DecideError::Record(other),
        })
}

/// The event's `decision` member.
fn decision_json(decision: &Decision, agent: &str, versions: &[SetVersion]) -> Value {
    json!({
        "action": decision.outcome.as_str(),
        "policy_rule_id": decision.policy_rule_id,
        "reason": decision.reason,
        "determining": decision.determining,
        "policy_versions": versions,
        "agent": agent,
    })
}

/// The approval request a REQUIRE_APPROVAL decision opens: its event, its effects
/// and its id, committed with the decision.
pub struct ApprovalToOpen {
    pub event: EventToAppend,
    pub effects: Vec<Effect>,
    pub approval_id: String,
}

/// Builds the approval request a REQUIRE_APPROVAL decision opens (CONTRACT section
/// 6): the approvals service owns what a request is (its event, its table, its
/// checks); the decision gives it the decided payload as the draft, its `job_hash`,
/// its trace and subject, its reason, and itself as the request's parent. Prepared at
/// the decision's instant, committed in the decision's append.
///
/// # Errors
/// A request the approvals service refuses (naming the field), or store errors while
/// sealing the draft.
async fn approval_for(
    app: &App,
    principal: &Principal,
    request: &DecideRequest,
    decision: &Decision,
    job_hash: &str,
    decision_event_id: &str,
    received_micros: i64,
) -> Result<ApprovalToOpen, DecideError> {
    let open = crate::approvals::OpenApproval {
        job_id: request.job_id.clone(),
        job_hash: job_hash.to_owned(),
        action: request.action.clone(),
        reason: decision.reason.clone(),
        draft: request.payload.clone(),
        trace_id: request.trace_id.clone(),
        parent_event_id: Some(decision_event_id.to_owned()),
        expires_in: None,
        subject: request.subject.clone(),
    };
    let prepared = crate::approvals::prepare_request(app, principal, open, received_micros)
        .await
        .map_err(|e| match e {
            crate::approvals::ApprovalError::Invalid { field, why } => invalid(field.as_str(), why),
            crate::approvals::ApprovalError::Record(record) => DecideError::Record(record),
            crate::approvals::ApprovalError::Store(store) => DecideError::Store(store),
            other => DecideError::Store(StoreError::Internal(other.to_string())),
        })?;
    Ok(ApprovalToOpen {
        event: prepared.event,
        effects: vec![prepared.effect],
        approval_id: prepared.approval_id,
    })
}

/// A logged decision evaluated again against the versions it names.
#[derive(Debug, Clone)]
pub struct Replayed {
    pub event_id: String,
    pub seq: u64,
    /// The decision as logged.
    pub logged: Value,
    /// The decision made now with the same versions and request, if it can be.
    pub replayed: Option<Decision>,
    /// Whether `replayed` decided the same (outcome, rule, determining rules).
    pub same: Option<bool>,
    /// What differs, or why it cannot be replayed.
    pub notes: Vec<String>,
    /// The versions active now, and whether they differ from the logged ones.
    pub current_snapshot: String,
}

/// Re-evaluates the `policy_decision` `event_id` against the versions it names.
///
/// # Errors
/// [`DecideError::Invalid`] naming `event_id` if it is not a decision; store errors.
pub async fn replay(app: &App, event_id: &str) -> Result<Option<Replayed>, DecideError> {
    let found = crate::reading::event_by_id(app, event_id)
        .await
        .map_err(|e| StoreError::Internal(format!("{e:?}")))?;
    let Some((record, _)) = found else {
        return Ok(None);
    };
    let map = record
        .to_map()
        .map_err(|e| StoreError::Internal(format!("{e:?}")))?;
    if map.get("event_type").and_then(Value::as_str) != Some("policy_decision") {
        return Err(invalid("event_id", "is not a policy_decision event"));
    }
    let logged = map.get("decision").cloned().unwrap_or(Value::Null);
    let received = map
        .get("received_at")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or(0, |t| t.as_microsecond());
    let mut notes = Vec::new();
    let current_snapshot = crate::policies::current(app).await?.snapshot.clone();
    let logged_snapshot = map
        .get("snapshot")
        .and_then(|s| s.get("policy_snapshot"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if current_snapshot != logged_snapshot {
        notes.push(format!(
            "the active policies changed since: now {current_snapshot}, then {logged_snapshot}"
        ));
    }
    let input = map.get("input");
    let request: Option<PolicyRequest> = input
        .and_then(|i| i.get("request"))
        .and_then(|r| serde_json::from_value(r.clone()).ok());
    let Some(request) = request.filter(|_| !record.erased) else {
        notes.push(
            "the evaluated request can no longer be shown: its subject was erased (crypto-shredded)".into(),
        );
        return Ok(Some(Replayed {
            event_id: event_id.to_owned(),
            seq: record.seq,
            logged,
            replayed: None,
            same: None,
            notes,
            current_snapshot,
        }));
    };
    let versions: Vec<SetVersion> = logged
        .get("policy_versions")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let now = crate::policies::now_at(received, &app.settings.policy_time_zone);
    let mut sets = Vec::new();
    for v in &versions {
        let stored = app
            .store
            .policy_version(&v.id, i64::try_from(v.version).unwrap_or(i64::MAX))
            .await?;
        let Some(stored) = stored else {
            notes.push(format!(
                "policy set {:?} version {} is not stored",
                v.id, v.version
            ));
            continue;
        };
        // Tests are not rerun: replay shows what these versions decide, as they were.
        match evident_policy::compile(
            &stored.set_id,
            v.version,
            &stored.text,
            &stored.schema,
            Vec::new(),
            &now,
        ) {
            Ok(set) => sets.push(std::sync::Arc::new(set)),
            Err(e) => notes.push(format!(
                "policy set {:?} version {} no longer compiles: {e}",
                v.id, v.version
            )),
        }
    }
    let decision = match evident_policy::ActiveSets::new(sets) {
        Ok(active) => active.decide(&request, &now),
        Err(e) => Decision::deny_error(e.to_string()),
    };
    let logged_ids: Vec<String> = logged
        .get("determining")
        .and_then(Value::as_array)
        .map(|d| {
            d.iter()
                .filter_map(|x| x.get("rule_id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let replayed_ids: Vec<String> = decision
        .determining
        .iter()
        .map(|d| d.rule_id.clone())
        .collect();
    let logged_action = logged
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let same = logged_action == decision.outcome.as_str() && logged_ids == replayed_ids;
    if logged_action != decision.outcome.as_str() {
        notes.push(format!(
            "the decision was {logged_action}, replayed it is {}",
            decision.outcome
        ));
    }
    if logged_ids != replayed_ids {
        notes.push(format!(
            "the determining rules were {logged_ids:?}, replayed they are {replayed_ids:?}"
        ));
    }
    Ok(Some(Replayed {
        event_id: event_id.to_owned(),
        seq: record.seq,
        logged,
        replayed: Some(decision),
        same: Some(same),
        notes,
        current_snapshot,
    }))
}

/// A decision as the API answers it.
pub fn decided_json(decided: &Decided) -> Value {
    let d = &decided.decision;
    json!({
        "decision": d.outcome.as_str(),
        "policy_rule_id": d.policy_rule_id,
        "policy_reason": d.reason,
        "determining": d.determining,
        "policy_snapshot": decided.policy_snapshot,
        "policy_versions": decided.policy_versions,
        "job_hash": decided.job_hash,
        "approval_id": decided.approval_id,
        "event_id": decided.event_id,
        "seq": decided.seq,
    })
}

/// A replay as the API and the CLI show it.
pub fn replayed_json(r: &Replayed) -> Value {
    json!({
        "event_id": r.event_id,
        "seq": r.seq,
        "logged": r.logged,
        "replayed": r.replayed.as_ref().map(|d| json!({
            "decision": d.outcome.as_str(),
            "policy_rule_id": d.policy_rule_id,
            "policy_reason": d.reason,
            "determining": d.determining,
        })),
        "same": r.same,
        "notes": r.notes,
        "current_policy_snapshot": r.current_snapshot,
    })
}
