//! The artifact registry's storage (CONTRACT section 6, "artifacts"): immutable
//! versions of prompts, tool schemas, models, retrieval indexes, workflows and eval
//! datasets, and labels (e.g. `production`) that move between them.
//!
//! Versions and label moves are written only as [`crate::Effect`]s
//! ([`crate::Effect::PublishArtifact`], [`crate::Effect::MoveLabel`]), in the
//! transaction that appends their `artifact_publish` / `label_move` event, so the
//! registry never holds a version or a move the log does not state. Each row keeps
//! the `received_at` of its event (µs) and the event's id: "what was latest (or
//! under this label) at time T" is answered from these rows, and every answer names
//! the log entry that proves it.
//!
//! Out of scope: what an artifact's content means (it is configuration, kept as the
//! RFC 8785 bytes the server was given), who may publish (the server's roles).

use async_trait::async_trait;

use crate::StoreResult;

/// One published version, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactVersion {
    pub kind: String,
    pub name: String,
    pub version: String,
    /// The content's RFC 8785 bytes (JSON text).
    pub content: String,
    /// Lowercase hex SHA-256 of `content`.
    pub content_hash: String,
    /// Optional metadata, RFC 8785 JSON text.
    pub metadata: Option<String>,
    /// The `artifact_publish` event that records it.
    pub event_id: String,
    /// Its `received_at`, µs since the epoch.
    pub published_micros: i64,
}

/// A version with the position of its `artifact_publish` entry in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedArtifact {
    pub artifact: ArtifactVersion,
    /// `None` only if the entry cannot be found (never, for a row written as an effect).
    pub seq: Option<u64>,
}

/// A label moved to a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMove {
    pub kind: String,
    pub name: String,
    pub label: String,
    /// The version the label named before, as the `label_move` event states it: the
    /// move is refused unless this is still so (see [`crate::Effect::MoveLabel`]).
    pub from_version: Option<String>,
    pub to_version: String,
    /// The `label_move` event that records it.
    pub event_id: String,
    /// Its `received_at`, µs since the epoch.
    pub moved_micros: i64,
}

/// Which version of an artifact is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactSelector {
    /// The version published last (by its event's `received_at`).
    Latest,
    /// This exact version.
    Version(String),
    /// The version this label names.
    Label(String),
}

/// Reads of the artifact registry. Writes are effects (module docs).
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// The version `selector` names, as the registry stood at `at_micros` (µs since
    /// the epoch; `None` = now): versions published and label moves received at or
    /// before that instant. `Version` ignores labels; `at_micros` still applies.
    async fn artifact(
        &self,
        kind: &str,
        name: &str,
        selector: &ArtifactSelector,
        at_micros: Option<i64>,
    ) -> StoreResult<Option<PublishedArtifact>>;

    /// The version `label` names now, if it was ever moved.
    async fn label_version(
        &self,
        kind: &str,
        name: &str,
        label: &str,
    ) -> StoreResult<Option<String>>;
}
