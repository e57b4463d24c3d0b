//! `evident verify`: recompute everything the log claims from the entries up.
//!
//! In one pass over the entries, in `seq` order and in chunks:
//! 1. every entry is a canonical (RFC 8785) JSON object whose `seq` is its position;
//! 2. its leaf hash, and every hash tile the store holds, equal the tree recomputed
//!    from the entries (RFC 6962), and the tree head equals its root;
//! 3. every checkpoint is signed by the log's key and names the recomputed root at its
//!    size; a saved checkpoint (`--against`) does too, which proves the log is an
//!    append-only extension of what its holder saw;
//! 4. every stored blob opens its commitment and belongs to an entry that names it;
//! 5. the derived index columns equal what the entries say, and the backend's own
//!    integrity check (SQLite `PRAGMA integrity_check`) finds its indexes equal to
//!    their tables.
//!
//! The first failure stops the run and names the `seq` and why.

use std::collections::BTreeMap;

use evident_core::blob::{parse_blob_ref, BlobRef};
use evident_core::event::PAYLOAD_FIELDS;
use evident_core::record::IndexKeys;
use evident_store::Store;

use crate::vault::{BlobContent, Vault};
use evident_tlog::{
    integrate, leaf_hash, open_checkpoint, right_edge_tiles, Checkpoint, Hash, TileMap,
};
use serde_json::Value;

/// Entries read and checked per step.
const CHUNK: u64 = 8_192;

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub tree_size: u64,
    pub root: Hash,
    pub checkpoints: u64,
    /// Blobs opened and checked against their commitments.
    pub blobs: u64,
    /// Blobs left unreadable by erasure (their keys are destroyed), not checkable.
    pub erased_blobs: u64,
    /// The largest saved checkpoint's size, if any was given.
    pub against_size: Option<u64>,
}

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyFailure {
    #[error("seq {seq}: {why}")]
    Entry { seq: u64, why: String },
    #[error("checkpoint of size {size}: {why}")]
    Checkpoint { size: u64, why: String },
    #[error("tree: {0}")]
    Tree(String),
    #[error("store: {0}")]
    Store(String),
}

