//! Checkpoints (C2SP tlog-checkpoint): the note text naming a tree head.
//!
//! ```text
//! <origin>
//! <tree size, decimal, no leading zeros>
//! <root hash, standard base64>
//! [extension lines]
//! ```
//!
//! Parsing uses `tlog_tiles::Checkpoint`; extension lines are accepted and
//! ignored (the spec calls them opaque), and this crate never writes any.

use crate::hash::Hash;
use crate::TlogError;

/// A tree head: the log's origin line, tree size and RFC 9162 root hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// The origin line identifying the log; equals the signing key's name.
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The root hash of the tree of `size` leaves.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: `"<origin>\n<size>\n<base64 root>\n"`.
    pub fn to_body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, self.root)
    }

    /// Parses a checkpoint note text (the part of a signed note before the
    /// signatures), ignoring extension lines.
    ///
    /// This does not check any signature: use [`crate::open_checkpoint`] for text
    /// that comes from outside.
    ///
    /// # Errors
    ///
    /// [`TlogError::MalformedCheckpoint`] for an empty origin, a size that is not
    /// canonical decimal, a root that is not base64 of 32 bytes, an empty extension
    /// line, or text not ending in a newline.
    pub fn parse(body: &[u8]) -> Result<Self, TlogError> {
        let parsed = tlog_tiles::Checkpoint::from_bytes(body)
            .map_err(|_| TlogError::MalformedCheckpoint("not origin, size and root lines"))?;
        Ok(Self {
            origin: parsed.origin().to_owned(),
            size: parsed.size(),
            root: Hash::from(*parsed.hash()),
        })
    }
}
