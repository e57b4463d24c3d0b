//! Verifying a log, as pure functions over what a verifier has read: entries, hash
//! tiles, checkpoints and opened blobs. Nothing here reads a store, a file or the
//! network, so the same checks serve every way of looking at a log:
//!
//! - `evident verify` over a data dir or a database (the server's `verifier` module
//!   reads chunks and feeds them here, on every core);
//! - `evident verify --server`, over what C2SP tlog-tiles serves;
//! - an evidence bundle (CONTRACT section 8): a subset of entries with their
//!   tlog-proofs, one checkpoint and blobs with their salts, checked with
//!   [`check_entry`], [`check_commitment`], [`Links`] and [`chain_from`].
//!
//! What is checked, and where:
//! - [`entry`]: one entry is a canonical (RFC 8785) I-JSON object whose `seq` is its
//!   position and whose back-links are `null` or a `seq`; its leaf hash (RFC 9162);
//!   the store's derived index columns equal what it says (CONTRACT sections 1, 3).
//! - [`links`]: `trace_prev` and `subject_prev` name the previous entry with the same
//!   `trace_id` / subject token, or null when there is none (sections 1 and 8).
//! - [`tree`]: the leaves, integrated in order, give every hash tile a store or server
//!   holds and every root a checkpoint or tree head names (section 3).
//! - [`checkpoints`]: every checkpoint is signed by the key in force at its size and
//!   checkpoints grow (section 3).
//! - [`check_commitment`]: a blob's bytes and salt open its commitment (section 2).
//!
//! A verifier reports the first [`Found`] in the order of [`Found::at`]: by `seq`, and
//! at one `seq` the entry itself, then its leaf in the tiles, its back-links, its
//! blobs, and last a root that ends at it.

pub mod checkpoints;
pub mod entry;
pub mod links;
pub mod tree;

pub use checkpoints::{open_saved, CheckpointCheck, VerifierKeys};
pub use entry::{check_entries, check_entry, CheckedEntry, EntriesPart, EntryInput, IndexRow};
pub use links::{chain_from, BackLinks, ChainStart, IdKey, Links};
pub use tree::{compare_tiles, Extension, RootSource, TreeCheck};

use crate::blob::{BlobRef, SALT_LEN};

/// The first thing found wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("seq {seq}: {why}")]
    Entry { seq: u64, why: String },
    #[error("checkpoint of size {size}: {why}")]
    Checkpoint { size: u64, why: String },
    #[error("tree: {0}")]
    Tree(String),
    /// A governance row (artifact, label, policy) that no log entry states.
    #[error("registry: {0}")]
    Registry(String),
}

impl Failure {
    pub fn entry(seq: u64, why: impl Into<String>) -> Self {
        Self::Entry {
            seq,
            why: why.into(),
        }
    }
}

/// What a failure at one `seq` concerns; failures at the same `seq` are reported in
/// this order. A changed entry also breaks its leaf, its back-links and perhaps its
/// blobs: naming the entry (or its leaf) says what changed; the rest follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    Entry,
    Tile,
    Link,
    Blob,
    Root,
}

/// A failure and where it stands in the order failures are reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The `seq` it concerns, and what at that `seq`.
    pub at: (u64, Rank),
    pub failure: Failure,
}

impl Found {
    pub fn entry(seq: u64, rank: Rank, why: impl Into<String>) -> Self {
        Self {
            at: (seq, rank),
            failure: Failure::entry(seq, why),
        }
    }

    /// The one of `a` and `b` to report.
    pub fn first(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.at < a.at { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

/// Checks that a blob's bytes and salt open its commitment (CONTRACT section 2:
/// hex = SHA-256(salt ‖ bytes)).
///
/// # Errors
/// Why not, naming the blob.
pub fn check_commitment(
    reference: &BlobRef,
    salt: &[u8; SALT_LEN],
    bytes: &[u8],
) -> Result<(), String> {
    if BlobRef::commit(salt, bytes) == *reference {
        Ok(())
    } else {
        Err(format!("blob {reference} does not open its commitment"))
    }
}

#[cfg(test)]
mod tests;
