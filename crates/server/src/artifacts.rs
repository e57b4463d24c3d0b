//! The artifact registry (CONTRACT section 6, "artifacts"): immutable versions of what
//! an agent was (prompts, tool schemas, models, retrieval indexes, workflows, eval
//! datasets) and labels that move between them. A publish commits with its
//! `artifact_publish` event and a label move with its `label_move` event (see
//! [`crate::record`]); both rows keep their event's `received_at`, so `?at=` answers
//! what was latest, or under a label, at any instant, and every answer names the log
//! entry (`seq`, `event_id`) that proves it.
//!
//! **Content is configuration, not a payload.** It is kept inline (RFC 8785 bytes)
//! in the registry, unsealed and never tokenized, and its hash goes in the event: a
//! prompt template is something the operator wrote, not personal data about a
//! subject. So it is bounded ([`MAX_CONTENT_BYTES`]); large artifacts (a retrieval
//! index, a dataset) are published as a descriptor (location, digest, size), not as
//! their bytes. Personal data does not belong in an artifact.

use evident_core::record::ServerEvent;
use evident_store::artifacts::{ArtifactSelector, ArtifactVersion, LabelMove, PublishedArtifact};
use evident_store::{Appended, Effect, StoreError};
use serde_json::{json, Map, Value};
use sha2::Digest as _;

use crate::auth::Principal;
use crate::record::RecordError;
use crate::state::App;

/// The kinds of artifact (CONTRACT section 6).
pub const KINDS: &[&str] = &[
    "prompt",
    "tool_schema",
    "model",
    "retrieval_index",
    "workflow",
    "eval_dataset",
];

/// Largest content, as RFC 8785 bytes: 1 MiB holds any prompt or schema many times
/// over while keeping a registry read (which returns the content) cheap.
pub const MAX_CONTENT_BYTES: usize = 1024 * 1024;

/// Largest metadata, as RFC 8785 bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// Longest name, version or label, in bytes.
pub const MAX_ID_BYTES: usize = 128;

/// Times a label move is tried again when another move of the same label committed
/// between reading where it pointed and the commit.
const MOVE_ATTEMPTS: usize = 3;

/// What an admin publishes.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub kind: String,
    pub name: String,
    pub version: String,
    pub content: Value,
    pub metadata: Option<Value>,
}

/// Which field of a request is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Kind,
    Name,
    Version,
    Label,
    Content,
    Metadata,
    At,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kind => "kind",
            Self::Name => "name",
            Self::Version => "version",
            Self::Label => "label",
            Self::Content => "content",
            Self::Metadata => "metadata",
            Self::At => "at",
        }
    }
}

/// Why a registry request was not done; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("{}: {why}", field.as_str())]
    Invalid { field: Field, why: String },
    /// The version exists with other content (versions are immutable).
    #[error("{kind}/{name}@{version} is published with other content (sha256 {existing}); versions are immutable, publish a new version")]
    VersionTaken {
        kind: String,
        name: String,
        version: String,
        existing: String,
    },
    #[error("{0}")]
    NotFound(String),
    /// The label kept moving under this request.
    #[error("the label kept moving while this move was made; nothing was changed, retry")]
    Contended,
    #[error(transparent)]
    Record(RecordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: Field, why: impl Into<String>) -> ArtifactError {
    ArtifactError::Invalid {
        field,
        why: why.into(),
    }
}

/// Checks an artifact kind.
///
/// # Errors
/// [`ArtifactError::Invalid`] naming `kind`.
pub fn check_kind(kind: &str) -> Result<(), ArtifactError> {
    if KINDS.contains(&kind) {
        Ok(())
    } else {
        Err(invalid(
            Field::Kind,
            format!("must be one of {}", KINDS.join(", ")),
        ))
    }
}

/// Checks a name, version or label: 1 to [`MAX_ID_BYTES`] of letters, digits, `.`,
/// `_`, `-`, `+` and `:`. No `/` or `@`, which separate them in paths and in a
/// snapshot's `name@version`.
///
/// # Errors
/// [`ArtifactError::Invalid`] naming `field`.
pub fn check_id(field: Field, value: &str) -> Result<(), ArtifactError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | ':');
    if value.is_empty() || value.len() > MAX_ID_BYTES || !value.chars().all(allowed) {
        return Err(invalid(
            field,
            format!("1 to {MAX_ID_BYTES} of letters, digits, '.', '_', '-', '+' and ':'"),
        ));
    }
    Ok(())
}