impl From<evident_store::StoreError> for VerifyFailure {
    fn from(e: evident_store::StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

fn entry_failure(seq: u64, why: impl Into<String>) -> VerifyFailure {
    VerifyFailure::Entry {
        seq,
        why: why.into(),
    }
}

/// Verifies the whole store. `progress(done, total)` is called after each chunk.
///
/// # Errors
/// The first [`VerifyFailure`].
pub async fn verify_store(
    store: &dyn Store,
    vault: &Vault,
    verifier_key: &str,
    against: &[&[u8]],
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<VerifyReport, VerifyFailure> {
    let problems = store.integrity_check().await?;
    if let Some(first) = problems.first() {
        return Err(VerifyFailure::Store(format!(
            "the database is damaged ({} problems), first: {first}",
            problems.len()
        )));
    }
    let head = store.tree_head().await?;
    let mut saved = Vec::with_capacity(against.len());
    for note in against {
        saved.push(
            open_checkpoint(note, verifier_key).map_err(|e| VerifyFailure::Checkpoint {
                size: 0,
                why: format!("a saved checkpoint does not verify: {e}"),
            })?,
        );
    }
    // Sizes at which the recomputed root must be known: every stored checkpoint and
    // the saved one. Checkpoint notes are checked as they are read.
    let mut expected_roots: BTreeMap<u64, (Hash, &'static str)> = BTreeMap::new();
    let mut checkpoints = 0u64;
    let mut from = 0u64;
    let mut previous_size: Option<u64> = None;
    loop {
        let page = store.checkpoints(from, 1_000).await?;
        let Some(last) = page.last() else { break };
        from = last.size + 1;
        for cp in &page {
            let opened = open_checkpoint(cp.note.as_bytes(), verifier_key).map_err(|e| {
                VerifyFailure::Checkpoint {
                    size: cp.size,
                    why: format!("signature or format does not verify: {e}"),
                }
            })?;
            if opened.size != cp.size || opened.root != cp.root {
                return Err(VerifyFailure::Checkpoint {
                    size: cp.size,
                    why: "the signed note disagrees with the stored size or root".into(),
                });
            }
            if previous_size.is_some_and(|p| p >= cp.size) {
                return Err(VerifyFailure::Checkpoint {
                    size: cp.size,
                    why: "checkpoints are not increasing".into(),
                });
            }
            previous_size = Some(cp.size);
            expected_roots.insert(cp.size, (cp.root, "stored checkpoint"));
            checkpoints += 1;
        }
    }
    for saved in &saved {
        if saved.size > head.size {
            return Err(VerifyFailure::Checkpoint {
                size: saved.size,
                why: format!(
                    "a saved checkpoint covers {} entries but the log has only {}: the log lost entries",
                    saved.size, head.size
                ),
            });
        }
        expected_roots.insert(saved.size, (saved.root, "saved checkpoint"));
    }
    if let Some((&size, _)) = expected_roots.range(head.size + 1..).next() {
        return Err(VerifyFailure::Checkpoint {
            size,
            why: format!("beyond the tree head ({} entries)", head.size),
        });
    }
    if let Some((_, (root, what))) = expected_roots.get_key_value(&0) {
        check_root(0, *root, evident_tlog::EMPTY_ROOT, what)?;
    }

    let mut edge = TileMap::new();
    let mut size = 0u64;
    let mut blobs = 0u64;
    let mut erased_blobs = 0u64;
    while size < head.size {
        let mut end = (size + CHUNK).min(head.size);
        // Stop exactly at the next size whose root must be checked.
        if let Some((&next, _)) = expected_roots.range(size + 1..).next() {
            end = end.min(next);
        }
        let entries = store.read_entries(size, end).await?;
        let index_rows = store.index_rows(size, end).await?;
        let mut leaves = Vec::with_capacity(entries.len());
        let mut referenced: BTreeMap<BlobRef, u64> = BTreeMap::new();
        for (offset, stored) in entries.iter().enumerate() {
            let seq = size + offset as u64;
            if stored.seq != seq {
                return Err(entry_failure(
                    seq,
                    "missing: the next stored entry has seq ".to_owned() + &stored.seq.to_string(),
                ));
            }
            let record = check_entry(seq, &stored.entry)?;
            let Some((row_seq, row)) = index_rows.get(offset) else {
                return Err(entry_failure(seq, "no index row"));
            };
            if *row_seq != seq || *row != IndexKeys::from_record(&record) {
                return Err(entry_failure(
                    seq,
                    "the derived index columns disagree with the entry",
                ));
            }
            for field in PAYLOAD_FIELDS {
                if let Some(reference) = record
                    .get(*field)
                    .and_then(|v| v.get("$blob"))
                    .and_then(Value::as_str)
                    .and_then(parse_blob_ref)
                {
                    referenced.entry(reference).or_insert(seq);
                }
            }
            leaves.push(leaf_hash(&stored.entry));
        }
        if (entries.len() as u64) < end - size {
            return Err(entry_failure(
                entries.len() as u64 + size,
                "missing: the tree head covers it but no entry is stored",
            ));
        }
        for blob in store.blobs_in_range(size, end).await? {
            let seq = blob.seq.unwrap_or_default();
            if !referenced.contains_key(&blob.reference) {
                return Err(entry_failure(
                    seq,
                    format!(
                        "blob {} is not referenced by the entry it is filed under",
                        blob.reference
                    ),
                ));
            }
            match vault.open_blob(&blob).await {
                Ok(BlobContent::Erased) => erased_blobs += 1,
                Ok(BlobContent::Readable { salt, bytes }) => {
                    if BlobRef::commit(&salt, &bytes) != blob.reference {
                        return Err(entry_failure(
                            seq,
                            format!("blob {} does not open its commitment", blob.reference),
                        ));
                    }
                    blobs += 1;
                }
                Err(e) => return Err(entry_failure(seq, format!("blob {}: {e}", blob.reference))),
            }
        }

        let integration =
            integrate(size, &edge, &leaves).map_err(|e| VerifyFailure::Tree(e.to_string()))?;
        let ids: Vec<_> = integration.tiles.iter().map(|(id, _)| *id).collect();
        let stored_tiles = store.read_tiles(&ids).await?;
        for (id, computed) in &integration.tiles {
            let stored = stored_tiles.get(id).map(Vec::as_slice).unwrap_or_default();
            if !stored.starts_with(computed) {
                let first_seq = first_bad_seq(*id, computed, stored);
                return Err(entry_failure(
                    first_seq.min(end - 1),
                    format!(
                        "stored hash tile {}/{} does not match the entries",
                        id.level, id.index
                    ),
                ));
            }
        }
        size = integration.tree_size;
        let keep = right_edge_tiles(size);
        // Old edge first: where a tile changed, its new data must win.
        edge = edge
            .into_iter()
            .chain(integration.tiles)
            .filter(|(id, _)| keep.contains(id))
            .collect();
        if let Some((expected, what)) = expected_roots.get(&size) {
            check_root(size, *expected, integration.root, what)?;
        }
        if size == head.size && integration.root != head.root {
            return Err(VerifyFailure::Tree(format!(
                "the tree head's root at size {size} is not the root of the entries"
            )));
        }
        progress(size, head.size);
    }
    if !store
        .read_entries(head.size, head.size + 1)
        .await?
        .is_empty()
    {
        return Err(entry_failure(head.size, "stored beyond the tree head"));
    }
    Ok(VerifyReport {
        tree_size: head.size,
        root: head.root,
        checkpoints,
        blobs,
        erased_blobs,
        against_size: saved.iter().map(|c: &Checkpoint| c.size).max(),
    })
}

fn check_root(size: u64, expected: Hash, computed: Hash, what: &str) -> Result<(), VerifyFailure> {
    if expected == computed {
        return Ok(());
    }
    Err(VerifyFailure::Checkpoint {
        size,
        why: format!("the {what} signs a root the entries do not produce: the log was rewritten"),
    })
}

/// Checks one entry's bytes; returns its record.
fn check_entry(seq: u64, bytes: &[u8]) -> Result<serde_json::Map<String, Value>, VerifyFailure> {
    let value = evident_core::json::parse_value(bytes)
        .map_err(|e| entry_failure(seq, format!("not valid I-JSON: {e}")))?;
    if evident_core::json::canonical_bytes(&value) != bytes {
        return Err(entry_failure(seq, "not in RFC 8785 canonical form"));
    }
    let Value::Object(record) = value else {
        return Err(entry_failure(seq, "not a JSON object"));
    };
    if record.get("seq").and_then(Value::as_u64) != Some(seq) {
        return Err(entry_failure(seq, "its `seq` field names another position"));
    }
    Ok(record)
}

/// For a level-0 tile mismatch, the seq of the first differing leaf.
fn first_bad_seq(id: evident_tlog::TileId, computed: &[u8], stored: &[u8]) -> u64 {
    let first_hash = computed
        .chunks(32)
        .zip(stored.chunks(32).chain(std::iter::repeat(&[][..])))
        .position(|(a, b)| a != b)
        .unwrap_or(0) as u64;
    let leaves_per_hash = 1u64 << (8 * u32::from(id.level));
    (id.index * 256 + first_hash) * leaves_per_hash
}
