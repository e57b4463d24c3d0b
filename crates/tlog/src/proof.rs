//! Merkle proofs over stored tiles: RFC 9162 §2.1.3 (inclusion) and §2.1.4
//! (consistency), the same audit paths and consistency proofs as RFC 6962 §2.1.1
//! and §2.1.2, in the same order.
//!
//! Proof construction delegates to `tlog_tiles` (`prove_record`, `prove_tree`,
//! `tree_hash`), which read "stored hash indexes" through a `HashReader`. Here that
//! reader serves hashes from tiles: a hash at tree level `8·L + r` is the root of
//! `2^r` consecutive hashes of tile level `L`, recomputed by subtree hashing
//! (`tlog_tiles::Tile::hash_at_index`). The indexes those functions read depend only
//! on the sizes, never on hash values, so a recording dry run tells which tiles a
//! proof needs (`tiles_for_*`).
//!
//! Nothing here authenticates tiles: a proof built from corrupt tiles is simply
//! wrong. Callers verify what they serve against a signed root
//! ([`verify_inclusion`], [`verify_consistency`]).

use std::cell::RefCell;
use std::collections::BTreeSet;

use tlog_tiles::{HashReader, Tile};

use crate::hash::{Hash, EMPTY_ROOT, HASH_SIZE};
use crate::tiles::{TileId, TileSource, MAX_TREE_SIZE, TILE_HEIGHT};
use crate::TlogError;

/// Longest possible inclusion proof: one hash per tree level.
const MAX_INCLUSION_PROOF_LEN: usize = 64;

/// Longest possible consistency proof: at most two hashes per tree level.
const MAX_CONSISTENCY_PROOF_LEN: usize = 128;

/// The tiles [`prove_inclusion`] reads for leaf `seq` in a tree of `tree_size`
/// leaves, sorted. Empty when the arguments are invalid.
pub fn tiles_for_inclusion(seq: u64, tree_size: u64) -> Vec<TileId> {
    if check_inclusion_args(seq, tree_size).is_err() {
        return Vec::new();
    }
    let recorder = TileRecorder::default();
    // The recorder never fails, so neither does the dry run.
    let _ = tlog_tiles::prove_record(tree_size, seq, &recorder);
    recorder.into_tiles()
}

/// The audit path for leaf `seq` in the tree of `tree_size` leaves, leaf's
/// sibling first (RFC 9162 §2.1.3.1).
///
/// # Errors
///
/// - [`TlogError::IndexOutOfRange`] if `seq >= tree_size`;
///   [`TlogError::TreeTooLarge`] beyond [`MAX_TREE_SIZE`].
/// - [`TlogError::MissingTile`] / [`TlogError::ShortTile`] if `tiles` lacks data.
pub fn prove_inclusion<T: TileSource + ?Sized>(
    seq: u64,
    tree_size: u64,
    tiles: &T,
) -> Result<Vec<Hash>, TlogError> {
    check_inclusion_args(seq, tree_size)?;
    let reader = TileHashReader::new(tiles);
    let proof = tlog_tiles::prove_record(tree_size, seq, &reader);
    reader.finish(proof).map(into_hashes)
}

/// Verifies that `proof` proves leaf hash `leaf` is at index `seq` of the tree of
/// `tree_size` leaves with root `root` (RFC 9162 §2.1.3.2).
///
/// # Errors
///
/// - [`TlogError::IndexOutOfRange`] if `seq >= tree_size`.
/// - [`TlogError::InvalidProof`] if the proof does not verify.
pub fn verify_inclusion(
    seq: u64,
    tree_size: u64,
    leaf: Hash,
    root: Hash,
    proof: &[Hash],
) -> Result<(), TlogError> {
    if seq >= tree_size {
        return Err(TlogError::IndexOutOfRange { seq, tree_size });
    }
    // tlog_tiles copies the remaining proof at every level it descends; bounding the
    // length keeps hostile input from costing more than a real proof.
    if proof.len() > MAX_INCLUSION_PROOF_LEN {
        return Err(TlogError::InvalidProof);
    }
    tlog_tiles::check_record(
        &from_hashes(proof),
        tree_size,
        root.into(),
        seq,
        leaf.into(),
    )
    .map_err(|_| TlogError::InvalidProof)
}

