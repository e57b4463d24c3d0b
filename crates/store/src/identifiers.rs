//! Remembered declared identifiers (CONTRACT section 2, "Identifiers no pattern can
//! see"): the values an event declared in `context.subject_identifiers`, kept for
//! its subject so that later events about the same subject are tokenized even when
//! they do not declare them again.
//!
//! Rows are written only with the event that declares them
//! ([`crate::EventToAppend::remember`]), in its append transaction, deduplicated per
//! (subject, kind, value hash). Each row holds the value sealed under the subject's
//! data key and a keyed hash of it for deduplication; never the clear value.
//! Erasing the subject ([`crate::Effect::EraseSubject`]) deletes its rows in the
//! erasure's transaction; retention does not touch them (they live as long as the
//! subject's key).
//!
//! Out of scope: sealing and opening the values, and deriving the hash (the server's
//! vault).

use async_trait::async_trait;

use crate::StoreResult;

/// One declared identifier of a subject, sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedIdentifier {
    /// The subject token it identifies (`subj_...`).
    pub subject: String,
    /// The declared key (e.g. `name`), the kind of its tokens.
    pub kind: String,
    /// A keyed hash of the clear value (deduplication only; never reversible).
    pub value_hash: Vec<u8>,
    /// The data key it is sealed under (the subject's).
    pub key_id: String,
    /// The clear value sealed under `key_id`.
    pub sealed: Vec<u8>,
}

/// Reads of remembered identifiers. Writes go with the declaring event (module docs).
#[async_trait]
pub trait IdentifierStore: Send + Sync {
    /// Every identifier remembered for `subject` (a subject token), oldest first;
    /// empty after an erasure.
    async fn remembered_identifiers(&self, subject: &str) -> StoreResult<Vec<SealedIdentifier>>;
}
