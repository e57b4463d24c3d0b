//! Validation of client events (CONTRACT section 1).
//!
//! A client event is a JSON object. This module checks the fields Evident gives meaning
//! to and leaves every other field alone: unknown top-level fields are kept. Errors name
//! the offending field with a JSON pointer relative to the event, so the HTTP layer can
//! prefix the event's index in its batch (`/2` + `/actor/id`).

use serde_json::{Map, Value};

/// The `schema` value of every record this version writes.
pub const SCHEMA: &str = "evident/1";

/// Longest id (`event_id`, `trace_id`, ...) accepted, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Event types a client may send.
pub const CLIENT_EVENT_TYPES: &[&str] = &[
    "model_call",
    "tool_call",
    "tool_result",
    "retrieval",
    "agent_run",
    "decision",
    "guardrail",
    "human_review",
    "external_action",
    "error",
    "step",
];

/// Event types only the server writes; a client sending one gets 400.
pub const SERVER_EVENT_TYPES: &[&str] = &[
    "policy_decision",
    "approval_request",
    "approval_resolution",
    "alert",
    "alert_update",
    "policy_publish",
    "policy_rollback",
    "artifact_publish",
    "label_move",
    "retention_purge",
    "legal_hold",
    "subject_erasure",
    "vault_access",
    "key_change",
    "config_change",
    "agent_suspension",
    "access_log_checkpoint",
];

/// Fields only the server sets; a client sending one gets 400.
pub const SERVER_FIELDS: &[&str] = &[
    "received_at",
    "principal",
    "schema",
    "trace_prev",
    "subject_prev",
    "seq",
];

/// The payload fields that are stored as blobs (CONTRACT section 2).
pub const PAYLOAD_FIELDS: &[&str] = &["input", "output", "attributes"];

/// A validation failure: where (JSON pointer relative to the event) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct FieldError {
    /// RFC 6901 pointer into the event, e.g. `/actor/id`; empty for the event itself.
    pub pointer: String,
    /// What is wrong, in words a client developer can act on.
    pub message: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// The same error seen from a containing document: `prefix` + pointer.
    pub fn under(mut self, prefix: &str) -> Self {
        self.pointer = format!("{prefix}{}", self.pointer);
        self
    }
}

/// Checks a client-submitted event.
///
/// # Errors
/// The first field that breaks CONTRACT section 1, with its pointer.
pub fn validate_client_event(event: &Value) -> Result<(), FieldError> {
    let Some(obj) = event.as_object() else {
        return Err(FieldError::new("", "an event must be a JSON object"));
    };
    for field in SERVER_FIELDS {
        if obj.contains_key(*field) {
            return Err(FieldError::new(
                format!("/{field}"),
                format!("`{field}` is set by the server and must not be sent"),
            ));
        }
    }
    optional_id(obj, "event_id")?;
    required_id(obj, "trace_id")?;
    optional_id(obj, "parent_event_id")?;
    required_timestamp(obj, "timestamp")?;
    validate_actor(obj)?;
    validate_event_type(obj)?;
    validate_context(obj)?;
    validate_snapshot(obj)?;
    optional_object_of_strings(obj, "tool", &["name", "call_id", "type", "version"])?;
    validate_decision(obj)?;
    validate_output_safety(obj)?;
    optional_object_of_strings(
        obj,
        "approval",
        &["resolution", "resolved_by", "method", "comment"],
    )?;
    optional_object(obj, "metadata")?;
    optional_enum(
        obj,
        "outcome",
        &["success", "error", "escalated", "pending"],
    )?;
    validate_error(obj)?;
    validate_job_hash(obj)?;
    for field in PAYLOAD_FIELDS {
        validate_blob_reference(obj, field)?;
    }
    Ok(())
}

/// `true` for ids the contract accepts: 1 to 128 bytes of printable ASCII.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fn required<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a Value, FieldError> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(FieldError::new(
            format!("/{field}"),
            format!("`{field}` is required"),
        )),
        Some(v) => Ok(v),
    }
}

fn string_at<'a>(value: &'a Value, pointer: &str) -> Result<&'a str, FieldError> {
    value
        .as_str()
        .ok_or_else(|| FieldError::new(pointer, "must be a string"))
}

