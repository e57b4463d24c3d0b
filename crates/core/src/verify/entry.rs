//! One entry (CONTRACT sections 1 and 3): canonical RFC 8785 I-JSON bytes, its `seq`
//! member equal to its position, back-links that are `null` or a `seq`, its leaf hash,
//! and, in a store, the derived index columns equal to what it says.

use evident_tlog::{leaf_hash, Hash};

use super::links::Links;
use super::{Found, Rank};
use crate::blob::BlobRef;
use crate::json::CanonicalObject;
use crate::record::{entry_blob_refs, EntryIndexKeys, IndexKeys};

/// What a store keeps beside an entry for its queries (the "derived indexes").
#[derive(Debug, Clone, Copy)]
pub enum IndexRow<'a> {
    /// Nothing to compare: entries served by a log or carried in a bundle.
    NotKept,
    /// The store keeps index rows, but has none for this entry.
    Missing,
    Row(&'a IndexKeys),
}

/// One entry as a verifier read it.
#[derive(Debug, Clone, Copy)]
pub struct EntryInput<'a> {
    /// The position it was read from (a store's key); a gap shows as a later `seq`.
    pub seq: u64,
    /// Its bytes, or why they could not be read (e.g. a damaged compressed frame).
    pub bytes: Result<&'a [u8], &'a str>,
    pub index: IndexRow<'a>,
}

/// An entry whose bytes passed [`check_entry`].
#[derive(Debug)]
pub struct CheckedEntry<'a> {
    pub object: CanonicalObject<'a>,
    pub keys: EntryIndexKeys<'a>,
    pub leaf: Hash,
    pub links: Links,
}

/// Checks the bytes of the entry at position `seq`: canonical I-JSON object, its `seq`
/// member, its back-link members. The leaf hash is RFC 9162's.
///
/// # Errors
/// Why the bytes are not an entry at `seq`.
pub fn check_entry(seq: u64, bytes: &[u8]) -> Result<CheckedEntry<'_>, String> {
    let object = CanonicalObject::check(bytes)
        .map_err(|e| format!("not an RFC 8785 canonical I-JSON object ({e})"))?;
    if object.get("seq").and_then(|v| v.as_u64()) != Some(seq) {
        return Err("its `seq` field names another position".into());
    }
    let keys = EntryIndexKeys::of(&object);
    let links = Links::of(seq, &object, &keys)?;
    Ok(CheckedEntry {
        leaf: leaf_hash(bytes),
        object,
        keys,
        links,
    })
}

/// What checking consecutive entries found: leaf hashes and back-links up to the first
/// bad entry, and the blobs they reference (with the `seq` of the entry).
#[derive(Debug, Default)]
pub struct EntriesPart {
    pub leaves: Vec<Hash>,
    pub links: Vec<Links>,
    pub blob_refs: Vec<(u64, BlobRef)>,
    pub failure: Option<Found>,
}

/// Checks `entries`, which must be at `first_seq`, `first_seq + 1`, … Independent of
/// every other entry, so a verifier may check disjoint runs on several cores; the
/// back-links and the tree are then checked in order ([`super::BackLinks`],
/// [`super::TreeCheck`]).
pub fn check_entries<'a>(
    first_seq: u64,
    entries: impl ExactSizeIterator<Item = EntryInput<'a>>,
) -> EntriesPart {
    let mut part = EntriesPart {
        leaves: Vec::with_capacity(entries.len()),
        links: Vec::with_capacity(entries.len()),
        blob_refs: Vec::new(),
        failure: None,
    };
    for (seq, input) in (first_seq..).zip(entries) {
        match check_input(seq, input, &mut part.blob_refs) {
            Ok((leaf, links)) => {
                part.leaves.push(leaf);
                part.links.push(links);
            }
            Err(why) => {
                part.failure = Some(Found::entry(seq, Rank::Entry, why));
                break;
            }
        }
    }
    part
}

fn check_input(
    seq: u64,
    input: EntryInput<'_>,
    blob_refs: &mut Vec<(u64, BlobRef)>,
) -> Result<(Hash, Links), String> {
    if input.seq != seq {
        return Err(format!(
            "missing: the next stored entry has seq {}",
            input.seq
        ));
    }
    let bytes = input.bytes.map_err(str::to_owned)?;
    let entry = check_entry(seq, bytes)?;
    match input.index {
        IndexRow::NotKept => {}
        IndexRow::Missing => return Err("no index row".into()),
        IndexRow::Row(row) if entry.keys != *row => {
            return Err("the derived index columns disagree with the entry".into())
        }
        IndexRow::Row(_) => {}
    }
    blob_refs.extend(entry_blob_refs(&entry.object).map(|reference| (seq, reference)));
    Ok((entry.leaf, entry.links))
}
