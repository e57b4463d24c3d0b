//! Legal holds (CONTRACT sections 2 and 4, `POST/GET/DELETE /api/v1/legal-holds`):
//! placing and lifting a hold are `legal_hold` events committed with the change
//! ([`Effect::PlaceLegalHold`], [`Effect::LiftLegalHold`]); retention and erasure skip
//! what a hold in force covers (erasure: `crate::privacy::erase`).
//!
//! A hold on a subject takes the clear identifier (or a `subj_` token) and stores only
//! its token; the event names the token, never the clear id.

use evident_core::record::ServerEvent;
use evident_core::token::is_subject_token;
use evident_store::{Effect, HoldScope, LegalHold, StoreError};
use serde_json::{json, Map, Value};

use crate::auth::Principal;
use crate::record::RecordError;
use crate::state::App;

/// Longest id a hold may name (the contract's limit for trace ids).
const MAX_ID: usize = 128;

/// What to hold, as asked: one scope, why, until when.
#[derive(Debug, Clone)]
pub struct PlaceHold {
    /// The scope; a subject may be a clear identifier (tokenized here).
    pub scope: HoldScope,
    pub reason: String,
    pub until_micros: Option<i64>,
}

/// Why a hold was not placed or lifted; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// A field of the request is wrong: its JSON pointer and why.
    #[error("{pointer}: {why}")]
    Invalid { pointer: &'static str, why: String },
    #[error("no legal hold {0}")]
    NotFound(String),
    #[error("the legal hold {0} was lifted already")]
    Lifted(String),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(pointer: &'static str, why: impl Into<String>) -> HoldError {
    HoldError::Invalid {
        pointer,
        why: why.into(),
    }
}

/// Places a hold: a `legal_hold` event with `action: place`, committed with the hold.
///
/// # Errors
/// See [`HoldError`].
pub async fn place(
    app: &App,
    principal: &Principal,
    request: PlaceHold,
) -> Result<LegalHold, HoldError> {
    let scope = match request.scope {
        HoldScope::Subject(subject) => {
            let subject = subject.trim();
            if subject.is_empty() || subject.len() > 1024 {
                return Err(invalid("/subject", "an identifier of 1 to 1024 bytes"));
            }
            HoldScope::Subject(if is_subject_token(subject) {
                subject.to_owned()
            } else {
                app.token_key.subject_token(subject)
            })
        }
        HoldScope::Trace(id) => HoldScope::Trace(checked_id(id, "/trace_id")?),
        HoldScope::Job(id) => HoldScope::Job(checked_id(id, "/job_id")?),
        HoldScope::Case(id) => HoldScope::Case(checked_id(id, "/case_id")?),
        HoldScope::Time {
            from_micros,
            to_micros,
        } => {
            if from_micros > to_micros {
                return Err(invalid("/to", "must not be before `from`"));
            }
            HoldScope::Time {
                from_micros,
                to_micros,
            }
        }
    };
    let reason = crate::privacy::tokenized_reason(app, &request.reason)
        .map_err(|why| invalid("/reason", why))?;
    let now = app.now_micros();
    if request.until_micros.is_some_and(|until| until <= now) {
        return Err(invalid("/until", "must be in the future"));
    }
    let hold_id = new_hold_id();
    let event = ServerEvent {
        event_type: "legal_hold",
        trace_id: None,
        parent_event_id: None,
        fields: Map::from_iter([(
            "legal_hold".to_owned(),
            json!({
                "action": "place",
                "hold_id": hold_id,
                "scope": scope_json(&scope),
                "reason": reason,
                "until": request.until_micros.map(crate::clock::format_micros),
            }),
        )]),
    };
    let (prepared, event_id) = crate::record::prepare_at(app, principal, event, now);
    let hold = LegalHold {
        hold_id,
        scope,
        reason,
        placed_by: principal.name.clone(),
        placed_micros: now,
        until_micros: request.until_micros,
        event_id,
        lifted_micros: None,
        lifted_by: None,
    };
    crate::record::record_prepared(app, prepared, vec![Effect::PlaceLegalHold(hold.clone())])
        .await?;
    Ok(hold)
}

/// Lifts a hold: a `legal_hold` event with `action: lift`, committed with the change.
///
/// # Errors
/// See [`HoldError`].
pub async fn lift(
    app: &App,
    principal: &Principal,
    hold_id: &str,
    reason: Option<&str>,
) -> Result<LegalHold, HoldError> {
    let Some(hold) = app.store.legal_hold(hold_id).await? else {
        return Err(HoldError::NotFound(hold_id.to_owned()));
    };
    if hold.lifted_micros.is_some() {
        return Err(HoldError::Lifted(hold.hold_id));
    }
    let reason = match reason {
        Some(reason) => Some(
            crate::privacy::tokenized_reason(app, reason).map_err(|why| invalid("/reason", why))?,
        ),
        None => None,
    };
    let now = app.now_micros();
    let event = ServerEvent {
        event_type: "legal_hold",
        trace_id: None,
        parent_event_id: None,
        fields: Map::from_iter([(
            "legal_hold".to_owned(),
            json!({
                "action": "lift",
                "hold_id": hold.hold_id,
                "scope": scope_json(&hold.scope),
                "reason": reason,
                "placed_by": hold.placed_by,
            }),
        )]),
    };
    let effect = Effect::LiftLegalHold {
        hold_id: hold.hold_id.clone(),
        now_micros: now,
        lifted_by: principal.name.clone(),
    };
    match crate::record::record(app, principal, event, vec![effect]).await {
        Ok(_) => {}
        Err(RecordError::Refused {
            error: StoreError::NotFound(_),
            ..
        }) => return Err(HoldError::NotFound(hold.hold_id)),
        Err(RecordError::Refused {
            error: StoreError::Conflict(_),
            ..
        }) => return Err(HoldError::Lifted(hold.hold_id)),
        Err(e) => return Err(e.into()),
    }
    Ok(LegalHold {
        lifted_micros: Some(now),
        lifted_by: Some(principal.name.clone()),
        ..hold
    })
}

fn checked_id(id: String, pointer: &'static str) -> Result<String, HoldError> {
    let printable = id.bytes().all(|b| (0x20..0x7f).contains(&b));
    if id.is_empty() || id.len() > MAX_ID || !printable {
        return Err(invalid(
            pointer,
            format!("1 to {MAX_ID} printable ASCII characters"),
        ));
    }
    Ok(id)
}

/// A fresh hold id, `hold_<ULID>`.
fn new_hold_id() -> String {
    let event_id = evident_core::record::new_event_id(&mut rand::thread_rng());
    format!("hold_{}", event_id.trim_start_matches("evt_"))
}

/// The scope as events and answers show it.
pub fn scope_json(scope: &HoldScope) -> Value {
    match scope {
        HoldScope::Subject(token) => json!({"subject": token}),
        HoldScope::Trace(id) => json!({"trace_id": id}),
        HoldScope::Job(id) => json!({"job_id": id}),
        HoldScope::Case(id) => json!({"case_id": id}),
        HoldScope::Time {
            from_micros,
            to_micros,
        } => json!({
            "from": crate::clock::format_micros(*from_micros),
            "to": crate::clock::format_micros(*to_micros),
        }),
    }
}

/// A hold as the API answers it; `active` at `now_micros`.
pub fn hold_json(hold: &LegalHold, now_micros: i64) -> Value {
    json!({
        "hold_id": hold.hold_id,
        "scope": scope_json(&hold.scope),
        "reason": hold.reason,
        "placed_by": hold.placed_by,
        "placed_at": crate::clock::format_micros(hold.placed_micros),
        "until": hold.until_micros.map(crate::clock::format_micros),
        "event_id": hold.event_id,
        "lifted_at": hold.lifted_micros.map(crate::clock::format_micros),
        "lifted_by": hold.lifted_by,
        "active": hold.active_at(now_micros),
    })
}