fn check_id(value: &Value, pointer: &str) -> Result<(), FieldError> {
    let id = string_at(value, pointer)?;
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(FieldError::new(
            pointer,
            format!("must be 1 to {MAX_ID_LEN} printable ASCII characters"),
        ))
    }
}

fn required_id(obj: &Map<String, Value>, field: &str) -> Result<(), FieldError> {
    check_id(required(obj, field)?, &format!("/{field}"))
}

fn optional_id(obj: &Map<String, Value>, field: &str) -> Result<(), FieldError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(v) => check_id(v, &format!("/{field}")),
    }
}

fn required_timestamp(obj: &Map<String, Value>, field: &str) -> Result<(), FieldError> {
    let pointer = format!("/{field}");
    let text = string_at(required(obj, field)?, &pointer)?;
    crate::time::parse_rfc3339(text)
        .map(|_| ())
        .map_err(|_| FieldError::new(pointer, "must be an RFC 3339 date-time with an offset"))
}

fn optional_object<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a Map<String, Value>>, FieldError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(_) => Err(FieldError::new(format!("/{field}"), "must be an object")),
    }
}

/// An optional object whose listed members, when present, must be strings (or null).
fn optional_object_of_strings(
    obj: &Map<String, Value>,
    field: &str,
    string_members: &[&str],
) -> Result<Option<()>, FieldError> {
    let Some(inner) = optional_object(obj, field)? else {
        return Ok(None);
    };
    for member in string_members {
        optional_string(inner, member, &format!("/{field}/{member}"))?;
    }
    Ok(Some(()))
}

fn optional_string<'a>(
    obj: &'a Map<String, Value>,
    member: &str,
    pointer: &str,
) -> Result<Option<&'a str>, FieldError> {
    match obj.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => string_at(v, pointer).map(Some),
    }
}

fn optional_enum(
    obj: &Map<String, Value>,
    field: &str,
    allowed: &[&str],
) -> Result<(), FieldError> {
    let pointer = format!("/{field}");
    let Some(value) = optional_string(obj, field, &pointer)? else {
        return Ok(());
    };
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(FieldError::new(
            pointer,
            format!("must be one of {}", allowed.join(", ")),
        ))
    }
}

fn validate_actor(obj: &Map<String, Value>) -> Result<(), FieldError> {
    let actor = required(obj, "actor")?
        .as_object()
        .ok_or_else(|| FieldError::new("/actor", "must be an object"))?;
    let kind = string_at(
        actor
            .get("type")
            .ok_or_else(|| FieldError::new("/actor/type", "`actor.type` is required"))?,
        "/actor/type",
    )?;
    if !["agent", "user", "system"].contains(&kind) {
        return Err(FieldError::new(
            "/actor/type",
            "must be one of agent, user, system",
        ));
    }
    let id = actor
        .get("id")
        .ok_or_else(|| FieldError::new("/actor/id", "`actor.id` is required"))?;
    check_id(id, "/actor/id")?;
    for member in ["run_id", "version", "environment"] {
        optional_string(actor, member, &format!("/actor/{member}"))?;
    }
    Ok(())
}

fn validate_event_type(obj: &Map<String, Value>) -> Result<(), FieldError> {
    let kind = string_at(required(obj, "event_type")?, "/event_type")?;
    if CLIENT_EVENT_TYPES.contains(&kind) {
        return Ok(());
    }
    if SERVER_EVENT_TYPES.contains(&kind) {
        return Err(FieldError::new(
            "/event_type",
            format!("`{kind}` events are written by the server only"),
        ));
    }
    Err(FieldError::new(
        "/event_type",
        format!("must be one of {}", CLIENT_EVENT_TYPES.join(", ")),
    ))
}

