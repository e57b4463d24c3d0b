//! The back-links (CONTRACT sections 1 and 8): `trace_prev` / `subject_prev` is the
//! `seq` of the previous entry with the same `trace_id` / subject token, or null when
//! there is none (and `subject_prev` is null for an entry without a subject). They let
//! an evidence bundle prove it left nothing out; a verifier of the whole log checks
//! them all, in one streaming pass.
//!
//! Memory: the pass keeps, per trace and per subject seen, a 16-byte key (the first
//! 128 bits of SHA-256 of the id: no collision to expect, none to craft) and the
//! last `seq`: 24 bytes a slot, ~30–55 bytes an id with the hash table's spare room.
//! The bench's mix at 10M entries (runs of 4–16 events, so ~1M traces; 10,000
//! subjects) needs ~30–60 MB; the worst case, every entry its own trace and subject,
//! ~0.6–1.1 GB at 10M. Ids are hashed on the cores that check the entries; the pass
//! itself is two table lookups an entry (~0.1 µs, against ~25–40 µs an entry for the
//! whole of verify).

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::{Found, Rank};
use crate::json::CanonicalObject;
use crate::record::EntryIndexKeys;

/// A trace id or subject token, by the first 128 bits of its SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdKey([u64; 2]);

impl IdKey {
    pub fn of(id: &str) -> Self {
        let digest = Sha256::digest(id.as_bytes());
        let word = |i: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&digest[i * 8..i * 8 + 8]);
            u64::from_le_bytes(bytes)
        };
        Self([word(0), word(1)])
    }
}

/// What an entry says about its place in its trace and its subject's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Links {
    pub trace: IdKey,
    pub subject: Option<IdKey>,
    pub trace_prev: Option<u64>,
    pub subject_prev: Option<u64>,
}

impl Links {
    /// Reads the back-links of the entry at `seq`: each must be present, and null or
    /// an earlier `seq`.
    ///
    /// # Errors
    /// Why a back-link member is not one.
    pub fn of(
        seq: u64,
        entry: &CanonicalObject<'_>,
        keys: &EntryIndexKeys<'_>,
    ) -> Result<Self, String> {
        let link = |name: &str| -> Result<Option<u64>, String> {
            let value = entry
                .get(name)
                .ok_or_else(|| format!("its `{name}` member is missing"))?;
            if value.as_bytes() == b"null" {
                return Ok(None);
            }
            match value.as_u64() {
                Some(prev) if prev < seq => Ok(Some(prev)),
                _ => Err(format!("its `{name}` is neither null nor an earlier seq")),
            }
        };
        Ok(Self {
            trace: IdKey::of(&keys.trace_id),
            subject: keys.subject.as_deref().map(IdKey::of),
            trace_prev: link("trace_prev")?,
            subject_prev: link("subject_prev")?,
        })
    }
}

/// The last `seq` of every trace and subject seen so far: checks the back-links of a
/// whole log, fed in `seq` order from 0.
#[derive(Debug, Default)]
pub struct BackLinks {
    traces: HashMap<IdKey, u64>,
    subjects: HashMap<IdKey, u64>,
    next: u64,
}

impl BackLinks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the links of the entries `first_seq`, `first_seq + 1`, …, which must
    /// follow those checked before; returns the first wrong one.
    pub fn check(&mut self, first_seq: u64, links: &[Links]) -> Option<Found> {
        debug_assert_eq!(first_seq, self.next, "back-links are checked in seq order");
        for (seq, entry) in (first_seq..).zip(links) {
            let previous = self.traces.insert(entry.trace, seq);
            if previous != entry.trace_prev {
                return Some(wrong_link(
                    seq,
                    "trace_prev",
                    "trace_id",
                    entry.trace_prev,
                    previous,
                ));
            }
            match entry.subject {
                Some(subject) => {
                    let previous = self.subjects.insert(subject, seq);
                    if previous != entry.subject_prev {
                        return Some(wrong_link(
                            seq,
                            "subject_prev",
                            "subject",
                            entry.subject_prev,
                            previous,
                        ));
                    }
                }
                None if entry.subject_prev.is_some() => {
                    return Some(Found::entry(
                        seq,
                        Rank::Link,
                        "its `subject_prev` names an entry but it has no subject",
                    ));
                }
                None => {}
            }
            self.next = seq + 1;
        }
        None
    }

    /// Traces and subjects remembered: what the pass's memory grows with.
    pub fn ids(&self) -> usize {
        self.traces.len() + self.subjects.len()
    }
}

fn wrong_link(
    seq: u64,
    member: &str,
    what: &str,
    claimed: Option<u64>,
    actual: Option<u64>,
) -> Found {
    let name = |prev: Option<u64>| prev.map_or("null".to_owned(), |p| format!("seq {p}"));
    let actual = actual.map_or("there is none".to_owned(), |p| format!("it is seq {p}"));
    Found::entry(
        seq,
        Rank::Link,
        format!(
            "its `{member}` names {} but the previous entry with its {what} is not that: {actual}",
            name(claimed)
        ),
    )
}

/// Where a chain of back-links held in a bundle starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainStart {
    /// The oldest entry held has no previous one: the bundle holds the whole history.
    Beginning,
    /// The oldest entry held links to this earlier `seq`, not in the bundle.
    After(u64),
}

/// For an evidence bundle (CONTRACT section 8): `entries` are `(seq, prev)` of the
/// entries it holds for one trace or subject, `prev` being the matching back-link,
/// in any order. Following the links from the newest must visit every one of them,
/// which proves none in between was left out.
///
/// # Errors
/// The `seq` whose link skips an entry or lands on one not held, or an empty list.
pub fn chain_from(entries: &[(u64, Option<u64>)]) -> Result<ChainStart, String> {
    let mut sorted = entries.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let Some(&(mut seq, mut prev)) = sorted.last() else {
        return Err("no entries".into());
    };
    for &(older, older_prev) in sorted.iter().rev().skip(1) {
        if prev != Some(older) {
            let named = prev.map_or("null".to_owned(), |p| format!("seq {p}"));
            return Err(format!(
                "seq {seq}: its back-link names {named}, not seq {older}, the previous entry held"
            ));
        }
        (seq, prev) = (older, older_prev);
    }
    Ok(prev.map_or(ChainStart::Beginning, ChainStart::After))
}
