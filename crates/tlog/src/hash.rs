//! Merkle tree hashing: RFC 9162 §2.1.1 (identical to RFC 6962 §2.1).
//!
//! `leaf = SHA-256(0x00 ‖ entry)`, `node = SHA-256(0x01 ‖ left ‖ right)`, and the
//! empty tree hashes to `SHA-256("")`.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::TlogError;

/// Size of a SHA-256 hash in bytes.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 Merkle tree hash: a leaf hash, an interior node or a tree root.
///
/// Displays as standard base64, the encoding of checkpoints, proofs and the HTTP API.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; HASH_SIZE]);

/// The root of the empty tree, `SHA-256("")` (RFC 9162 §2.1.1).
pub const EMPTY_ROOT: Hash = Hash(tlog_tiles::EMPTY_HASH.0);

impl Hash {
    /// The hash's bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }

    /// Reads a hash from exactly 32 bytes.
    ///
    /// # Errors
    ///
    /// [`TlogError::MalformedHash`] if `bytes` is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, TlogError> {
        let array: [u8; HASH_SIZE] = bytes.try_into().map_err(|_| TlogError::MalformedHash)?;
        Ok(Self(array))
    }

    /// Standard base64 (RFC 4648 §4), as used in checkpoints and proofs.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Parses canonical standard base64 of exactly 32 bytes.
    ///
    /// # Errors
    ///
    /// [`TlogError::MalformedHash`] on bad base64 or a length other than 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, TlogError> {
        let bytes = BASE64.decode(text).map_err(|_| TlogError::MalformedHash)?;
        Self::from_slice(&bytes)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 64 hex digits (either case).
    ///
    /// # Errors
    ///
    /// [`TlogError::MalformedHash`] unless `text` is exactly 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, TlogError> {
        if text.len() != 2 * HASH_SIZE || !text.is_ascii() {
            return Err(TlogError::MalformedHash);
        }
        let mut out = [0u8; HASH_SIZE];
        for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let digits = std::str::from_utf8(pair).map_err(|_| TlogError::MalformedHash)?;
            *byte = u8::from_str_radix(digits, 16).map_err(|_| TlogError::MalformedHash)?;
        }
        Ok(Self(out))
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl From<tlog_tiles::Hash> for Hash {
    fn from(hash: tlog_tiles::Hash) -> Self {
        Self(hash.0)
    }
}

impl From<Hash> for tlog_tiles::Hash {
    fn from(hash: Hash) -> Self {
        tlog_tiles::Hash(hash.0)
    }
}

/// The leaf hash of an entry: `SHA-256(0x00 ‖ entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    tlog_tiles::record_hash(entry).into()
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: Hash, right: Hash) -> Hash {
    tlog_tiles::node_hash(left.into(), right.into()).into()
}

/// Hashes `2^k` consecutive hashes, given as bytes, into the root of the perfect
/// subtree above them, in place (the scratch buffer is overwritten).
///
/// Callers pass a power-of-two number of whole hashes, at most 256.
pub(crate) fn perfect_subtree_root(hashes: &[u8]) -> Hash {
    let count = hashes.len() / HASH_SIZE;
    let mut scratch = [Hash::default(); 256];
    for (slot, chunk) in scratch.iter_mut().zip(hashes.chunks_exact(HASH_SIZE)) {
        slot.0.copy_from_slice(chunk);
    }
    let mut width = count.min(scratch.len());
    while width > 1 {
        for i in 0..width / 2 {
            scratch[i] = node_hash(scratch[2 * i], scratch[2 * i + 1]);
        }
        width /= 2;
    }
    scratch[0]
}

/// The roots of the perfect subtrees that `width` consecutive hashes decompose into,
/// largest (leftmost) first: the binary digits of `width`, high to low.
pub(crate) fn frontier_roots(hashes: &[u8], out: &mut Vec<Hash>) {
    let width = hashes.len() / HASH_SIZE;
    let mut start = 0;
    for bit in (0..usize::BITS).rev() {
        let size = 1usize << bit;
        if width & size == 0 {
            continue;
        }
        out.push(perfect_subtree_root(
            &hashes[start * HASH_SIZE..(start + size) * HASH_SIZE],
        ));
        start += size;
    }
}

/// Folds frontier roots (largest first) into the tree root, as RFC 9162 §2.1.1's
/// recursion does: `MTH(D[n]) = HASH(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n]))`.
pub(crate) fn fold_frontier(frontier: &[Hash]) -> Hash {
    let mut roots = frontier.iter().rev();
    let Some(&last) = roots.next() else {
        return EMPTY_ROOT;
    };
    roots.fold(last, |right, &left| node_hash(left, right))
}
