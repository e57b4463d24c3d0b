//! `evident verify` over a store: reads the log in chunks and feeds it to the pure
//! checks of `evident_core::verify`, on every core.
//!
//! In one pass over the entries, in `seq` order and in chunks:
//! 1. every entry is a canonical (RFC 8785) I-JSON object whose `seq` is its position
//!    (checked by `json::Canonical`, which accepts exactly the bytes that
//!    `canonical_bytes(parse_value(bytes))` reproduces);
//! 2. its leaf hash, and every hash tile the store holds, equal the tree recomputed
//!    from the entries (RFC 6962), and the tree head equals its root;
//! 3. every checkpoint is signed by the log's key (the key in force at its size) and
//!    names the recomputed root at its size; a saved checkpoint (`--against`) does
//!    too, which proves the log is an append-only extension of what its holder saw;
//! 4. every stored blob opens its commitment, and the entry it is filed under (the
//!    first that references it) names it;
//! 5. the derived index columns equal what the entries say;
//! 6. every entry's `trace_prev` and `subject_prev` name the previous entry with the
//!    same `trace_id` / subject token, or null when there is none (CONTRACT sections 1
//!    and 8: the links an evidence bundle proves itself complete with);
//! 7. unless [`Depth::Log`] (`evident verify --quick`), the backend's own integrity
//!    check (SQLite `PRAGMA integrity_check`, in full; PostgreSQL `amcheck` where the
//!    extension can be used) finds every page sound and its indexes (b-trees over the
//!    columns of 5, the full-text index) equal to their tables: the contract's
//!    "derived indexes" include them, since a damaged one makes queries miss or
//!    misplace entries. It costs about as much as 1–6 together (~40% of the CPU), and
//!    proves nothing about the log that 1–6 do not, hence `--quick`. A backend that
//!    cannot run it says so ([`IntegrityCheck::Skipped`]); it is never reported as
//!    having found nothing.
//!
//! The first failure by `seq` is reported, naming the `seq` and why; at the same
//! `seq`, the entry before its leaf in the tiles, before its back-links, before its
//! blobs, before a root (`evident_core::verify::Rank`). A hash tile that differs is
//! named by the first leaf that differs, not by a higher tile whose hash covers it.
//! A failure of the backend's own check is reported before any other.
//!
//! How it runs: the backend's check, when asked for, reads the database on its own
//! connection and thread, beside the pass. The pass reads a chunk (entries with their
//! index columns, the blobs filed under them, the data keys those need) while the
//! previous chunk is checked: its entries and blobs split into tasks for every core
//! (rayon's pool, whose threads live for the whole run), each task stopping at its
//! first bad entry; then, in order, the back-links (two table lookups an entry) and
//! the tree, which stops at every size a checkpoint names.

use std::collections::{HashMap, HashSet};

use evident_core::crypto::SecretKey;
use evident_core::verify::{
    check_commitment, check_entries, compare_tiles, open_saved, BackLinks, CheckpointCheck,
    EntriesPart, EntryInput, Failure, Found, IndexRow, Rank, RootSource, TreeCheck, VerifierKeys,
};
use evident_store::{IndexedEntry, IntegrityCheck, Store, StoreError, StoredBlob};
use evident_tlog::{Hash, TileId};
use rayon::prelude::*;

use crate::vault::{BlobContent, Vault};

/// Entries read and checked per step. Two chunks are in memory at a time (one read
/// while the other is checked); entries are at most 64 KiB, so at most 512 MiB.
const CHUNK: u64 = 4_096;

/// Entries (or blobs) one task checks: enough tasks per chunk to keep every core
/// busy to the end, few enough that handing them out costs nothing.
const ENTRIES_PER_TASK: usize = 256;

