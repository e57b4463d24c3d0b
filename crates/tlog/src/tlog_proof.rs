//! Transparency log proofs (C2SP tlog-proof, `c2sp.org/tlog-proof@v1`): an
//! offline-verifiable proof that an entry is in a log, as text.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64 opaque data>]
//! index <leaf index, decimal, no leading zeros>
//! <base64 audit path hash, leaf's sibling first; zero or more lines>
//!
//! <signed checkpoint, verbatim>
//! ```

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::checkpoint::Checkpoint;
use crate::hash::{leaf_hash, Hash};
use crate::note::open_checkpoint;
use crate::proof::verify_inclusion;
use crate::TlogError;

/// The first line of every proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// An inclusion path has at most one hash per tree level.
const MAX_PROOF_HASHES: usize = 64;

/// Bounds the work on hostile input; a signed note is at most 1 MB.
const MAX_TLOG_PROOF_LEN: usize = 1_100_000;

/// A parsed, not yet verified, tlog-proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// The entry's leaf index.
    pub index: u64,
    /// Opaque application data; not authenticated by the proof.
    pub extra: Option<Vec<u8>>,
    /// The audit path from the leaf's sibling up.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    /// Verifies this proof for leaf hash `leaf`: the checkpoint must be signed by
    /// `verifier_key` (with origin equal to the key name) and the audit path must
    /// lead from `leaf` at `index` to its root. Returns the checkpoint.
    ///
    /// # Errors
    ///
    /// Those of [`open_checkpoint`] and [`verify_inclusion`].
    pub fn verify_leaf(&self, leaf: Hash, verifier_key: &str) -> Result<Checkpoint, TlogError> {
        let checkpoint = open_checkpoint(self.checkpoint.as_bytes(), verifier_key)?;
        verify_inclusion(
            self.index,
            checkpoint.size,
            leaf,
            checkpoint.root,
            &self.hashes,
        )?;
        Ok(checkpoint)
    }
}

/// Writes a tlog-proof for the entry at `index`, with its audit path `proof` in a
/// tree whose signed checkpoint note is `signed_checkpoint`.
pub fn encode_tlog_proof(
    index: u64,
    proof: &[Hash],
    signed_checkpoint: &str,
    extra: Option<&[u8]>,
) -> String {
    let mut text = String::with_capacity(64 + 45 * proof.len() + signed_checkpoint.len());
    text.push_str(TLOG_PROOF_HEADER);
    text.push('\n');
    if let Some(extra) = extra {
        text.push_str("extra ");
        text.push_str(&BASE64.encode(extra));
        text.push('\n');
    }
    text.push_str(&format!("index {index}\n"));
    for hash in proof {
        text.push_str(&hash.to_base64());
        text.push('\n');
    }
    text.push('\n');
    text.push_str(signed_checkpoint);
    text
}

/// Parses a tlog-proof without verifying it.
///
/// # Errors
///
/// [`TlogError::MalformedTlogProof`] if the text breaks the format: wrong header,
/// bad base64, an index that is not canonical decimal, a hash that is not 32
/// bytes, more than 64 hashes, or no checkpoint after the empty line.
pub fn parse_tlog_proof(text: &[u8]) -> Result<TlogProof, TlogError> {
    if text.len() > MAX_TLOG_PROOF_LEN {
        return Err(TlogError::MalformedTlogProof("too long"));
    }
    let mut rest =
        std::str::from_utf8(text).map_err(|_| TlogError::MalformedTlogProof("not UTF-8"))?;

    if next_line(&mut rest)? != TLOG_PROOF_HEADER {
        return Err(TlogError::MalformedTlogProof(
            "missing c2sp.org/tlog-proof@v1 header",
        ));
    }

    let mut line = next_line(&mut rest)?;
    let mut extra = None;
    if let Some(encoded) = line.strip_prefix("extra ") {
        let decoded = BASE64
            .decode(encoded)
            .map_err(|_| TlogError::MalformedTlogProof("extra data is not base64"))?;
        extra = Some(decoded);
        line = next_line(&mut rest)?;
    }

    let index = line
        .strip_prefix("index ")
        .and_then(parse_canonical_u64)
        .ok_or(TlogError::MalformedTlogProof(
            "missing or malformed index line",
        ))?;

    let mut hashes = Vec::new();
    loop {
        let hash_line = next_line(&mut rest)?;
        if hash_line.is_empty() {
            break;
        }
        if hashes.len() == MAX_PROOF_HASHES {
            return Err(TlogError::MalformedTlogProof("more than 64 proof hashes"));
        }
        let hash = Hash::from_base64(hash_line)
            .map_err(|_| TlogError::MalformedTlogProof("proof hash is not base64 of 32 bytes"))?;
        hashes.push(hash);
    }

    if rest.is_empty() {
        return Err(TlogError::MalformedTlogProof("missing checkpoint"));
    }
    Ok(TlogProof {
        index,
        extra,
        hashes,
        checkpoint: rest.to_owned(),
    })
}

/// Parses and verifies a tlog-proof that `entry` (the entry's bytes, hashed as an
/// RFC 9162 leaf) is in the log whose verifier key is `verifier_key`. Returns the
/// verified checkpoint.
///
/// # Errors
///
/// Those of [`parse_tlog_proof`] and [`TlogProof::verify_leaf`].
pub fn verify_tlog_proof(
    text: &[u8],
    entry: &[u8],
    verifier_key: &str,
) -> Result<Checkpoint, TlogError> {
    parse_tlog_proof(text)?.verify_leaf(leaf_hash(entry), verifier_key)
}

/// Takes one newline-terminated line off the front of `rest`.
fn next_line<'a>(rest: &mut &'a str) -> Result<&'a str, TlogError> {
    let (line, after) = rest
        .split_once('\n')
        .ok_or(TlogError::MalformedTlogProof("truncated"))?;
    *rest = after;
    Ok(line)
}

/// ASCII decimal without sign or leading zeros ("0" itself is fine).
fn parse_canonical_u64(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}