/// The tiles [`prove_consistency`] reads for sizes `from` and `to`, sorted. Empty
/// when no tile is needed or the arguments are invalid.
pub fn tiles_for_consistency(from: u64, to: u64) -> Vec<TileId> {
    if check_consistency_args(from, to).is_err() || from == 0 || from == to {
        return Vec::new();
    }
    let recorder = TileRecorder::default();
    let _ = tlog_tiles::prove_tree(to, from, &recorder);
    recorder.into_tiles()
}

/// The consistency proof from the tree of `from` leaves to the tree of `to`
/// leaves (RFC 9162 §2.1.4.1). Empty when `from` is 0 or equals `to`.
///
/// # Errors
///
/// - [`TlogError::TreeSizesOutOfOrder`] if `from > to`;
///   [`TlogError::TreeTooLarge`] beyond [`MAX_TREE_SIZE`].
/// - [`TlogError::MissingTile`] / [`TlogError::ShortTile`] if `tiles` lacks data.
pub fn prove_consistency<T: TileSource + ?Sized>(
    from: u64,
    to: u64,
    tiles: &T,
) -> Result<Vec<Hash>, TlogError> {
    check_consistency_args(from, to)?;
    if from == 0 || from == to {
        return Ok(Vec::new());
    }
    let reader = TileHashReader::new(tiles);
    let proof = tlog_tiles::prove_tree(to, from, &reader);
    reader.finish(proof).map(into_hashes)
}

/// Verifies that `proof` proves the tree of `to` leaves with root `new_root`
/// extends the tree of `from` leaves with root `old_root` (RFC 9162 §2.1.4.2).
///
/// RFC 9162 defines proofs only for `0 < from < to`. The edge cases follow from the
/// definitions: from the empty tree the proof is empty and `old_root` must be
/// [`EMPTY_ROOT`]; between equal sizes the proof is empty and the roots must match.
///
/// # Errors
///
/// - [`TlogError::TreeSizesOutOfOrder`] if `from > to`.
/// - [`TlogError::InvalidProof`] if the proof does not verify.
pub fn verify_consistency(
    from: u64,
    to: u64,
    old_root: Hash,
    new_root: Hash,
    proof: &[Hash],
) -> Result<(), TlogError> {
    if from > to {
        return Err(TlogError::TreeSizesOutOfOrder { from, to });
    }
    if from == 0 {
        let trivial = proof.is_empty() && old_root == EMPTY_ROOT;
        return trivial.then_some(()).ok_or(TlogError::InvalidProof);
    }
    if proof.len() > MAX_CONSISTENCY_PROOF_LEN {
        return Err(TlogError::InvalidProof);
    }
    // check_tree also covers from == to: empty proof and equal roots.
    tlog_tiles::check_tree(
        &from_hashes(proof),
        to,
        new_root.into(),
        from,
        old_root.into(),
    )
    .map_err(|_| TlogError::InvalidProof)
}

/// The tiles [`tree_root`] reads for a tree of `tree_size` leaves, sorted. These
/// are the right-edge partial tiles ([`right_edge_tiles`](crate::right_edge_tiles)):
/// the root folds the perfect subtrees each of them spans.
pub fn tiles_for_root(tree_size: u64) -> Vec<TileId> {
    if tree_size == 0 || tree_size > MAX_TREE_SIZE {
        return Vec::new();
    }
    let recorder = TileRecorder::default();
    let _ = tlog_tiles::tree_hash(tree_size, &recorder);
    recorder.into_tiles()
}

/// The RFC 9162 root of the tree of `tree_size` leaves, from stored tiles.
///
/// # Errors
///
/// - [`TlogError::TreeTooLarge`] beyond [`MAX_TREE_SIZE`].
/// - [`TlogError::MissingTile`] / [`TlogError::ShortTile`] if `tiles` lacks data.
pub fn tree_root<T: TileSource + ?Sized>(tree_size: u64, tiles: &T) -> Result<Hash, TlogError> {
    if tree_size > MAX_TREE_SIZE {
        return Err(TlogError::TreeTooLarge);
    }
    let reader = TileHashReader::new(tiles);
    let root = tlog_tiles::tree_hash(tree_size, &reader);
    reader.finish(root).map(Hash::from)
}

