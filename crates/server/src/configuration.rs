//! `config_change` at server start (CONTRACT section 1, "Server events"): when the
//! effective configuration differs from the one last recorded, the log gets an event
//! with a digest of the configuration and the names of the keys that changed, never a
//! value. What was recorded is kept in the store's meta (a SHA-256 per key), written
//! in the transaction that appends the event.
//!
//! The first start of a log sets the baseline without an event: nothing changed yet,
//! and the log's first entries stay the clients' (the baseline's digest is what the
//! first `config_change` is compared against; `--check-config` shows it in clear).

use std::collections::BTreeMap;

use evident_core::record::ServerEvent;
use evident_store::{Appended, Effect};
use serde_json::{json, Map};
use sha2::{Digest, Sha256};

use crate::auth::{Principal, Role};
use crate::record::RecordError;
use crate::state::App;

/// The meta key holding `{key: hex SHA-256 of its value}` of the last recorded
/// configuration.
pub const META_RECORDED_CONFIG: &str = "recorded_config";

/// The principal a server names as the actor of what it records on its own.
pub fn server_principal() -> Principal {
    Principal {
        name: "evident".into(),
        role: Role::Admin,
        agents: evident_store::AgentBinding::Any,
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    evident_core::blob::hex(&Sha256::digest(bytes))
}

/// Records `entries` (each key of the effective configuration with its value as
/// shown to operators, secrets already redacted) if they differ from the
/// configuration last recorded; returns the event, or `None` when nothing changed.
///
/// # Errors
/// Store and sequencer errors; nothing recorded then.
pub async fn record_if_changed(
    app: &App,
    entries: &BTreeMap<String, String>,
) -> Result<Option<Appended>, RecordError> {
    let digests: BTreeMap<&str, String> = entries
        .iter()
        .map(|(key, value)| (key.as_str(), hex_sha256(value.as_bytes())))
        .collect();
    let previous: BTreeMap<String, String> = app
        .store
        .get_meta(META_RECORDED_CONFIG)
        .await
        .map_err(|e| RecordError::Submit(e.into()))?
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let mut changed: Vec<&str> = digests
        .iter()
        .filter(|(key, digest)| previous.get(**key) != Some(*digest))
        .map(|(key, _)| *key)
        .collect();
    changed.extend(
        previous
            .keys()
            .filter(|key| !digests.contains_key(key.as_str()))
            .map(String::as_str),
    );
    if changed.is_empty() {
        return Ok(None);
    }
    changed.sort_unstable();
    let recorded = serde_json::to_string(&digests).unwrap_or_default();
    if previous.is_empty() {
        app.store
            .set_meta(META_RECORDED_CONFIG, &recorded)
            .await
            .map_err(|e| RecordError::Submit(e.into()))?;
        return Ok(None);
    }
    let event = ServerEvent {
        event_type: "config_change",
        trace_id: None,
        parent_event_id: None,
        fields: Map::from_iter([(
            "config_change".to_owned(),
            json!({
                "digest": format!("sha256:{}", hex_sha256(recorded.as_bytes())),
                "changed": changed,
            }),
        )]),
    };
    let effect = Effect::SetMeta {
        key: META_RECORDED_CONFIG.into(),
        value: recorded,
    };
    crate::record::record(app, &server_principal(), event, vec![effect])
        .await
        .map(Some)
}
