//! # evident-tlog
//!
//! The transparency-log core of Evident: Merkle tree hashing and proofs, tiles,
//! entry bundles, checkpoints, signed notes and tlog-proofs. Pure: no I/O, no
//! clock, no async; storage reaches it only as tile data ([`TileSource`]).
//!
//! ## Specifications implemented
//!
//! - **RFC 9162 §2.1 / RFC 6962 §2.1** — leaf and node hashing ([`leaf_hash`],
//!   [`node_hash`]), audit paths ([`prove_inclusion`], [`verify_inclusion`]) and
//!   consistency proofs ([`prove_consistency`], [`verify_consistency`]).
//! - **C2SP tlog-tiles** — tiles of height 8 ([`TileId`], [`tile_width`],
//!   [`right_edge_tiles`]), appending to a tiled tree ([`integrate`]), tile and entry
//!   paths ([`tile_path`], [`entries_path`], [`parse_tile_path`]), entry bundles
//!   ([`encode_entry_bundle`], [`decode_entry_bundle`]).
//! - **C2SP tlog-checkpoint** — [`Checkpoint`].
//! - **C2SP signed-note** with Ed25519 — [`LogSigner`], [`open_note`],
//!   [`open_checkpoint`].
//! - **C2SP tlog-proof** (`c2sp.org/tlog-proof@v1`) — [`encode_tlog_proof`],
//!   [`parse_tlog_proof`], [`verify_tlog_proof`].
//!
//! Built on Cloudflare's `tlog_tiles` (proof construction and verification over
//! stored hash indexes, checkpoint parsing) and `signed_note` (note format, Ed25519
//! keys). Hand-written here: tile-level storage (integration and reading proofs out
//! of tiles), C2SP tile paths (tlog_tiles implements the Go sumdb `tile/H/L/N`
//! form), entry bundles and tlog-proof. `tlog_tiles::TileHashReader` is not used: it
//! can return a hash from a full tile it has not authenticated; here nothing is
//! trusted from tiles, and callers verify every proof against a signed root.
//!
//! - **C2SP tlog-cosignature** (Ed25519, `cosignature/v1`) and the checks of **C2SP
//!   tlog-witness** `add-checkpoint`, with witness policies and their quorum —
//!   [`witness`] ([`witness::verify_quorum`]).
//!
//! ## Out of scope
//!
//! Storage, sequencing, deduplication, HTTP, and the witness's and the log's
//! witnessing I/O live in other crates. Entry contents are opaque bytes.
//!
//! ## Example
//!
//! ```
//! use evident_tlog::*;
//!
//! // Append three entries to an empty log.
//! let leaves: Vec<Hash> = [b"a", b"b", b"c"].iter().map(|e| leaf_hash(*e)).collect();
//! let step = integrate(0, &TileMap::new(), &leaves)?;
//! let tiles: TileMap = step.tiles.into_iter().collect();
//!
//! // Prove entry 1 is in the tree and verify the proof against the root.
//! let proof = prove_inclusion(1, step.tree_size, &tiles)?;
//! verify_inclusion(1, step.tree_size, leaves[1], step.root, &proof)?;
//!
//! // Sign the tree head, and open it with the verifier key.
//! let (private_key, verifier_key) = LogSigner::generate("example.com/log")?;
//! let signer = LogSigner::new(&private_key)?;
//! let checkpoint = Checkpoint { origin: "example.com/log".into(), size: step.tree_size, root: step.root };
//! let note = signer.sign_checkpoint(&checkpoint)?;
//! assert_eq!(open_checkpoint(note.as_bytes(), &verifier_key)?, checkpoint);
//!
//! // Package all of it as a C2SP tlog-proof that anyone can check offline.
//! let text = encode_tlog_proof(1, &proof, &note, None);
//! assert_eq!(verify_tlog_proof(text.as_bytes(), b"b", &verifier_key)?, checkpoint);
//! # Ok::<(), TlogError>(())
//! ```

mod bundle;
mod checkpoint;
mod error;
mod hash;
mod integrate;
mod note;
mod path;
mod proof;
mod tiles;
mod tlog_proof;
pub mod witness;

pub use bundle::{decode_entry_bundle, encode_entry_bundle, MAX_ENTRY_SIZE};
pub use checkpoint::Checkpoint;
pub use error::TlogError;
pub use hash::{leaf_hash, node_hash, Hash, EMPTY_ROOT, HASH_SIZE};
pub use integrate::{integrate, Integration};
pub use note::{open_checkpoint, open_note, verifier_key_name, LogSigner};
pub use path::{entries_path, parse_tile_path, tile_path, TilePath, MAX_TILE_LEVEL};
pub use proof::{
    prove_consistency, prove_inclusion, tiles_for_consistency, tiles_for_inclusion, tiles_for_root,
    tree_root, verify_consistency, verify_inclusion,
};
pub use tiles::{
    right_edge_tiles, tile_width, TileId, TileMap, TileSource, FULL_TILE_BYTES, MAX_TREE_SIZE,
    TILE_HEIGHT, TILE_WIDTH,
};
pub use tlog_proof::{
    encode_tlog_proof, parse_tlog_proof, verify_tlog_proof, TlogProof, TLOG_PROOF_HEADER,
};