/// A version with the entry of its `artifact_publish` event, and whether this
/// request published it (`false`: it was there, with the same content).
#[derive(Debug, Clone)]
pub struct Published {
    pub artifact: PublishedArtifact,
    pub created: bool,
}

/// Publishes a version with its `artifact_publish` event (one transaction). The same
/// (kind, name, version) with the same content answers the stored one and records
/// nothing; with other content it is refused.
///
/// # Errors
/// See [`ArtifactError`].
pub async fn publish(
    app: &App,
    principal: &Principal,
    request: PublishRequest,
) -> Result<Published, ArtifactError> {
    check_kind(&request.kind)?;
    check_id(Field::Name, &request.name)?;
    check_id(Field::Version, &request.version)?;
    let content = evident_core::json::canonical_bytes(&request.content);
    if content.len() > MAX_CONTENT_BYTES {
        return Err(invalid(
            Field::Content,
            format!(
                "{} bytes (RFC 8785) is over the {MAX_CONTENT_BYTES}-byte limit; publish a descriptor (location, digest) of large artifacts",
                content.len()
            ),
        ));
    }
    let metadata = match &request.metadata {
        None | Some(Value::Null) => None,
        Some(value @ Value::Object(_)) => {
            let bytes = evident_core::json::canonical_bytes(value);
            if bytes.len() > MAX_METADATA_BYTES {
                return Err(invalid(
                    Field::Metadata,
                    format!("at most {MAX_METADATA_BYTES} bytes"),
                ));
            }
            Some(String::from_utf8(bytes).map_err(|e| StoreError::Internal(e.to_string()))?)
        }
        Some(_) => return Err(invalid(Field::Metadata, "must be an object")),
    };
    let content_hash = evident_core::blob::hex(&sha2::Sha256::digest(&content));
    let content = String::from_utf8(content).map_err(|e| StoreError::Internal(e.to_string()))?;
    if let Some(existing) = existing_same(app, &request, &content_hash).await? {
        return Ok(existing);
    }
    let now = app.now_micros();
    let event = ServerEvent {
        event_type: "artifact_publish",
        trace_id: None,
        parent_event_id: None,
        fields: Map::from_iter([(
            "artifact".to_owned(),
            json!({
                "kind": request.kind, "name": request.name, "version": request.version,
                "content_hash": content_hash,
            }),
        )]),
    };
    let (event, event_id) = crate::record::prepare_at(app, principal, event, now);
    let artifact = ArtifactVersion {
        kind: request.kind.clone(),
        name: request.name.clone(),
        version: request.version.clone(),
        content,
        content_hash: content_hash.clone(),
        metadata,
        event_id,
        published_micros: now,
    };
    let effect = Effect::PublishArtifact(artifact.clone());
    match crate::record::record_prepared(app, event, vec![effect]).await {
        Ok(Appended { seq, .. }) => Ok(Published {
            artifact: PublishedArtifact {
                artifact,
                seq: Some(seq),
            },
            created: true,
        }),
        // Published by another request meanwhile: the same answer as if it had been
        // there first.
        Err(RecordError::Refused {
            error: StoreError::Conflict(_),
            ..
        }) => existing_same(app, &request, &content_hash)
            .await?
            .ok_or_else(|| {
                ArtifactError::Store(StoreError::Internal(
                    "a version refused as published is not stored".into(),
                ))
            }),
        Err(e) => Err(ArtifactError::Record(e)),
    }
}

/// The stored version of `request`, if any: `Ok(Some)` when its content is the same,
/// [`ArtifactError::VersionTaken`] when not.
async fn existing_same(
    app: &App,
    request: &PublishRequest,
    content_hash: &str,
) -> Result<Option<Published>, ArtifactError> {
    let selector = ArtifactSelector::Version(request.version.clone());
    let Some(stored) = app
        .store
        .artifact(&request.kind, &request.name, &selector, None)
        .await?
    else {
        return Ok(None);
    };
    if stored.artifact.content_hash != content_hash {
        return Err(ArtifactError::VersionTaken {
            kind: request.kind.clone(),
            name: request.name.clone(),
            version: request.version.clone(),
            existing: stored.artifact.content_hash,
        });
    }
    Ok(Some(Published {
        artifact: stored,
        created: false,
    }))
}

