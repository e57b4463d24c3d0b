//! The crate's one error type.

use crate::tiles::TileId;

/// Everything that can go wrong in `evident-tlog`.
///
/// Variants name what was wrong with the input; none carries secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogError {
    /// A leaf index at or beyond the tree size.
    #[error("leaf index {seq} is not in a tree of size {tree_size}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        seq: u64,
        /// The tree size it was asked against.
        tree_size: u64,
    },
    /// Two tree sizes in the wrong order for a consistency proof.
    #[error("tree size {from} is larger than tree size {to}")]
    TreeSizesOutOfOrder {
        /// The older tree size.
        from: u64,
        /// The newer tree size.
        to: u64,
    },
    /// A tree larger than this crate supports (see [`crate::MAX_TREE_SIZE`]).
    #[error("tree size exceeds the supported maximum")]
    TreeTooLarge,
    /// A tile needed for the operation is not in the tile source.
    #[error("tile {0} is missing")]
    MissingTile(TileId),
    /// A stored tile holds fewer hashes than the tree size requires.
    #[error("tile {tile} holds {have} bytes, needs at least {need}")]
    ShortTile {
        /// The tile.
        tile: TileId,
        /// Bytes required.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// A Merkle inclusion or consistency proof does not verify.
    #[error("invalid Merkle proof")]
    InvalidProof,
    /// A hash that is not 32 bytes, or not valid base64/hex.
    #[error("malformed hash")]
    MalformedHash,
    /// A tile or entry-bundle path that is not canonical C2SP tlog-tiles.
    #[error("malformed tile path: {0}")]
    MalformedTilePath(&'static str),
    /// An entry longer than [`crate::MAX_ENTRY_SIZE`].
    #[error("entry of {len} bytes exceeds the 65535-byte limit")]
    EntryTooLarge {
        /// The entry's length.
        len: usize,
    },
    /// An entry bundle that cannot be decoded or encoded.
    #[error("malformed entry bundle: {0}")]
    MalformedEntryBundle(&'static str),
    /// A checkpoint body that breaks C2SP tlog-checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// A signed note that breaks C2SP signed-note.
    #[error("malformed signed note")]
    MalformedNote,
    /// A signature by the trusted key that does not verify, or no signature by it at all.
    #[error("the note is not validly signed by the given key")]
    BadSignature,
    /// A signer or verifier key string that cannot be used.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// A checkpoint whose origin line differs from the key name that signed it.
    #[error("checkpoint origin {origin:?} differs from key name {key_name:?}")]
    OriginMismatch {
        /// The checkpoint's origin line.
        origin: String,
        /// The signing key's name.
        key_name: String,
    },
    /// A C2SP tlog-proof text that cannot be parsed.
    #[error("malformed tlog-proof: {0}")]
    MalformedTlogProof(&'static str),
}
