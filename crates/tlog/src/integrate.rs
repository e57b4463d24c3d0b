//! Appending leaves to a tiled tree: the ingest hot path.
//!
//! Given the partial tiles at the right edge of the current tree
//! ([`right_edge_tiles`](crate::right_edge_tiles)) and a batch of new leaf hashes,
//! [`integrate`] computes every tile the batch changes and the new RFC 9162 root.
//! The work is proportional to the batch: each new leaf is copied once into its
//! level-0 tile, each tile that fills up is hashed once (255 node hashes) into one
//! new hash of the level above, and the root folds at most 8 frontier hashes per
//! level.

use crate::hash::{fold_frontier, frontier_roots, perfect_subtree_root, Hash, HASH_SIZE};
use crate::tiles::{
    nodes_at_tile_level, TileId, TileSource, FULL_TILE_BYTES, MAX_TREE_SIZE, TILE_WIDTH,
};
use crate::TlogError;

/// The outcome of appending a batch of leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Integration {
    /// The new tree size.
    pub tree_size: u64,
    /// The RFC 9162 root of the new tree.
    pub root: Hash,
    /// Every tile whose data changed, with its complete new data, lowest level
    /// first and by index within a level. The data replaces whatever is stored,
    /// including wider data left by an append whose tree head was never committed.
    pub tiles: Vec<(TileId, Vec<u8>)>,
}

/// Appends `new_leaves` (leaf hashes, in order) to the tree of `tree_size` leaves
/// whose right-edge tiles are in `edge`.
///
/// `edge` must hold at least the tiles that
/// [`right_edge_tiles`](crate::right_edge_tiles)`(tree_size)` names, each at least
/// as wide as `tree_size` needs;
/// wider data (written for a later size that was never committed) is truncated to
/// the prefix that `tree_size` covers, so a retried append after a partial failure
/// produces the same result.
///
/// An empty batch returns the current root and no tiles.
///
/// # Errors
///
/// - [`TlogError::TreeTooLarge`] if the new size would exceed [`MAX_TREE_SIZE`].
/// - [`TlogError::MissingTile`] / [`TlogError::ShortTile`] if an edge tile is absent
///   or narrower than `tree_size` requires.
pub fn integrate<T: TileSource + ?Sized>(
    tree_size: u64,
    edge: &T,
    new_leaves: &[Hash],
) -> Result<Integration, TlogError> {
    let added = u64::try_from(new_leaves.len()).map_err(|_| TlogError::TreeTooLarge)?;
    let new_size = tree_size
        .checked_add(added)
        .filter(|size| *size <= MAX_TREE_SIZE)
        .ok_or(TlogError::TreeTooLarge)?;

    let mut changed = Vec::new();
    // Frontier roots of each level's partial tile at the new size, lowest level first.
    let mut frontier_by_level: Vec<Vec<Hash>> = Vec::new();
    // Hashes entering the current level: the new leaves at level 0, then the roots
    // of tiles that this batch filled at the level below.
    let mut incoming: Vec<Hash> = Vec::new();

    for level in 0..=u8::MAX {
        if nodes_at_tile_level(new_size, level) == 0 {
            break;
        }
        let entering: &[Hash] = if level == 0 { new_leaves } else { &incoming };
        let mut filled = Vec::new();
        let mut frontier = Vec::new();
        append_to_level(
            tree_size,
            level,
            edge,
            entering,
            &mut changed,
            &mut filled,
            &mut frontier,
        )?;
        frontier_by_level.push(frontier);
        incoming = filled;
    }

    let frontier: Vec<Hash> = frontier_by_level.into_iter().rev().flatten().collect();
    Ok(Integration {
        tree_size: new_size,
        root: fold_frontier(&frontier),
        tiles: changed,
    })
}

/// Appends `entering` hashes to tile level `level` of the tree of `tree_size`
/// leaves. Pushes changed tiles to `changed`, the roots of tiles that became full
/// to `filled`, and the frontier roots of the level's new partial tile (if any) to
/// `frontier`.
fn append_to_level<T: TileSource + ?Sized>(
    tree_size: u64,
    level: u8,
    edge: &T,
    entering: &[Hash],
    changed: &mut Vec<(TileId, Vec<u8>)>,
    filled: &mut Vec<Hash>,
    frontier: &mut Vec<Hash>,
) -> Result<(), TlogError> {
    let old_nodes = nodes_at_tile_level(tree_size, level);
    let mut tile = TileId {
        level,
        index: old_nodes / u64::from(TILE_WIDTH),
    };
    // Bounded by TILE_WIDTH.
    let old_width = usize::try_from(old_nodes % u64::from(TILE_WIDTH)).unwrap_or(0);
    let prefix = edge_prefix(edge, tile, old_width)?;

    if entering.is_empty() {
        // This level (and every level above) is unchanged: its partial tile still
        // contributes to the root.
        frontier_roots(prefix, frontier);
        return Ok(());
    }

    let mut data = Vec::with_capacity(FULL_TILE_BYTES);
    data.extend_from_slice(prefix);
    for hash in entering {
        data.extend_from_slice(&hash.0);
        if data.len() == FULL_TILE_BYTES {
            filled.push(perfect_subtree_root(&data));
            let full = std::mem::replace(&mut data, Vec::with_capacity(FULL_TILE_BYTES));
            changed.push((tile, full));
            tile.index += 1;
        }
    }
    if !data.is_empty() {
        frontier_roots(&data, frontier);
        changed.push((tile, data));
    }
    Ok(())
}

/// The first `width` hashes of an edge tile, as bytes.
fn edge_prefix<T: TileSource + ?Sized>(
    edge: &T,
    tile: TileId,
    width: usize,
) -> Result<&[u8], TlogError> {
    if width == 0 {
        return Ok(&[]);
    }
    let data = edge.tile_data(tile).ok_or(TlogError::MissingTile(tile))?;
    let need = width * HASH_SIZE;
    data.get(..need).ok_or(TlogError::ShortTile {
        tile,
        need,
        have: data.len(),
    })
}