/// A label after a move: the version it names and the `label_move` event (none if
/// it already named that version).
#[derive(Debug, Clone)]
pub struct MovedLabel {
    pub label: String,
    pub from_version: Option<String>,
    pub artifact: PublishedArtifact,
    pub event: Option<Appended>,
}

/// Moves `label` of (kind, name) to `version` with its `label_move` event (one
/// transaction), which states the version it moved from.
///
/// # Errors
/// [`ArtifactError::NotFound`] for a version never published; see [`ArtifactError`].
pub async fn move_label(
    app: &App,
    principal: &Principal,
    kind: &str,
    name: &str,
    label: &str,
    version: &str,
) -> Result<MovedLabel, ArtifactError> {
    check_kind(kind)?;
    check_id(Field::Name, name)?;
    check_id(Field::Label, label)?;
    check_id(Field::Version, version)?;
    let selector = ArtifactSelector::Version(version.to_owned());
    let Some(target) = app.store.artifact(kind, name, &selector, None).await? else {
        return Err(ArtifactError::NotFound(format!(
            "version: {kind}/{name}@{version} was never published"
        )));
    };
    for _ in 0..MOVE_ATTEMPTS {
        let from_version = app.store.label_version(kind, name, label).await?;
        if from_version.as_deref() == Some(version) {
            return Ok(MovedLabel {
                label: label.to_owned(),
                from_version,
                artifact: target,
                event: None,
            });
        }
        let now = app.now_micros();
        let event = ServerEvent {
            event_type: "label_move",
            trace_id: None,
            parent_event_id: None,
            fields: Map::from_iter([(
                "label_move".to_owned(),
                json!({
                    "kind": kind, "name": name, "label": label,
                    "from_version": from_version, "to_version": version,
                    "content_hash": target.artifact.content_hash,
                }),
            )]),
        };
        let (event, event_id) = crate::record::prepare_at(app, principal, event, now);
        let effect = Effect::MoveLabel(LabelMove {
            kind: kind.to_owned(),
            name: name.to_owned(),
            label: label.to_owned(),
            from_version: from_version.clone(),
            to_version: version.to_owned(),
            event_id,
            moved_micros: now,
        });
        match crate::record::record_prepared(app, event, vec![effect]).await {
            Ok(appended) => {
                return Ok(MovedLabel {
                    label: label.to_owned(),
                    from_version,
                    artifact: target,
                    event: Some(appended),
                })
            }
            Err(RecordError::Refused {
                error: StoreError::Conflict(_),
                ..
            }) => continue,
            Err(e) => return Err(ArtifactError::Record(e)),
        }
    }
    Err(ArtifactError::Contended)
}

/// The version `selector` names, as the registry stood at `at_micros` (`None`: now).
///
/// # Errors
/// [`ArtifactError::NotFound`] naming what was asked; see [`ArtifactError`].
pub async fn get(
    app: &App,
    kind: &str,
    name: &str,
    selector: &ArtifactSelector,
    at_micros: Option<i64>,
) -> Result<PublishedArtifact, ArtifactError> {
    check_kind(kind)?;
    check_id(Field::Name, name)?;
    match selector {
        ArtifactSelector::Latest => {}
        ArtifactSelector::Version(v) => check_id(Field::Version, v)?,
        ArtifactSelector::Label(l) => check_id(Field::Label, l)?,
    }
    let found = app.store.artifact(kind, name, selector, at_micros).await?;
    found.ok_or_else(|| {
        let what = match selector {
            ArtifactSelector::Latest => format!("no version of {kind}/{name} is published"),
            ArtifactSelector::Version(v) => format!("{kind}/{name}@{v} is not published"),
            ArtifactSelector::Label(l) => format!("label {l:?} of {kind}/{name} names no version"),
        };
        ArtifactError::NotFound(match at_micros {
            Some(at) => format!("{what} at {}", crate::clock::format_micros(at)),
            None => what,
        })
    })
}

/// A version as the API answers it: its content, hash, when it was published and the
/// log entry that proves it.
pub fn artifact_json(artifact: &PublishedArtifact) -> Value {
    let a = &artifact.artifact;
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    json!({
        "kind": a.kind,
        "name": a.name,
        "version": a.version,
        "content": parse(&a.content),
        "content_hash": a.content_hash,
        "metadata": a.metadata.as_deref().map(parse),
        "published_at": crate::clock::format_micros(a.published_micros),
        "event_id": a.event_id,
        "seq": artifact.seq,
    })
}

