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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use evident_core::blob::BlobRef;
use evident_core::crypto::SecretKey;
use evident_core::json::CanonicalObject;
use evident_core::record::{entry_blob_refs, EntryIndexKeys};
use evident_store::{IndexedEntry, Store, StoreError, StoredBlob, TreeHead};
use evident_tlog::{
    integrate, leaf_hash, open_checkpoint, right_edge_tiles, Checkpoint, Hash, TileId, TileMap,
};

use crate::vault::{BlobContent, Vault};

/// Entries read and checked per step. Two chunks are in memory at a time (one read
/// while the other is checked); entries are at most 64 KiB, so at most 512 MiB.
const CHUNK: u64 = 4_096;

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

    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut tree = TreeCheck {
        edge: TileMap::new(),
        size: 0,
        head,
        expected_roots: &expected_roots,
    };
    let (mut blobs, mut erased_blobs) = (0u64, 0u64);
    let mut next = match head.size {
        0 => None,
        size => Some(Chunk::read(store, vault, 0, CHUNK.min(size)).await?),
    };
    while let Some(chunk) = next.take() {
        let (start, end) = (chunk.start, chunk.end);
        // Read the next chunk while this one is checked on every core.
        let read_next = async {
            match end < head.size {
                true => Chunk::read(store, vault, end, (end + CHUNK).min(head.size))
                    .await
                    .map(Some),
                false => Ok(None),
            }
        };
        let check = async {
            tokio::task::spawn_blocking(move || chunk.check(workers))
                .await
                .map_err(|e| VerifyFailure::Store(format!("the verify task failed: {e}")))
        };
        let (following, checked) = tokio::join!(read_next, check);
        let checked = checked?;
        tree.extend(store, start, &checked).await?;
        if let Some(found) = checked.first_failure {
            return Err(found.failure);
        }
        blobs += checked.blobs;
        erased_blobs += checked.erased_blobs;
        progress(end, head.size);
        next = following?;
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

/// A failure, and where it stands in the order failures are reported: by the `seq` it
/// concerns, then an entry before its blobs, before a hash tile, before a root.
struct Found {
    at: (u64, Rank),
    failure: VerifyFailure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Entry,
    Blob,
    Tile,
    Root,
}

impl Found {
    fn entry(seq: u64, rank: Rank, why: impl Into<String>) -> Self {
        Self {
            at: (seq, rank),
            failure: entry_failure(seq, why),
        }
    }

    /// The one of `a` and `b` to report.
    fn first(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.at < a.at { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

/// Entries `start..end`, their blobs and the keys to open those with.
struct Chunk {
    start: u64,
    end: u64,
    entries: Vec<IndexedEntry>,
    blobs: Vec<StoredBlob>,
    keys: HashMap<String, Result<Option<SecretKey>, StoreError>>,
}

/// What checking a chunk found.
struct Checked {
    /// Leaf hashes of the entries from the chunk's start up to the first bad one.
    leaves: Vec<Hash>,
    first_failure: Option<Found>,
    blobs: u64,
    erased_blobs: u64,
}

impl Chunk {
    async fn read(
        store: &dyn Store,
        vault: &Vault,
        start: u64,
        end: u64,
    ) -> Result<Self, VerifyFailure> {
        let (entries, blobs) = tokio::try_join!(
            store.read_indexed_entries(start, end),
            store.blobs_in_range(start, end)
        )?;
        let key_ids: BTreeSet<String> = blobs.iter().map(|b| b.key_id.clone()).collect();
        let keys = vault.keys(&key_ids).await?;
        Ok(Self {
            start,
            end,
            entries,
            blobs,
            keys,
        })
    }

    /// Checks every entry and blob, `workers` at a time; everything but the tree.
    fn check(self, workers: usize) -> Checked {
        let parts = in_parallel(&self.entries, workers, |offset, entries| {
            check_entries(self.start + offset as u64, entries)
        });
        let mut leaves = Vec::with_capacity(self.entries.len());
        let mut referenced = HashSet::new();
        let mut first_failure = None;
        for part in parts {
            // Parts are in order: the first failure found is the lowest seq.
            if first_failure.is_none() {
                leaves.extend(part.leaves);
                first_failure = part.failure;
            }
            referenced.extend(part.blob_refs);
        }
        let stored = self.entries.len() as u64;
        if stored < self.end - self.start {
            let missing = Found::entry(
                self.start + stored,
                Rank::Entry,
                "missing: the tree head covers it but no entry is stored",
            );
            first_failure = Found::first(first_failure, Some(missing));
        }

        let opened = in_parallel(&self.blobs, workers, |_, blobs| {
            blobs
                .iter()
                .map(|blob| open_blob(blob, &self.keys))
                .collect::<Vec<_>>()
        });
        let (mut blobs, mut erased_blobs) = (0, 0);
        for (blob, opened) in self.blobs.iter().zip(opened.into_iter().flatten()) {
            let seq = blob.seq.unwrap_or_default();
            let found = match opened {
                _ if !referenced.contains(&blob.reference) => Found::entry(
                    seq,
                    Rank::Blob,
                    format!(
                        "blob {} is not referenced by the entry it is filed under",
                        blob.reference
                    ),
                ),
                Ok(true) => {
                    blobs += 1;
                    continue;
                }
                Ok(false) => {
                    erased_blobs += 1;
                    continue;
                }
                Err(why) => Found::entry(seq, Rank::Blob, why),
            };
            first_failure = Found::first(first_failure, Some(found));
        }
        Checked {
            leaves,
            first_failure,
            blobs,
            erased_blobs,
        }
    }
}

/// Runs `f` on up to `workers` consecutive parts of `items` at once, each with the
/// offset of its first item; returns the results in order.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(usize, &[T]) -> R + Sync,
) -> Vec<R> {
    if items.is_empty() {
        return Vec::new();
    }
    let part = items.len().div_ceil(workers.max(1));
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(part)
            .enumerate()
            .map(|(i, items)| scope.spawn(move || f(i * part, items)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// What checking consecutive entries found: the leaf hashes up to the first bad
/// entry, and the blobs they reference.
struct EntriesPart {
    leaves: Vec<Hash>,
    blob_refs: Vec<BlobRef>,
    failure: Option<Found>,
}

/// Checks `entries`, which must be `first_seq`, `first_seq + 1`, …
fn check_entries(first_seq: u64, entries: &[IndexedEntry]) -> EntriesPart {
    let mut part = EntriesPart {
        leaves: Vec::with_capacity(entries.len()),
        blob_refs: Vec::new(),
        failure: None,
    };
    for (seq, stored) in (first_seq..).zip(entries) {
        match check_entry(seq, stored, &mut part.blob_refs) {
            Ok(leaf) => part.leaves.push(leaf),
            Err(why) => {
                part.failure = Some(Found::entry(seq, Rank::Entry, why));
                break;
            }
        }
    }
    part
}

/// Checks one stored entry at position `seq`: canonical bytes, its `seq`, its index
/// columns. Returns its leaf hash; adds the blobs it references to `blob_refs`.
fn check_entry(
    seq: u64,
    stored: &IndexedEntry,
    blob_refs: &mut Vec<BlobRef>,
) -> Result<Hash, String> {
    if stored.seq != seq {
        return Err(format!(
            "missing: the next stored entry has seq {}",
            stored.seq
        ));
    }
    let entry = CanonicalObject::check(&stored.entry)
        .map_err(|e| format!("not canonical I-JSON (RFC 8785) {e}"))?;
    if entry.get("seq").and_then(|v| v.as_u64()) != Some(seq) {
        return Err("its `seq` field names another position".into());
    }
    let Some(index) = &stored.index else {
        return Err("no index row".into());
    };
    if EntryIndexKeys::of(&entry) != *index {
        return Err("the derived index columns disagree with the entry".into());
    }
    blob_refs.extend(entry_blob_refs(&entry));
    Ok(leaf_hash(&stored.entry))
}

/// Opens a blob and checks its commitment: `Ok(true)` if it holds, `Ok(false)` if the
/// blob was erased (its key destroyed), else why not.
fn open_blob(
    blob: &StoredBlob,
    keys: &HashMap<String, Result<Option<SecretKey>, StoreError>>,
) -> Result<bool, String> {
    let key = match keys.get(&blob.key_id) {
        Some(Ok(key)) => key.as_ref(),
        Some(Err(e)) => return Err(format!("blob {}: {e}", blob.reference)),
        None => {
            return Err(format!(
                "blob {}: its key was not looked up",
                blob.reference
            ))
        }
    };
    match Vault::open_blob_with(key, blob) {
        Ok(BlobContent::Erased) => Ok(false),
        Ok(BlobContent::Readable { salt, bytes })
            if BlobRef::commit(&salt, &bytes) == blob.reference =>
        {
            Ok(true)
        }
        Ok(BlobContent::Readable { .. }) => Err(format!(
            "blob {} does not open its commitment",
            blob.reference
        )),
        Err(e) => Err(format!("blob {}: {e}", blob.reference)),
    }
}

/// The tree recomputed so far, and what it must match.
struct TreeCheck<'a> {
    /// The right-edge tiles of the tree of `size` leaves.
    edge: TileMap,
    size: u64,
    head: TreeHead,
    /// Roots that signed checkpoints (stored or saved) name, by tree size.
    expected_roots: &'a BTreeMap<u64, (Hash, &'static str)>,
}

impl TreeCheck<'_> {
    /// Integrates a chunk's leaves: every stored hash tile they touch must hold the
    /// recomputed hashes, and every root expected on the way must come out. A failure
    /// found here replaces the chunk's own if it comes first.
    async fn extend(
        &mut self,
        store: &dyn Store,
        start: u64,
        checked: &Checked,
    ) -> Result<(), VerifyFailure> {
        debug_assert_eq!(start, self.size);
        let mut first = None;
        // Tiles as the whole chunk leaves them: later data of a tile extends earlier.
        let mut changed = BTreeMap::new();
        let mut leaves = checked.leaves.as_slice();
        while !leaves.is_empty() {
            // Stop exactly at each size whose root must be checked.
            let mut take = leaves.len();
            if let Some((&size, _)) = self.expected_roots.range(self.size + 1..).next() {
                take = take.min(usize::try_from(size - self.size).unwrap_or(usize::MAX));
            }
            let (piece, rest) = leaves.split_at(take);
            leaves = rest;
            let integration = integrate(self.size, &self.edge, piece)
                .map_err(|e| VerifyFailure::Tree(e.to_string()))?;
            self.size = integration.tree_size;
            let keep = right_edge_tiles(self.size);
            for (id, data) in integration.tiles {
                if keep.contains(&id) {
                    self.edge.insert(id, data.clone());
                }
                changed.insert(id, data);
            }
            self.edge.retain(|id, _| keep.contains(id));
            if let Some((expected, what)) = self.expected_roots.get(&self.size) {
                if let Err(failure) = check_root(self.size, *expected, integration.root, what) {
                    first = Some(Found {
                        at: (self.size - 1, Rank::Root),
                        failure,
                    });
                    break;
                }
            }
            if self.size == self.head.size && integration.root != self.head.root {
                first = Some(Found {
                    at: (self.size - 1, Rank::Root),
                    failure: VerifyFailure::Tree(format!(
                        "the tree head's root at size {} is not the root of the entries",
                        self.size
                    )),
                });
                break;
            }
        }
        let last = self.size.saturating_sub(1);
        let ids: Vec<TileId> = changed.keys().copied().collect();
        let stored_tiles = store.read_tiles(&ids).await?;
        for (id, computed) in &changed {
            let stored = stored_tiles.get(id).map(Vec::as_slice).unwrap_or_default();
            if !stored.starts_with(computed) {
                let seq = first_bad_seq(*id, computed, stored).min(last);
                let found = Found::entry(
                    seq,
                    Rank::Tile,
                    format!(
                        "stored hash tile {}/{} does not match the entries",
                        id.level, id.index
                    ),
                );
                first = Found::first(first, Some(found));
            }
        }
        match first {
            Some(found)
                if checked
                    .first_failure
                    .as_ref()
                    .is_none_or(|chunk| found.at < chunk.at) =>
            {
                Err(found.failure)
            }
            _ => Ok(()),
        }
    }
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