/// `context.subject_identifiers`: an object whose keys name the kind of identifier
/// (they become token types: letters, digits, `_` and `-`) and whose values are the
/// non-empty strings that identify the subject; it needs `context.subject`, whose key
/// the vault keeps them under (CONTRACT section 2, "Identifiers no pattern can see").
fn validate_subject_identifiers(context: &Map<String, Value>) -> Result<(), FieldError> {
    const POINTER: &str = "/context/subject_identifiers";
    let identifiers = match context.get("subject_identifiers") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(identifiers)) => identifiers,
        Some(_) => return Err(FieldError::new(POINTER, "must be an object")),
    };
    if !context.get("subject").is_some_and(Value::is_string) {
        return Err(FieldError::new(
            POINTER,
            "needs context.subject: declared identifiers are kept under the subject's key",
        ));
    }
    for (key, value) in identifiers {
        let valid_key = !key.is_empty()
            && key.len() <= crate::pii::MAX_IDENTIFIER_KEY
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_key {
            return Err(FieldError::new(
                format!("{POINTER}/{}", crate::json::escape_pointer_token(key)),
                format!(
                    "keys are 1 to {} letters, digits, '_' or '-' (they name the token type)",
                    crate::pii::MAX_IDENTIFIER_KEY
                ),
            ));
        }
        let valid_value = value
            .as_str()
            .is_some_and(|v| !v.trim().is_empty() && v.len() <= 1024);
        if !valid_value {
            return Err(FieldError::new(
                format!("{POINTER}/{key}"),
                "must be a non-empty string of at most 1024 bytes",
            ));
        }
    }
    Ok(())
}

fn validate_context(obj: &Map<String, Value>) -> Result<(), FieldError> {
    let Some(context) = optional_object(obj, "context")? else {
        return Ok(());
    };
    for member in [
        "case_id",
        "job_id",
        "workflow_run_id",
        "workflow_step_id",
        "idempotency_key",
    ] {
        if let Some(v) = context.get(member).filter(|v| !v.is_null()) {
            check_id(v, &format!("/context/{member}"))?;
        }
    }
    if let Some(subject) = optional_string(context, "subject", "/context/subject")? {
        if subject.trim().is_empty() || subject.len() > 1024 {
            return Err(FieldError::new(
                "/context/subject",
                "must be a non-empty identifier of at most 1024 bytes",
            ));
        }
    }
    validate_subject_identifiers(context)?;
    match context.get("correlation_ids") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(ids)) => {
            for (i, id) in ids.iter().enumerate() {
                check_id(id, &format!("/context/correlation_ids/{i}"))?;
            }
            Ok(())
        }
        Some(_) => Err(FieldError::new(
            "/context/correlation_ids",
            "must be an array of ids",
        )),
    }
}

fn validate_snapshot(obj: &Map<String, Value>) -> Result<(), FieldError> {
    let Some(snapshot) = optional_object(obj, "snapshot")? else {
        return Ok(());
    };
    for member in [
        "model",
        "prompt_version",
        "retrieval_index_version",
        "policy_snapshot",
        "workflow_version",
    ] {
        optional_string(snapshot, member, &format!("/snapshot/{member}"))?;
    }
    match snapshot.get("model_params") {
        None | Some(Value::Null) | Some(Value::Object(_)) => {}
        Some(_) => {
            return Err(FieldError::new(
                "/snapshot/model_params",
                "must be an object",
            ))
        }
    }
    match snapshot.get("tool_versions") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(tools)) => {
            for (name, version) in tools {
                string_at(
                    version,
                    &format!("/snapshot/tool_versions/{}", escape_pointer(name)),
                )?;
            }
            Ok(())
        }
        Some(_) => Err(FieldError::new(
            "/snapshot/tool_versions",
            "must be an object of name to version",
        )),
    }
}

fn validate_decision(obj: &Map<String, Value>) -> Result<(), FieldError> {
    let Some(decision) = optional_object(obj, "decision")? else {
        return Ok(());
    };
    for member in ["action", "reason", "policy_rule_id"] {
        optional_string(decision, member, &format!("/decision/{member}"))?;
    }
    match decision.get("data_refs") {
        None | Some(Value::Null) | Some(Value::Array(_)) => Ok(()),
        Some(_) => Err(FieldError::new("/decision/data_refs", "must be an array")),
    }
}

