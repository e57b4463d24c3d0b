//! The tile model of C2SP tlog-tiles: which tiles exist for a tree size, how wide
//! they are, and where a store's tiles come from.
//!
//! A tile has height 8: it lists up to 256 consecutive hashes of one tree level.
//! Tile `(L, N)` holds the nodes at tree level `8·L` with indexes `256·N ..
//! 256·N + 256`, i.e. `MTH(D[(256·N + i)·256^L : (256·N + i + 1)·256^L])`.
//! Its data is the concatenation of its hashes; a tile is *partial* while it holds
//! fewer than 256, and grows as the tree grows until it is full and never changes
//! again.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use crate::hash::HASH_SIZE;

/// Tree levels per tile (C2SP tlog-tiles fixes the height at 8).
pub const TILE_HEIGHT: u8 = 8;

/// Hashes in a full tile: `2^TILE_HEIGHT`.
pub const TILE_WIDTH: u16 = 256;

/// Bytes in a full tile: 256 hashes of 32 bytes.
pub const FULL_TILE_BYTES: usize = TILE_WIDTH as usize * HASH_SIZE;

/// The largest tree this crate handles: `2^62` leaves.
///
/// Far beyond any real log, and small enough that no index arithmetic inside
/// (the stored-hash index of `tlog_tiles` is about twice the leaf count) can overflow
/// a `u64`.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Identifies a hash tile: its tile level and its index within that level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Tile level `L`: the tile lists nodes at tree level `8·L`.
    pub level: u8,
    /// Tile index `N` within the level.
    pub index: u64,
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.level, self.index)
    }
}

/// The latest data of each stored tile.
pub type TileMap = HashMap<TileId, Vec<u8>>;

/// Where proof and integration functions read tiles from.
///
/// A tile's data may be wider than a given tree size needs (it was written for a
/// later size); readers use only the prefix that size covers.
pub trait TileSource {
    /// The stored data of `tile`, if any.
    fn tile_data(&self, tile: TileId) -> Option<&[u8]>;
}

impl<S: BuildHasher> TileSource for HashMap<TileId, Vec<u8>, S> {
    fn tile_data(&self, tile: TileId) -> Option<&[u8]> {
        self.get(&tile).map(Vec::as_slice)
    }
}

impl TileSource for BTreeMap<TileId, Vec<u8>> {
    fn tile_data(&self, tile: TileId) -> Option<&[u8]> {
        self.get(&tile).map(Vec::as_slice)
    }
}

/// The number of nodes at tile level `level` (tree level `8·level`) in a tree of
/// `tree_size` leaves: the count of complete subtrees of `256^level` leaves.
pub(crate) fn nodes_at_tile_level(tree_size: u64, level: u8) -> u64 {
    tree_size
        .checked_shr(u32::from(level) * u32::from(TILE_HEIGHT))
        .unwrap_or(0)
}

/// How many hashes `tile` holds in a tree of `tree_size` leaves: 256 for a full
/// tile, `1..=255` for the partial tile at the right edge, 0 if the tile does not
/// exist yet at that size.
///
/// C2SP tlog-tiles: "The partial tile at level l for a tree of size s has
/// floor(s / 256**l) mod 256 entries."
pub fn tile_width(tile: TileId, tree_size: u64) -> u16 {
    let nodes = nodes_at_tile_level(tree_size, tile.level);
    let Some(start) = tile.index.checked_mul(u64::from(TILE_WIDTH)) else {
        return 0;
    };
    if nodes <= start {
        return 0;
    }
    // Bounded by TILE_WIDTH, so the narrowing cannot lose anything.
    u16::try_from((nodes - start).min(u64::from(TILE_WIDTH))).unwrap_or(TILE_WIDTH)
}

/// The partial tiles at the right edge of a tree of `tree_size` leaves, lowest
/// level first: exactly the tiles [`crate::integrate`] needs to append to it.
///
/// Full tiles never change and are never needed to append; a level whose node
/// count is a multiple of 256 has no partial tile. Empty for size 0. For example
/// (C2SP tlog-tiles), size 70,000 has partial tiles `0/273` (width 112), `1/1`
/// (width 17) and `2/0` (width 1).
pub fn right_edge_tiles(tree_size: u64) -> Vec<TileId> {
    let mut tiles = Vec::new();
    for level in 0..=u8::MAX {
        let nodes = nodes_at_tile_level(tree_size, level);
        if nodes == 0 {
            break;
        }
        let partial_width = nodes % u64::from(TILE_WIDTH);
        if partial_width > 0 {
            tiles.push(TileId {
                level,
                index: nodes / u64::from(TILE_WIDTH),
            });
        }
    }
    tiles
}
