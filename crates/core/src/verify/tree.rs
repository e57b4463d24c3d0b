//! The tree (CONTRACT section 3, RFC 9162 hashing in C2SP hash tiles): leaves
//! integrated in order must give every hash tile a store or server holds, and every
//! root a checkpoint or tree head names at its size.

use std::collections::BTreeMap;

use evident_tlog::{integrate, right_edge_tiles, Hash, TileId, TileMap, EMPTY_ROOT, HASH_SIZE};

use super::{Failure, Found, Rank};

/// Who claims a root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootSource {
    /// A signed checkpoint the store keeps.
    StoredCheckpoint,
    /// A signed checkpoint saved earlier by someone who saw the log (`--against`).
    SavedCheckpoint,
    /// The signed checkpoint a server serves.
    ServedCheckpoint,
    /// The store's tree head.
    TreeHead,
}

impl RootSource {
    fn failure(self, size: u64) -> Failure {
        let what = match self {
            Self::StoredCheckpoint => "stored checkpoint",
            Self::SavedCheckpoint => "saved checkpoint",
            Self::ServedCheckpoint => "server's checkpoint",
            Self::TreeHead => {
                return Failure::Tree(format!(
                    "the tree head's root at size {size} is not the root of the entries"
                ))
            }
        };
        Failure::Checkpoint {
            size,
            why: format!(
                "the {what} signs a root the entries do not produce: the log was rewritten"
            ),
        }
    }
}

/// The tree recomputed so far, and the roots it must produce.
#[derive(Debug, Default)]
pub struct TreeCheck {
    /// The right-edge tiles of the tree of `size` leaves.
    edge: TileMap,
    size: u64,
    expected: BTreeMap<u64, Vec<(Hash, RootSource)>>,
}

/// The tiles one [`TreeCheck::extend`] changed, and a root that did not come out.
#[derive(Debug, Default)]
pub struct Extension {
    /// Every tile the leaves touched, as they leave it (a partial tile's data is a
    /// prefix of what a store may hold for a larger size).
    pub tiles: BTreeMap<TileId, Vec<u8>>,
    pub root_failure: Option<Found>,
}

impl TreeCheck {
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves integrated so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree of `size` leaves must have `root`.
    ///
    /// # Errors
    /// At size 0 the root is known at once: the failure if it is not the empty root.
    pub fn expect(&mut self, size: u64, root: Hash, source: RootSource) -> Result<(), Failure> {
        if size == 0 && root != EMPTY_ROOT {
            return Err(source.failure(0));
        }
        self.expected.entry(size).or_default().push((root, source));
        Ok(())
    }

    /// The smallest size above `size` a root is expected at.
    pub fn expected_beyond(&self, size: u64) -> Option<u64> {
        self.expected
            .range(size + 1..)
            .next()
            .map(|(size, _)| *size)
    }

    /// Integrates the next leaves, stopping at every size a root is expected at; stops
    /// early at the first root that does not come out.
    ///
    /// # Errors
    /// A tree too large to integrate.
    pub fn extend(&mut self, mut leaves: &[Hash]) -> Result<Extension, Failure> {
        let mut extension = Extension::default();
        while !leaves.is_empty() {
            let mut take = leaves.len();
            if let Some(size) = self.expected_beyond(self.size) {
                take = take.min(usize::try_from(size - self.size).unwrap_or(usize::MAX));
            }
            let (piece, rest) = leaves.split_at(take);
            leaves = rest;
            let integration = integrate(self.size, &self.edge, piece)
                .map_err(|e| Failure::Tree(e.to_string()))?;
            self.size = integration.tree_size;
            let keep = right_edge_tiles(self.size);
            for (id, data) in integration.tiles {
                if keep.contains(&id) {
                    self.edge.insert(id, data.clone());
                }
                // Later data of a tile extends earlier.
                extension.tiles.insert(id, data);
            }
            self.edge.retain(|id, _| keep.contains(id));
            let claims = self.expected.get(&self.size).map(Vec::as_slice);
            if let Some((_, source)) = claims
                .unwrap_or_default()
                .iter()
                .find(|(root, _)| *root != integration.root)
            {
                extension.root_failure = Some(Found {
                    at: (self.size - 1, Rank::Root),
                    failure: source.failure(self.size),
                });
                break;
            }
        }
        Ok(extension)
    }
}

/// Compares tiles recomputed by [`TreeCheck::extend`] with the data held for them
/// (`held`; a missing tile holds nothing): held data must start with the recomputed.
///
/// A changed leaf changes every hash above it, so a mismatch is named where it
/// starts: at level 0, the first leaf whose hash differs (its entry bytes, or the
/// stored hash, changed); above, a differing hash is named by the first `seq` it
/// covers only when no differing hash below it explains it.
pub fn compare_tiles(computed: &BTreeMap<TileId, Vec<u8>>, held: &TileMap) -> Option<Found> {
    // (level, first seq, last seq, tile) of every differing hash.
    let mut differing: Vec<(u8, u64, u64, TileId)> = Vec::new();
    for (id, data) in computed {
        let stored = held.get(id).map(Vec::as_slice).unwrap_or_default();
        if stored.starts_with(data) {
            continue;
        }
        let span = 1u64 << (8 * u32::from(id.level));
        for (i, hash) in data.chunks(HASH_SIZE).enumerate() {
            if stored.get(i * HASH_SIZE..(i + 1) * HASH_SIZE) != Some(hash) {
                let first = (id.index * 256 + i as u64) * span;
                differing.push((id.level, first, first + span - 1, *id));
            }
        }
    }
    // Lowest level first: a hash is explained by a differing one below it.
    differing.sort_unstable();
    let mut below: Vec<u64> = Vec::new();
    let mut first: Option<(u64, u8, TileId)> = None;
    let mut level_start = 0;
    for (i, &(level, start, end, id)) in differing.iter().enumerate() {
        if i > 0 && differing[i - 1].0 != level {
            // `below` gets the previous level's seqs, kept sorted.
            below.extend(differing[level_start..i].iter().map(|d| d.1));
            below.sort_unstable();
            level_start = i;
        }
        let explained = level > 0 && {
            let at = below.partition_point(|seq| *seq < start);
            below.get(at).is_some_and(|seq| *seq <= end)
        };
        if !explained && first.is_none_or(|(seq, _, _)| start < seq) {
            first = Some((start, level, id));
        }
    }
    let (seq, level, id) = first?;
    let why = if level == 0 {
        format!(
            "its entry bytes no longer match its leaf hash in stored hash tile {id} (the entry or the tile was changed)"
        )
    } else {
        let span = 1u64 << (8 * u32::from(level));
        format!(
            "stored hash tile {id} does not match the entries: its hash over seqs {seq} to {} differs though the hashes below it match",
            seq + span - 1
        )
    };
    Some(Found::entry(seq, Rank::Tile, why))
}