fn check_inclusion_args(seq: u64, tree_size: u64) -> Result<(), TlogError> {
    if tree_size > MAX_TREE_SIZE {
        return Err(TlogError::TreeTooLarge);
    }
    if seq >= tree_size {
        return Err(TlogError::IndexOutOfRange { seq, tree_size });
    }
    Ok(())
}

fn check_consistency_args(from: u64, to: u64) -> Result<(), TlogError> {
    if to > MAX_TREE_SIZE {
        return Err(TlogError::TreeTooLarge);
    }
    if from > to {
        return Err(TlogError::TreeSizesOutOfOrder { from, to });
    }
    Ok(())
}

fn into_hashes(hashes: Vec<tlog_tiles::Hash>) -> Vec<Hash> {
    hashes.into_iter().map(Hash::from).collect()
}

fn from_hashes(hashes: &[Hash]) -> Vec<tlog_tiles::Hash> {
    hashes.iter().copied().map(tlog_tiles::Hash::from).collect()
}

/// The tile holding the stored hash `index`: the least-width tile of height 8 from
/// which `tlog_tiles` can recompute it.
fn tile_for_stored_index(index: u64) -> (Tile, TileId) {
    let tile = Tile::from_index(TILE_HEIGHT, index);
    let id = TileId {
        level: tile.level(),
        index: tile.level_index(),
    };
    (tile, id)
}

/// Serves `tlog_tiles` stored-hash reads from a [`TileSource`], keeping the first
/// failure with its tile so callers see which tile was missing.
struct TileHashReader<'a, T: ?Sized> {
    tiles: &'a T,
    failure: RefCell<Option<TlogError>>,
}

impl<'a, T: TileSource + ?Sized> TileHashReader<'a, T> {
    fn new(tiles: &'a T) -> Self {
        Self {
            tiles,
            failure: RefCell::new(None),
        }
    }

    fn read_one(&self, index: u64) -> Result<tlog_tiles::Hash, TlogError> {
        let (tile, id) = tile_for_stored_index(index);
        let data = self.tiles.tile_data(id).ok_or(TlogError::MissingTile(id))?;
        let need = usize::try_from(tile.width()).unwrap_or(usize::MAX) * HASH_SIZE;
        let short = || TlogError::ShortTile {
            tile: id,
            need,
            have: data.len(),
        };
        if data.len() < need {
            return Err(short());
        }
        tile.hash_at_index(data, index).map_err(|_| short())
    }

    /// Maps a `tlog_tiles` result, preferring the failure this reader recorded.
    fn finish<R>(self, result: Result<R, tlog_tiles::Error>) -> Result<R, TlogError> {
        let failure = self.failure.into_inner();
        match (result, failure) {
            (Ok(value), _) => Ok(value),
            (Err(_), Some(failure)) => Err(failure),
            // Inputs are checked before every call, so tlog_tiles has nothing else
            // to reject; report it as what it would mean.
            (Err(_), None) => Err(TlogError::InvalidProof),
        }
    }
}

impl<T: TileSource + ?Sized> HashReader for TileHashReader<'_, T> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        let mut hashes = Vec::with_capacity(indexes.len());
        for &index in indexes {
            match self.read_one(index) {
                Ok(hash) => hashes.push(hash),
                Err(failure) => {
                    self.failure.replace(Some(failure));
                    return Err(tlog_tiles::Error::InvalidTile);
                }
            }
        }
        Ok(hashes)
    }
}

/// A dry-run reader: records which tiles a computation reads, answers zeros.
#[derive(Default)]
struct TileRecorder {
    tiles: RefCell<BTreeSet<TileId>>,
}

impl TileRecorder {
    fn into_tiles(self) -> Vec<TileId> {
        self.tiles.into_inner().into_iter().collect()
    }
}

impl HashReader for TileRecorder {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        let mut tiles = self.tiles.borrow_mut();
        for &index in indexes {
            tiles.insert(tile_for_stored_index(index).1);
        }
        Ok(vec![tlog_tiles::Hash::default(); indexes.len()])
    }
}
