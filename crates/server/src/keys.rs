//! The keys service (CONTRACT section 7, `evident keys`): API keys created and
//! revoked, the master and signing keys rotated. Each change commits with the `key_change` event
//! that records it (see [`crate::record`]); the event names the key, its role and
//! agents, never a secret, a key hash or key material.

use evident_core::record::ServerEvent;
use evident_store::{Appended, Effect, StoreError};
use serde_json::{json, Map, Value};

use crate::auth::{generate_api_key, is_valid_key_name, Principal, Role};
use crate::record::RecordError;
use crate::state::App;

/// Why a key change was not made; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("a key name is 1 to 64 of letters, digits, '.', '_' and '-'")]
    InvalidName,
    #[error("an API key named {0:?} exists")]
    NameTaken(String),
    #[error("no API key named {0:?}")]
    UnknownKey(String),
    #[error(transparent)]
    Record(RecordError),
    #[error(transparent)]
    History(#[from] crate::signing::HistoryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A key just created: its secret, shown once, and the event that records it.
#[derive(Debug)]
pub struct CreatedKey {
    pub secret: String,
    pub event: Appended,
}

fn key_change(fields: Value) -> ServerEvent {
    ServerEvent {
        event_type: "key_change",
        trace_id: None,
        parent_event_id: None,
        fields: Map::from_iter([("key_change".to_owned(), fields)]),
    }
}

/// Creates an API key with its `key_change` event.
///
/// # Errors
/// [`KeyError::InvalidName`], [`KeyError::NameTaken`]; store and sequencer errors.
pub async fn create(
    app: &App,
    principal: &Principal,
    name: &str,
    role: Role,
    agents: Vec<String>,
) -> Result<CreatedKey, KeyError> {
    if !is_valid_key_name(name) {
        return Err(KeyError::InvalidName);
    }
    let now = app.now_micros();
    let event = key_change(json!({
        "action": "create", "kind": "api_key", "name": name, "role": role.as_str(),
        "agents": agents,
    }));
    let key = generate_api_key(name, role, agents, now);
    let recorded = crate::record::record(
        app,
        principal,
        event,
        vec![Effect::CreateApiKey(key.record)],
    )
    .await;
    match recorded {
        Ok(event) => Ok(CreatedKey {
            secret: key.secret,
            event,
        }),
        Err(RecordError::Refused {
            error: StoreError::Conflict(_),
            ..
        }) => Err(KeyError::NameTaken(name.to_owned())),
        Err(e) => Err(KeyError::Record(e)),
    }
}

/// Revokes an API key with its `key_change` event.
///
/// # Errors
/// [`KeyError::UnknownKey`]; store and sequencer errors.
pub async fn revoke(app: &App, principal: &Principal, name: &str) -> Result<Appended, KeyError> {
    let now = app.now_micros();
    let event = key_change(json!({"action": "revoke", "kind": "api_key", "name": name}));
    let effect = Effect::RevokeApiKey {
        name: name.to_owned(),
        now_micros: now,
    };
    match crate::record::record(app, principal, event, vec![effect]).await {
        Ok(event) => Ok(event),
        Err(RecordError::Refused {
            error: StoreError::NotFound(_),
            ..
        }) => Err(KeyError::UnknownKey(name.to_owned())),
        Err(e) => Err(KeyError::Record(e)),
    }
}

/// Records a master-key rotation: every live data key re-wrapped under `new`, and
/// the `meta` values naming it, committed with the `key_change` event.
///
/// # Errors
/// Store and sequencer errors; nothing changed then.
pub async fn record_master_rotation(
    app: &App,
    principal: &Principal,
    new: &crate::vault::MasterKey,
    meta: Vec<(String, String)>,
) -> Result<(u64, Appended), KeyError> {
    let rewrapped = app.vault.rewrapped_keys(new).await?;
    let count = rewrapped.len() as u64;
    let event = key_change(json!({
        "action": "rotate", "kind": "master_key", "epoch": new.epoch, "data_keys_rewrapped": count,
    }));
    let mut effects = vec![Effect::RewrapDataKeys(rewrapped)];
    effects.extend(
        meta.into_iter()
            .map(|(key, value)| Effect::SetMeta { key, value }),
    );
    let event = crate::record::record(app, principal, event, effects)
        .await
        .map_err(KeyError::Record)?;
    Ok((count, event))
}

/// Records a signing-key rotation: the `key_change` event announcing `new_key` (and
/// the key it follows), committed with the history that makes it the key of every
/// checkpoint from the event's `seq` + 2 and the current verifier key (see
/// [`crate::signing`]). The private key must be where the checkpointer finds it
/// before this is called.
///
/// # Errors
/// The history cannot be read; store and sequencer errors. Nothing changed then.
pub async fn record_signing_rotation(
    app: &App,
    principal: &Principal,
    new_key: &str,
) -> Result<Appended, KeyError> {
    let history = crate::signing::history(&*app.store).await?;
    let previous = history.last().map(|k| k.verifier_key.clone());
    let event = key_change(json!({
        "action": "rotate", "kind": "signing_key", "verifier_key": new_key,
        "previous_verifier_key": previous,
    }));
    let prepared = crate::record::prepare(app, principal, event);
    let row = crate::signing::rotated_records(&*app.store, new_key, &prepared.event.index.event_id)
        .await?;
    let effects = vec![
        Effect::SetMeta {
            key: crate::signing::META_SIGNING_KEYS.to_owned(),
            value: row,
        },
        Effect::SetMeta {
            key: crate::datadir::META_VERIFIER_KEY.to_owned(),
            value: new_key.to_owned(),
        },
    ];
    crate::record::record_prepared(app, prepared, effects)
        .await
        .map_err(KeyError::Record)
}
