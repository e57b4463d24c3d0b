//! Payload commitments (CONTRACT section 2, "Payloads are blobs").
//!
//! A payload is stored outside the entry; the entry holds
//! `{"$blob": "sha256:<hex>", "size": N, "media_type": M}` where
//! hex = SHA-256(salt ‖ bytes) and the 32-byte salt is random and kept (encrypted)
//! with the blob. The salt makes the commitment hiding: nobody can confirm a guessed
//! payload from the entry alone, yet a bundle that ships bytes and salt lets a third
//! party check it.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Salt length in bytes.
pub const SALT_LEN: usize = 32;

/// A blob's salted commitment, the key it is stored and fetched under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobRef(pub [u8; 32]);

impl BlobRef {
    /// The commitment to `bytes` under `salt`.
    pub fn commit(salt: &[u8; SALT_LEN], bytes: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(salt);
        hasher.update(bytes);
        Self(hasher.finalize().into())
    }

    /// `sha256:<64 lowercase hex>`.
    pub fn to_ref_string(&self) -> String {
        format!("sha256:{}", hex(&self.0))
    }
}

impl std::fmt::Display for BlobRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_ref_string())
    }
}

/// Parses `sha256:<64 lowercase hex>`; `None` for anything else.
pub fn parse_blob_ref(text: &str) -> Option<BlobRef> {
    let hex_part = text.strip_prefix("sha256:")?;
    if hex_part.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in hex_part.as_bytes().chunks(2).enumerate() {
        let hi = hex_digit(chunk[0])?;
        let lo = hex_digit(chunk[1])?;
        out[i] = hi << 4 | lo;
    }
    Some(BlobRef(out))
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The commitment object an entry holds in place of a payload.
pub fn commitment_value(reference: &BlobRef, size: usize, media_type: &str) -> Value {
    json!({"$blob": reference.to_ref_string(), "size": size, "media_type": media_type})
}

/// A payload taken out of an event, ready to be stored beside its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlob {
    pub reference: BlobRef,
    pub salt: [u8; SALT_LEN],
    pub media_type: String,
    /// The (tokenized) payload bytes.
    pub bytes: Vec<u8>,
}

impl NewBlob {
    /// Checks that `bytes` and `salt` open the commitment `reference`.
    pub fn opens(&self) -> bool {
        BlobRef::commit(&self.salt, &self.bytes) == self.reference
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_roundtrip_and_strictness() {
        let r = BlobRef::commit(&[7; 32], b"{}");
        assert_eq!(parse_blob_ref(&r.to_ref_string()), Some(r));
        assert!(parse_blob_ref("sha256:ABC").is_none());
        assert!(parse_blob_ref(&r.to_ref_string().to_uppercase()).is_none());
        assert!(parse_blob_ref("md5:00").is_none());
    }

    #[test]
    fn salt_hides_the_payload() {
        assert_ne!(
            BlobRef::commit(&[1; 32], b"yes"),
            BlobRef::commit(&[2; 32], b"yes")
        );
    }
}