/// How far [`verify_store`] looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Everything the log claims: entries, tree, checkpoints, blobs, derived index
    /// columns, back-links (checks 1–6 of the module docs).
    Log,
    /// That, and the backend's own integrity check (check 7): every page of the
    /// database read, every index compared with its table. `evident verify`'s default.
    Full,
}

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
    /// Blobs a retention run deleted, each recorded with its run and referenced by
    /// the entry it was filed under.
    pub purged_blobs: u64,
    /// Read-access records checked against their `access_log_checkpoint` entries.
    pub access_records: u64,
    /// Governance rows (artifact versions, label moves, policy versions and
    /// activations) checked against the entries that record them.
    pub registry: crate::registry_check::RegistryChecked,
    /// The largest saved checkpoint's size, if any was given.
    pub against_size: Option<u64>,
    /// The backend's own check ([`Depth::Full`]): what it checked (it found nothing
    /// wrong, or verification would have failed), or why it could not run.
    pub integrity: Option<IntegrityCheck>,
}

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyFailure {
    /// Something the log claims does not hold.
    #[error(transparent)]
    Log(#[from] Failure),
    /// The store could not be read, or its own check found damage.
    #[error("store: {0}")]
    Store(String),
}

impl From<evident_store::StoreError> for VerifyFailure {
    fn from(e: evident_store::StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

/// Verifies the whole store, to `depth`, trusting `keys` (one verifier key, or keys
/// by the tree size from which they sign). `progress(done, total)` is called after
/// each chunk.
///
/// # Errors
/// The first [`VerifyFailure`].
pub async fn verify_store(
    store: &dyn Store,
    vault: &Vault,
    keys: impl Into<VerifierKeys>,
    against: &[&[u8]],
    depth: Depth,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<VerifyReport, VerifyFailure> {
    let keys = keys.into();
    let log = verify_log(store, vault, &keys, against, progress, CHUNK);
    if depth == Depth::Log {
        return log.await;
    }
    // The backend's own check reads the database on its own connection and thread,
    // beside the pass over the log; what it finds is reported first.
    let (integrity, log) = tokio::join!(store.integrity_check(), log);
    let integrity = integrity?;
    if let IntegrityCheck::Ran { problems, .. } = &integrity {
        if let Some(first) = problems.first() {
            return Err(VerifyFailure::Store(format!(
                "the database is damaged ({} problems), first: {first}",
                problems.len()
            )));
        }
    }
    let mut report = log?;
    report.integrity = Some(integrity);
    Ok(report)
}

/// Everything but the backend's own check, `chunk_len` entries at a time.
async fn verify_log(
    store: &dyn Store,
    vault: &Vault,
    keys: &VerifierKeys,
    against: &[&[u8]],
    progress: &(dyn Fn(u64, u64) + Sync),
    chunk_len: u64,
) -> Result<VerifyReport, VerifyFailure> {
    let head = store.tree_head().await?;
    let saved = against
        .iter()
        .map(|note| open_saved(keys, note))
        .collect::<Result<Vec<_>, _>>()?;
    // Every size at which the recomputed root must be known: every stored checkpoint
    // (their notes checked as they are read), the saved ones, the tree head.
    let mut tree = TreeCheck::new();
    let mut checkpoints = CheckpointCheck::new();
    let mut from = 0u64;
    loop {
        let page = store.checkpoints(from, 1_000).await?;
        let Some(last) = page.last() else { break };
        from = last.size + 1;
        for cp in &page {
            checkpoints.check(keys, cp.size, cp.root, cp.note.as_bytes())?;
            tree.expect(cp.size, cp.root, RootSource::StoredCheckpoint)?;
        }
    }
    for saved in &saved {
        if saved.size > head.size {
            return Err(Failure::Checkpoint {
                size: saved.size,
                why: format!(
                    "a saved checkpoint covers {} entries but the log has only {}: the log lost entries",
                    saved.size, head.size
                ),
            }
            .into());
        }
        tree.expect(saved.size, saved.root, RootSource::SavedCheckpoint)?;
    }
    if let Some(size) = tree.expected_beyond(head.size) {
        return Err(Failure::Checkpoint {
            size,
            why: format!("beyond the tree head ({} entries)", head.size),
        }
        .into());
    }
    if head.size > 0 {
        tree.expect(head.size, head.root, RootSource::TreeHead)?;
    }

    let mut links = BackLinks::new();
    let (mut blobs, mut erased_blobs, mut purged_blobs) = (0u64, 0u64, 0u64);
    let mut next = match head.size {
        0 => None,
        size => Some(Chunk::read(store, vault, 0, chunk_len.min(size)).await?),
    };
    while let Some(chunk) = next.take() {
        let end = chunk.end;
        // Read the next chunk while this one is checked on every core.
        let read_next = async {
            if end < head.size {
                let next_end = (end + chunk_len).min(head.size);
                Chunk::read(store, vault, end, next_end).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let mut chunk_links = std::mem::take(&mut links);
        let check = async {
            tokio::task::spawn_blocking(move || {
                let checked = chunk.check(ENTRIES_PER_TASK, &mut chunk_links);
                (checked, chunk_links)
            })
            .await
            .map_err(|e| VerifyFailure::Store(format!("the verify task failed: {e}")))
        };
        let (following, checked) = tokio::join!(read_next, check);
        let (checked, returned_links) = checked?;
        links = returned_links;
        let tree_failure = check_tree(store, &mut tree, &checked.leaves).await?;
        if let Some(found) = Found::first(checked.first_failure, tree_failure) {
            return Err(found.failure.into());
        }
        blobs += checked.blobs;
        erased_blobs += checked.erased_blobs;
        purged_blobs += checked.purged_blobs;
        progress(end, head.size);
        next = following?;
    }
    if !store
        .read_entries(head.size, head.size + 1)
        .await?
        .is_empty()
    {
        return Err(Failure::entry(head.size, "stored beyond the tree head").into());
    }
    let access_records = match crate::access_log::verify_access_log(store, head.size).await? {
        Ok(checked) => checked,
        Err((seq, why)) => return Err(Failure::entry(seq, why).into()),
    };
    let registry = match crate::registry_check::verify_registry(store, head.size).await? {
        Ok(checked) => checked,
        Err(failure) => return Err(failure.into()),
    };
    Ok(VerifyReport {
        registry,
        tree_size: head.size,
        root: head.root,
        checkpoints: checkpoints.count,
        blobs,
        erased_blobs,
        purged_blobs,
        access_records,
        against_size: saved.iter().map(|c| c.size).max(),
        integrity: None,
    })
}

/// Integrates a chunk's leaves: every stored hash tile they touch must hold the
/// recomputed hashes, and every root expected on the way must come out.
async fn check_tree(
    store: &dyn Store,
    tree: &mut TreeCheck,
    leaves: &[Hash],
) -> Result<Option<Found>, VerifyFailure> {
    let extension = tree.extend(leaves)?;
    let ids: Vec<TileId> = extension.tiles.keys().copied().collect();
    let held = store.read_tiles(&ids).await?;
    Ok(Found::first(
        extension.root_failure,
        compare_tiles(&extension.tiles, &held),
    ))
}

/// Entries `start..end`, their blobs and the keys to open those with.
struct Chunk {
    start: u64,
    end: u64,
    entries: Vec<IndexedEntry>,
    blobs: Vec<StoredBlob>,
    purged: Vec<evident_store::PurgedBlob>,
    keys: HashMap<String, Result<Option<SecretKey>, StoreError>>,
}

/// What checking a chunk found.
struct Checked {
    /// Leaf hashes of the entries from the chunk's start up to the first bad one.
    leaves: Vec<Hash>,
    first_failure: Option<Found>,
    blobs: u64,
    erased_blobs: u64,
    purged_blobs: u64,
}

impl Chunk {
    async fn read(
        store: &dyn Store,
        vault: &Vault,
        start: u64,
        end: u64,
    ) -> Result<Self, VerifyFailure> {
        let (entries, blobs, purged) = tokio::try_join!(
            store.read_indexed_entries(start, end),
            store.blobs_in_range(start, end),
            store.purged_blobs_in_range(start, end)
        )?;
        let key_ids: std::collections::BTreeSet<String> =
            blobs.iter().map(|b| b.key_id.clone()).collect();
        let keys = vault.keys_each(&key_ids).await?;
        Ok(Self {
            start,
            end,
            entries,
            blobs,
            purged,
            keys,
        })
    }

    /// Checks every entry and blob on every core, `per_task` entries to a task, then
    /// the back-links in order; everything but the tree.
    fn check(self, per_task: usize, links: &mut BackLinks) -> Checked {
        let parts: Vec<EntriesPart> = self
            .entries
            .par_chunks(per_task)
            .enumerate()
            .map(|(i, entries)| {
                check_entries(
                    self.start + (i * per_task) as u64,
                    entries.iter().map(entry_input),
                )
            })
            .collect();
        let mut leaves = Vec::with_capacity(self.entries.len());
        let mut entry_links = Vec::with_capacity(self.entries.len());
        let mut referenced = HashSet::new();
        let mut first_failure = None;
        for part in parts {
            // Parts are in order: the first failure found is the lowest seq.
            if first_failure.is_none() {
                leaves.extend(part.leaves);
                entry_links.extend(part.links);
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
        // The back-links of the entries that passed, in order.
        first_failure = Found::first(first_failure, links.check(self.start, &entry_links));

        let opened: Vec<_> = self
            .blobs
            .par_iter()
            .with_min_len(per_task)
            .map(|blob| open_blob(blob, &self.keys))
            .collect();
        let (mut blobs, mut erased_blobs) = (0, 0);
        for (blob, opened) in self.blobs.iter().zip(opened) {
            let seq = blob.seq.unwrap_or_default();
            // A blob is filed under the first entry that references it.
            let found = match opened {
                _ if !referenced.contains(&(seq, blob.reference)) => Found::entry(
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
        // A purged blob was deleted on purpose: its record must name a blob the
        // entry it is filed under references.
        let mut purged_blobs = 0;
        for purged in &self.purged {
            if referenced.contains(&(purged.seq, purged.reference)) {
                purged_blobs += 1;
                continue;
            }
            let found = Found::entry(
                purged.seq,
                Rank::Blob,
                format!(
                    "purged blob {} is not referenced by the entry it is filed under",
                    purged.reference
                ),
            );
            first_failure = Found::first(first_failure, Some(found));
        }
        Checked {
            leaves,
            first_failure,
            blobs,
            erased_blobs,
            purged_blobs,
        }
    }
}

fn entry_input(stored: &IndexedEntry) -> EntryInput<'_> {
    EntryInput {
        seq: stored.seq,
        bytes: match &stored.unreadable {
            Some(why) => Err(why.as_str()),
            None => Ok(&stored.entry),
        },
        index: stored
            .index
            .as_ref()
            .map_or(IndexRow::Missing, IndexRow::Row),
    }
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
    match crate::vault::open_blob_with(key, blob) {
        Ok(BlobContent::Erased) => Ok(false),
        Ok(BlobContent::Readable { salt, bytes }) => {
            check_commitment(&blob.reference, &salt, &bytes).map(|()| true)
        }
        Err(e) => Err(format!("blob {}: {e}", blob.reference)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use evident_core::blob::BlobRef;
    use evident_core::crypto::blob_aad;
    use evident_core::json::canonical_bytes;
    use evident_core::record::IndexKeys;
    use evident_tlog::leaf_hash;
    use serde_json::{json, Value};

    use super::*;

    /// A canonical entry at `seq`, with `extra` members, and its true index row. All
    /// are in one trace, without a subject.
    fn entry(seq: u64, extra: Value) -> IndexedEntry {
        let mut record = json!({
            "seq": seq, "event_id": format!("e{seq}"), "trace_id": "t", "event_type": "step",
            "trace_prev": seq.checked_sub(1), "subject_prev": null,
            "actor": {"type": "agent", "id": "a"}, "timestamp": "2026-11-23T10:00:00Z",
        });
        if let (Value::Object(record), Value::Object(extra)) = (&mut record, extra) {
            record.extend(extra);
        }
        let Value::Object(map) = &record else {
            unreachable!()
        };
        IndexedEntry {
            seq,
            entry: canonical_bytes(&record),
            index: Some(IndexKeys::from_record(map)),
            unreadable: None,
        }
    }

    /// A blob of `bytes` filed under `seq`, sealed with `key`; and the member that
    /// references it.
    fn blob(key: &SecretKey, key_id: &str, seq: u64, bytes: &[u8]) -> (StoredBlob, Value) {
        let salt = [seq as u8; 32];
        let reference = BlobRef::commit(&salt, bytes);
        let sealed = key.seal(
            &[&salt[..], bytes].concat(),
            &blob_aad(&reference),
            &mut rand::thread_rng(),
        );
        let stored = StoredBlob {
            reference,
            media_type: "application/json".into(),
            size: bytes.len() as u64,
            key_id: key_id.into(),
            sealed,
            seq: Some(seq),
        };
        (
            stored,
            json!({"input": {"$blob": reference.to_ref_string()}}),
        )
    }

    fn chunk(entries: Vec<IndexedEntry>, end: u64, blobs: Vec<StoredBlob>) -> Chunk {
        let keys = [
            ("k".to_owned(), Ok(Some(SecretKey::from_bytes([7; 32])))),
            ("erased".to_owned(), Ok(None)),
            (
                "lost".to_owned(),
                Err(StoreError::Corrupt("data key lost is missing".into())),
            ),
        ];
        Chunk {
            start: 0,
            end,
            entries,
            blobs,
            purged: Vec::new(),
            keys: keys.into_iter().collect(),
        }
    }

    fn failure(checked: &Checked) -> String {
        checked
            .first_failure
            .as_ref()
            .map(|found| found.failure.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_sound_chunk_gives_its_leaves_and_counts_its_blobs() {
        let key = SecretKey::from_bytes([7; 32]);
        let (readable, member) = blob(&key, "k", 2, b"{\"a\":1}");
        let (mut erased, erased_member) = blob(&key, "k", 7, b"[]");
        erased.key_id = "erased".into();
        let entries: Vec<_> = (0..10)
            .map(|seq| match seq {
                2 => entry(seq, member.clone()),
                7 => entry(seq, erased_member.clone()),
                _ => entry(seq, json!({})),
            })
            .collect();
        let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(&e.entry)).collect();
        for per_task in [1, 2, 3, 16] {
            let checked = chunk(entries.clone(), 10, vec![readable.clone(), erased.clone()])
                .check(per_task, &mut BackLinks::new());
            assert!(checked.first_failure.is_none(), "{}", failure(&checked));
            assert_eq!(checked.leaves, leaves);
            assert_eq!((checked.blobs, checked.erased_blobs), (1, 1));
        }
    }

    #[test]
    fn the_lowest_bad_seq_is_reported_whichever_worker_finds_it() {
        let mut entries: Vec<_> = (0..10).map(|seq| entry(seq, json!({}))).collect();
        entries[8].entry = b"{\"seq\": 8}".to_vec();
        entries[3].index.as_mut().unwrap().agent = "b".into();
        for per_task in [1, 2, 3, 4, 10] {
            let checked = chunk(entries.clone(), 10, vec![]).check(per_task, &mut BackLinks::new());
            assert_eq!(
                failure(&checked),
                "seq 3: the derived index columns disagree with the entry"
            );
            // Leaves stop at the first bad entry: the tree is checked up to it.
            assert_eq!(checked.leaves.len(), 3);
        }
    }

    #[test]
    fn every_entry_check_names_its_reason() {
        type Edit = fn(&mut Vec<IndexedEntry>, &mut u64);
        let cases: &[(Edit, &str)] = &[
            (
                |e, _| e[4].seq = 5,
                "seq 4: missing: the next stored entry has seq 5",
            ),
            (
                |e, _| e[4].entry.insert(1, b' '),
                "seq 4: not an RFC 8785 canonical I-JSON object (at byte 1:",
            ),
            (
                |e, _| e[4].entry = b"[4]".to_vec(),
                "seq 4: not an RFC 8785 canonical I-JSON object (at byte 0: not a JSON object)",
            ),
            (
                |e, _| *e = e.iter().map(|x| entry(x.seq, json!({"seq": 9}))).collect(),
                "seq 0: its `seq` field names another position",
            ),
            (|e, _| e[4].index = None, "seq 4: no index row"),
            (
                |e, _| e[4].index.as_mut().unwrap().timestamp_micros += 1,
                "seq 4: the derived index columns disagree with the entry",
            ),
            (
                |_, end| *end += 2,
                "seq 6: missing: the tree head covers it but no entry is stored",
            ),
            (
                |e, _| e[4] = entry(4, json!({"trace_prev": 2})),
                "seq 4: its `trace_prev` names seq 2 but the previous entry with its trace_id is not that: it is seq 3",
            ),
            (
                |e, _| e[0] = entry(0, json!({"trace_prev": 0})),
                "seq 0: its `trace_prev` is neither null nor an earlier seq",
            ),
            (
                |e, _| e[3] = entry(3, json!({"subject_prev": 1})),
                "seq 3: its `subject_prev` names an entry but it has no subject",
            ),
            (
                |e, _| {
                    e[2] = entry(2, json!({"context": {"subject": "subj_a"}}));
                    e[5] = entry(5, json!({"context": {"subject": "subj_a"}}));
                },
                "seq 5: its `subject_prev` names null but the previous entry with its subject is not that: it is seq 2",
            ),
        ];
        for (edit, expected) in cases {
            let mut entries: Vec<_> = (0..6).map(|seq| entry(seq, json!({}))).collect();
            let mut end = 6;
            edit(&mut entries, &mut end);
            let checked = chunk(entries, end, vec![]).check(2, &mut BackLinks::new());
            assert!(
                failure(&checked).starts_with(expected),
                "{}",
                failure(&checked)
            );
        }
    }

    #[test]
    fn blob_failures_name_the_seq_they_are_filed_under() {
        let key = SecretKey::from_bytes([7; 32]);
        let other_key = SecretKey::from_bytes([8; 32]);
        let (good, member) = blob(&key, "k", 2, b"1");
        let (stray, _) = blob(&key, "k", 3, b"2");
        let (mut wrong_commitment, wrong_member) = blob(&key, "k", 4, b"3");
        wrong_commitment.sealed = key.seal(
            &[&[4u8; 32][..], b"4"].concat(),
            &blob_aad(&wrong_commitment.reference),
            &mut rand::thread_rng(),
        );
        let (undecryptable, undecryptable_member) = blob(&other_key, "k", 4, b"5");
        let (mut lost_key, lost_member) = blob(&key, "k", 4, b"6");
        lost_key.key_id = "lost".into();
        let entries = |fourth: &Value| -> Vec<IndexedEntry> {
            (0..6)
                .map(|seq| match seq {
                    2 => entry(seq, member.clone()),
                    4 => entry(seq, fourth.clone()),
                    _ => entry(seq, json!({})),
                })
                .collect()
        };
        let mut moved = good.clone();
        moved.seq = Some(3);
        let cases = [
            (
                stray.clone(),
                &json!({}),
                "seq 3: blob sha256:",
                "is not referenced by the entry it is filed under",
            ),
            // Referenced by entry 2 only.
            (
                moved,
                &json!({}),
                "seq 3: blob sha256:",
                "is not referenced by the entry it is filed under",
            ),
            (
                wrong_commitment,
                &wrong_member,
                "seq 4: blob sha256:",
                "does not open its commitment",
            ),
            (
                undecryptable,
                &undecryptable_member,
                "seq 4: blob sha256:",
                "does not decrypt",
            ),
            (
                lost_key,
                &lost_member,
                "seq 4: blob sha256:",
                "data key lost is missing",
            ),
        ];
        for (bad, fourth, start, end) in cases {
            let checked =
                chunk(entries(fourth), 6, vec![good.clone(), bad]).check(2, &mut BackLinks::new());
            let message = failure(&checked);
            assert!(
                message.starts_with(start) && message.ends_with(end),
                "{message}"
            );
        }
        // In seq order, an entry before a blob filed under it or later, a blob before
        // a later entry.
        for (bad_entry, expected) in [
            (1, "seq 1: no index row"),
            (3, "seq 3: no index row"),
            (4, "seq 3: blob sha256:"),
        ] {
            let mut with_bad_entry = entries(&json!({}));
            with_bad_entry[bad_entry].index = None;
            let checked = chunk(with_bad_entry, 6, vec![good.clone(), stray.clone()])
                .check(2, &mut BackLinks::new());
            assert!(
                failure(&checked).starts_with(expected),
                "{}",
                failure(&checked)
            );
        }
    }

    /// A log of `n` events appended in batches of 6, with a checkpoint after each.
    async fn log(dir: &std::path::Path, n: usize) -> Arc<crate::state::App> {
        use crate::datadir::{self, SecretPaths};
        let store = evident_store::sqlite::SqliteStore::open(dir, &Default::default()).unwrap();
        let paths = SecretPaths::new(dir, None);
        datadir::initialize(&store, &paths, Some("verify.example/log"))
            .await
            .unwrap();
        let secrets = datadir::load(&store, &paths).await.unwrap();
        let app = crate::state::App::start(Arc::new(store), secrets, Default::default());
        let admin = crate::auth::Principal {
            name: "test".into(),
            role: crate::auth::Role::Admin,
            agents: evident_store::AgentBinding::Any,
        };
        for batch in (0..n).collect::<Vec<_>>().chunks(6) {
            let events = batch
                .iter()
                .map(|i| {
                    json!({"trace_id": format!("t{}", i % 4), "timestamp": "2026-11-23T10:00:00Z",
                           "actor": {"type": "agent", "id": "a"}, "event_type": "step",
                           "context": {"subject": format!("s{}", i % 3)},
                           "input": {"i": i}, "output": "done"})
                })
                .collect();
            crate::ingest::ingest(&app, &admin, events).await.unwrap();
            crate::checkpointer::sign_if_grown(&app).await.unwrap();
        }
        app
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn chunks_of_any_length_verify_the_same_log() {
        let dir = tempfile::tempdir().unwrap();
        let app = log(dir.path(), 40).await;
        let key = &app.identity.verifier_key;
        let whole = verify_store(&*app.store, &app.vault, key, &[], Depth::Full, &|_, _| {})
            .await
            .unwrap();
        assert_eq!((whole.tree_size, whole.blobs), (40, 80));
        assert!(whole.checkpoints >= 7, "{whole:?}");
        assert!(
            matches!(&whole.integrity, Some(IntegrityCheck::Ran { problems, .. }) if problems.is_empty()),
            "{whole:?}"
        );
        let mut standard = verify_store(&*app.store, &app.vault, key, &[], Depth::Log, &|_, _| {})
            .await
            .unwrap();
        assert_eq!(standard.integrity, None);
        standard.integrity.clone_from(&whole.integrity);
        assert_eq!(standard, whole);
        let keys = VerifierKeys::one(key.as_str());
        for chunk_len in [1, 5, 6, 13, 40, 41] {
            let done = std::sync::Mutex::new(Vec::new());
            let progress = |n: u64, _: u64| done.lock().unwrap().push(n);
            let mut report = verify_log(&*app.store, &app.vault, &keys, &[], &progress, chunk_len)
                .await
                .unwrap();
            report.integrity.clone_from(&whole.integrity);
            assert_eq!(report, whole, "chunks of {chunk_len}");
            assert_eq!(done.lock().unwrap().last(), Some(&40));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tree_failures_come_in_seq_order_with_the_chunk_failures() {
        let dir = tempfile::tempdir().unwrap();
        let app = log(dir.path(), 30).await;
        let head = app.store.tree_head().await.unwrap();
        let leaves: Vec<_> = app
            .store
            .read_entries(0, 30)
            .await
            .unwrap()
            .iter()
            .map(|e| leaf_hash(&e.entry))
            .collect();
        let found_at = |seq: u64| Some(Found::entry(seq, Rank::Entry, "bad entry"));
        // What the pass reports for a chunk of `leaves` whose own first failure is
        // `first`, with roots `expected` (and the head's).
        let report = |leaves: Vec<Hash>, expected: Vec<(u64, Hash)>, first: Option<Found>| {
            let store = app.store.clone();
            async move {
                let mut tree = TreeCheck::new();
                for (size, root) in expected {
                    tree.expect(size, root, RootSource::StoredCheckpoint)
                        .unwrap();
                }
                tree.expect(head.size, head.root, RootSource::TreeHead)
                    .unwrap();
                let tree_failure = check_tree(&*store, &mut tree, &leaves).await.unwrap();
                Found::first(first, tree_failure).map(|found| found.failure.to_string())
            }
        };
        // The stored tiles match: nothing to report.
        assert_eq!(report(leaves.clone(), vec![], None).await, None);
        // A wrong root at size 12 is reported before an entry failure at seq 20 (the
        // tree up to 12 is wrong), not before one at seq 5.
        let wrong = vec![(12, Hash([1; 32]))];
        let reported = report(leaves.clone(), wrong.clone(), found_at(20)).await;
        assert!(reported
            .unwrap()
            .starts_with("checkpoint of size 12: the stored checkpoint signs a root"));
        assert_eq!(
            report(leaves[..5].to_vec(), wrong, found_at(5)).await,
            Some("seq 5: bad entry".into())
        );
        // A leaf that differs from the stored tile names its seq.
        let mut altered = leaves.clone();
        altered[9] = Hash([0; 32]);
        assert!(report(altered.clone(), vec![], None)
            .await
            .unwrap()
            .starts_with(
                "seq 9: its entry bytes no longer match its leaf hash in stored hash tile 0/0"
            ));
        assert_eq!(
            report(altered, vec![], found_at(3)).await,
            Some("seq 3: bad entry".into())
        );
        // The head's root must come out at the head's size.
        let mut tree = TreeCheck::new();
        tree.expect(30, Hash([2; 32]), RootSource::TreeHead)
            .unwrap();
        let found = check_tree(&*app.store, &mut tree, &leaves).await.unwrap();
        assert_eq!(
            found.unwrap().failure.to_string(),
            "tree: the tree head's root at size 30 is not the root of the entries"
        );
    }
}