fn validate_output_safety(obj: &Map<String, Value>) -> Result<(), FieldError> {
    let Some(safety) = optional_object(obj, "output_safety")? else {
        return Ok(());
    };
    optional_enum(safety, "decision", &["release", "redact", "quarantine"])
        .map_err(|e| e.under("/output_safety"))?;
    optional_string(safety, "rule_id", "/output_safety/rule_id")?;
    Ok(())
}

/// `job_hash` (CONTRACT section 1): the hash of the action performed, compared with the
/// approved one in the job view. Any event type may quote one (a `decision` or a
/// `tool_call` may name the action it is about), but only an `external_action`'s is
/// read as "what was done"; whatever the type, it has the one shape, so a hash that
/// could never match is refused at the door rather than reported as a mismatch later.
fn validate_job_hash(obj: &Map<String, Value>) -> Result<(), FieldError> {
    match obj.get("job_hash") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(hash)) if crate::governance::is_job_hash(hash) => Ok(()),
        Some(_) => Err(FieldError::new(
            "/job_hash",
            "must be the lowercase hex SHA-256 (64 characters) of the RFC 8785 bytes of the action performed",
        )),
    }
}

fn validate_error(obj: &Map<String, Value>) -> Result<(), FieldError> {
    let Some(error) = optional_object(obj, "error")? else {
        return Ok(());
    };
    optional_string(error, "kind", "/error/kind")?;
    optional_string(error, "message", "/error/message")?;
    Ok(())
}

/// A payload may be any JSON; an object with a `$blob` member is a reference to an
/// uploaded blob and must be exactly `{"$blob": "sha256:<64 hex>"}`.
fn validate_blob_reference(obj: &Map<String, Value>, field: &str) -> Result<(), FieldError> {
    let Some(Value::Object(payload)) = obj.get(field) else {
        return Ok(());
    };
    let Some(reference) = payload.get("$blob") else {
        return Ok(());
    };
    let pointer = format!("/{field}/$blob");
    let reference = string_at(reference, &pointer)?;
    if payload.len() != 1 || crate::blob::parse_blob_ref(reference).is_none() {
        return Err(FieldError::new(
            pointer,
            "a blob reference must be exactly {\"$blob\": \"sha256:<64 lowercase hex>\"}",
        ));
    }
    Ok(())
}

/// Escapes a member name for use in a JSON pointer (RFC 6901 section 3).
pub fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn action(job_hash: Value) -> Value {
        json!({
            "trace_id": "t", "timestamp": "2026-11-23T14:22:07Z",
            "actor": {"type": "agent", "id": "refund-bot"},
            "event_type": "external_action", "job_hash": job_hash,
        })
    }

    /// Every server type CONTRACT section 1 names, written out here rather than read
    /// from [`SERVER_EVENT_TYPES`], so a type missing from that list is caught.
    #[test]
    fn a_client_sending_any_server_type_is_told_the_server_writes_it() {
        for kind in [
            "policy_decision",
            "approval_request",
            "approval_resolution",
            "alert",
            "alert_update",
            "policy_publish",
            "policy_rollback",
            "artifact_publish",
            "label_move",
            "retention_purge",
            "legal_hold",
            "subject_erasure",
            "vault_access",
            "key_change",
            "config_change",
            "agent_suspension",
            "access_log_checkpoint",
        ] {
            let mut event = action(json!("ab".repeat(32)));
            event["event_type"] = json!(kind);
            let refused = validate_client_event(&event).expect_err(kind);
            assert_eq!(refused.pointer, "/event_type", "{kind}");
            assert!(
                refused.message.contains("server only"),
                "{kind}: {refused:?}"
            );
        }
    }

    #[test]
    fn job_hash_must_be_64_lowercase_hex() {
        assert_eq!(
            validate_client_event(&action(json!("ab".repeat(32)))),
            Ok(())
        );
        assert_eq!(validate_client_event(&action(Value::Null)), Ok(()));
        for bad in [
            json!("AB".repeat(32)),
            json!("ab"),
            json!(7),
            json!({"h": 1}),
        ] {
            let error = validate_client_event(&action(bad)).unwrap_err();
            assert_eq!(error.pointer, "/job_hash");
        }
    }
}