/// The artifact kind each `snapshot` member names (CONTRACT section 1, `snapshot`:
/// "a value `name@version` names an artifact of the registry"). `tool_versions` is
/// an object of such values, one per tool.
const SNAPSHOT_KINDS: &[(&str, &str)] = &[
    ("prompt_version", "prompt"),
    ("tool_versions", "tool_schema"),
    ("model", "model"),
    ("retrieval_index_version", "retrieval_index"),
    ("workflow_version", "workflow"),
];

/// One `name@version` a record's `snapshot` names: its JSON pointer in the record and
/// what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRef {
    pub pointer: String,
    pub kind: &'static str,
    pub name: String,
    pub version: String,
}

fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The `name@version` values of `record`'s `snapshot`; values without `@` (a model
/// named only by its provider's id) name no registry entry and are left out.
pub fn snapshot_refs(record: &Map<String, Value>) -> Vec<SnapshotRef> {
    let Some(Value::Object(snapshot)) = record.get("snapshot") else {
        return Vec::new();
    };
    let mut refs = Vec::new();
    let mut add = |pointer: String, kind: &'static str, value: &Value| {
        if let Some((name, version)) = value.as_str().and_then(|v| v.split_once('@')) {
            refs.push(SnapshotRef {
                pointer,
                kind,
                name: name.to_owned(),
                version: version.to_owned(),
            });
        }
    };
    for (member, kind) in SNAPSHOT_KINDS {
        match snapshot.get(*member) {
            Some(Value::Object(tools)) => {
                for (tool, value) in tools {
                    let pointer = format!("/snapshot/{member}/{}", escape_pointer(tool));
                    add(pointer, kind, value);
                }
            }
            Some(value) => add(format!("/snapshot/{member}"), kind, value),
            None => {}
        }
    }
    refs
}

/// The registry entries the `snapshot`s of `records` name, one object per record
/// (pointer → `{kind, name, version, content_hash, seq, event_id}`, or `unknown: true`
/// when it names nothing published). One registry read per distinct reference.
///
/// # Errors
/// Store errors.
pub async fn snapshot_links(
    app: &App,
    records: &[Map<String, Value>],
) -> Result<Vec<Map<String, Value>>, StoreError> {
    let refs: Vec<Vec<SnapshotRef>> = records.iter().map(snapshot_refs).collect();
    let mut known: std::collections::HashMap<(&str, &str, &str), Value> =
        std::collections::HashMap::new();
    for r in refs.iter().flatten() {
        let key = (r.kind, r.name.as_str(), r.version.as_str());
        if known.contains_key(&key) {
            continue;
        }
        let valid =
            check_id(Field::Name, &r.name).is_ok() && check_id(Field::Version, &r.version).is_ok();
        let found = if valid {
            let selector = ArtifactSelector::Version(r.version.clone());
            app.store.artifact(r.kind, &r.name, &selector, None).await?
        } else {
            None
        };
        let link = match found {
            Some(found) => json!({
                "kind": r.kind, "name": r.name, "version": r.version,
                "content_hash": found.artifact.content_hash,
                "seq": found.seq, "event_id": found.artifact.event_id,
            }),
            None => json!({"kind": r.kind, "name": r.name, "version": r.version, "unknown": true}),
        };
        known.insert(key, link);
    }
    Ok(refs
        .iter()
        .map(|refs| {
            refs.iter()
                .map(|r| {
                    let key = (r.kind, r.name.as_str(), r.version.as_str());
                    (r.pointer.clone(), known[&key].clone())
                })
                .collect()
        })
        .collect())
}

/// [`snapshot_links`] of records as the read API holds them (JSON text); records
/// without a `snapshot` are not parsed.
///
/// # Errors
/// Store errors; a record that is not a JSON object (never, for stored records).
pub async fn snapshot_links_of(
    app: &App,
    records: &[crate::reading::Record],
) -> Result<Vec<Map<String, Value>>, StoreError> {
    let maps: Vec<Map<String, Value>> = records
        .iter()
        .map(|r| {
            if r.json.contains("\"snapshot\"") {
                serde_json::from_str(&r.json).map_err(|e| StoreError::Internal(e.to_string()))
            } else {
                Ok(Map::new())
            }
        })
        .collect::<Result<_, _>>()?;
    snapshot_links(app, &maps).await
}
